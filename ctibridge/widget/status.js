// The header (phone and bridge status) and the error banner: each problem the agent can meet
// gets one plain sentence and a stable data-error code.

import { h } from "./dom.js";

const BRIDGE_LABELS = Object.freeze({
  stopped: "Bridge off",
  connecting: "Bridge connecting…",
  live: "Bridge live",
  reconnecting: "Bridge reconnecting…",
  token_expired: "Bridge: signed out",
  dn_refused: "Bridge: DN refused",
  bad_hello: "Bridge: refused",
});

/** [code, sentence] for every current problem, most blocking first. */
export function problems(config, phone, bridge) {
  const list = [];
  if (!config.dn) list.push(["not_configured", "The widget has no DN: check its URL or config.js."]);
  else if (!config.token) list.push(["no_token", "No agent token: Genesys call control is off."]);
  if (bridge.status === "token_expired") list.push(["token_expired", "Your session expired (4401). Sign in to Workspace again."]);
  if (bridge.status === "dn_refused") list.push(["dn_refused", `DN ${config.dn} is not allowed for this agent or this page (4403).`]);
  if (bridge.status === "bad_hello") list.push(["bad_hello", "The bridge refused the widget's hello (4400)."]);
  if (bridge.status === "reconnecting" && bridge.detail === "bridge unreachable") {
    list.push(["bridge_unreachable", "Call control unreachable: retrying. Calls stay as they are."]);
  }
  const mic = phone.state.mic;
  if (mic === "denied") list.push(["mic_denied", "Microphone access denied: allow it in the browser to talk."]);
  if (mic === "missing") list.push(["mic_missing", "No microphone found."]);
  if (mic === "failed") list.push(["mic_failed", "The microphone could not be opened."]);
  if (mic === "no_media_api") list.push(["no_media_api", "Audio needs HTTPS: open the widget over https://."]);
  if (phone.state.error === "asterisk_unreachable") {
    list.push(["asterisk_unreachable", "Phone server unreachable: retrying."]);
  }
  if (phone.state.error === "sip_refused") list.push(["sip_refused", `Phone registration of ${config.dn} refused: check the SIP password.`]);
  return list;
}

export function renderStatus({ phonePill, bridgePill, alerts }, config, phone, bridge) {
  const reg = phone.state.registration;
  phonePill.dataset.status = reg;
  phonePill.textContent = !config.sipPassword ? "Phone off"
    : reg === "registered" ? `Phone ${config.dn}`
      : phone.state.transport === "connecting" ? "Phone connecting…" : `Phone ${reg}`;
  bridgePill.dataset.status = bridge.status;
  bridgePill.textContent = BRIDGE_LABELS[bridge.status] ?? bridge.status;
  const current = problems(config, phone, bridge);
  const key = current.map(([code, text]) => `${code}:${text}`).join("|");
  if (alerts.dataset.key === key) return; // unchanged: do not make screen readers repeat it
  alerts.dataset.key = key;
  alerts.replaceChildren(...current.map(([code, text]) => h("p", { class: "alert", "data-error": code }, text)));
}

// The header (phone and bridge status) and the error banner: each problem the agent can meet
// gets one plain sentence and a stable data-error code.

import { h } from "./dom.js";

const BRIDGE_LABELS = Object.freeze({
  stopped: "Bridge off",
  connecting: "Bridge connecting…",
  live: "Bridge live",
  reconnecting: "Bridge reconnecting…",
  no_credential: "Bridge: signed out",
  unauthorized: "Bridge: signed out",
  forbidden: "Bridge: refused",
  bad_hello: "Bridge: refused",
});

/** The bridge's close reasons (docs/widget-protocol.md) in the agent's words. */
const REFUSALS = Object.freeze({
  expired: ["token_expired", "Your sign-in expired (4401). Sign in to Workspace again."],
  session_expired: ["session_expired", "Your Workspace session ended (4401). Sign in to Workspace again."],
  bad_signature: ["credential_refused", "The bridge did not accept your sign-in (4401 bad_signature)."],
  wrong_issuer: ["credential_refused", "The bridge does not trust this sign-in's issuer (4401 wrong_issuer)."],
  wrong_audience: ["credential_refused", "This sign-in is not meant for the bridge (4401 wrong_audience)."],
  invalid: ["credential_refused", "The bridge did not accept your sign-in (4401 invalid)."],
  dn_not_allowed: ["dn_refused", "This DN is not allowed for your agent (4403)."],
  origin_not_allowed: ["origin_refused", "The bridge does not serve widgets on this page's origin (4403)."],
});

function bridgeProblem(bridge) {
  const { status, detail } = bridge;
  if (status === "unauthorized" || status === "forbidden") {
    const code = status === "unauthorized" ? 4401 : 4403;
    return REFUSALS[detail] ?? ["credential_refused", `The bridge refused the widget (${code} ${detail}).`];
  }
  if (status === "bad_hello") return ["bad_hello", "The bridge refused the widget's hello (4400)."];
  if (status === "no_credential") return ["no_credential", `Not signed in: ${detail}`];
  if (status === "reconnecting" && detail === "identity_unavailable") {
    return ["identity_unavailable", "The sign-in service is unreachable: retrying."];
  }
  if (status === "reconnecting" && detail === "bridge unreachable") {
    return ["bridge_unreachable", "Call control unreachable: retrying. Calls stay as they are."];
  }
  return null;
}

/** [code, sentence] for every current problem, most blocking first. */
export function problems(setup, phone, bridge) {
  const list = [];
  if (setup.problem) list.push(setup.problem);
  const refusal = bridgeProblem(bridge);
  if (refusal) list.push(refusal);
  const mic = phone.state.mic;
  if (mic === "denied") list.push(["mic_denied", "Microphone access denied: allow it in the browser to talk."]);
  if (mic === "missing") list.push(["mic_missing", "No microphone found."]);
  if (mic === "failed") list.push(["mic_failed", "The microphone could not be opened."]);
  if (mic === "no_media_api") list.push(["no_media_api", "Audio needs HTTPS: open the widget over https://."]);
  if (phone.state.error === "asterisk_unreachable") {
    list.push(["asterisk_unreachable", "Phone server unreachable: retrying."]);
  }
  if (phone.state.error === "sip_refused") {
    list.push(["sip_refused", `Phone registration of ${phone.credentials?.username} refused by the phone server.`]);
  }
  return list;
}

/** Why the phone is off: it registers only with the SIP credentials the bridge sends. */
function phoneLabel(phone, bridge) {
  if (!phone.credentials) {
    return bridge.status === "live" ? "Phone: no SIP credentials" : "Phone off: waiting for sign-in";
  }
  const reg = phone.state.registration;
  if (reg === "registered") return `Phone ${phone.credentials.username}`;
  return phone.state.transport === "connecting" ? "Phone connecting…" : `Phone ${reg}`;
}

/** `setup`: {problem: [code, sentence] | null} from the wiring (not configured, not signed in). */
export function renderStatus({ phonePill, bridgePill, alerts }, setup, phone, bridge) {
  phonePill.dataset.status = phone.credentials ? phone.state.registration : "off";
  phonePill.textContent = phoneLabel(phone, bridge);
  bridgePill.dataset.status = bridge.status;
  bridgePill.textContent = BRIDGE_LABELS[bridge.status] ?? bridge.status;
  const current = problems(setup, phone, bridge);
  const key = current.map(([code, text]) => `${code}:${text}`).join("|");
  if (alerts.dataset.key === key) return; // unchanged: do not make screen readers repeat it
  alerts.dataset.key = key;
  alerts.replaceChildren(...current.map(([code, text]) => h("p", { class: "alert", "data-error": code }, text)));
}

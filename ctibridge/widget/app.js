// Wiring: configuration -> identity (WWE Service Client API, GWS session or the sign-in field) ->
// bridge client -> SIP credentials -> phone; panel and status draw both.

import { BridgeClient } from "./bridge.js";
import { loadConfig, secretsInUrl } from "./config.js";
import { Panel } from "./panel.js";
import { Phone } from "./phone.js";
import { renderStatus } from "./status.js";
import { agentDn, tokenKind, WWE_COMMANDS, WweClient } from "./wwe.js";

const WWE_EVENTS = ["agent", "interaction", "media", "system"];

const config = loadConfig(location.href);
const byId = (id) => document.getElementById(id);
const wwe = new WweClient(config.wweOrigins);
const setup = { problem: null, agent: null };
const wweInteractions = new Map(); // CallUUID -> WWE interaction id: commands go through Workspace
let signInToken = ""; // standalone only; kept in this page's memory, nowhere else

const leaked = secretsInUrl(location.href);
if (leaked.length) {
  setup.problem = ["secret_in_url", `Ignored ${leaked.join(", ")} in the page address: secrets never go in a URL.`];
}

/** The hello's credential, asked again before every connection so a WWE JWT is always fresh. */
async function credential() {
  if (config.credential === "session") return { kind: "session" }; // the GWS cookie on the upgrade
  if (wwe.embedded) {
    const token = (await wwe.request("auth.getJwtToken")).result;
    if (typeof token !== "string" || !token) throw new Error("Workspace gave no sign-in token");
    return { kind: tokenKind(token), token };
  }
  if (!signInToken) throw new Error("paste your agent token to sign in");
  return { kind: "hmac", token: signInToken };
}

const phone = new Phone(config);
const bridge = new BridgeClient(config, credential);

/** Answer is local when this phone rings for the call: the 200 OK is the real answer. Inside WWE,
 * the commands WWE offers go through WWE (the agent's own GWS session); the rest to the bridge. */
async function act(call, action, params) {
  const session = phone.findByCallUuid(call.call_uuid);
  if (action === "answer" && session?.state === "ringing") {
    const failure = await phone.answer(session.key);
    return failure ? { ok: false, outcome: "failed", detail: failure }
      : { ok: true, outcome: "answered", detail: "on this phone" };
  }
  const interactionId = wweInteractions.get(call.call_uuid);
  if (interactionId && WWE_COMMANDS[action]) {
    const [request, parameters] = WWE_COMMANDS[action](interactionId, params);
    try {
      await wwe.request(request, parameters);
      return { ok: true, outcome: "requested", detail: "through Workspace" };
    } catch (error) {
      return { ok: false, outcome: "failed", detail: error.message };
    }
  }
  return bridge.action(call.id, action, params);
}

const panel = new Panel(byId("calls"), byId("announcer"), { dataKeys: config.dataKeys, act, phone });

let redrawQueued = false;
function redraw() {
  if (redrawQueued) return;
  redrawQueued = true;
  queueMicrotask(() => {
    redrawQueued = false;
    renderStatus({ phonePill: byId("phone-status"), bridgePill: byId("bridge-status"), alerts: byId("alerts") },
      setup, phone, bridge);
    panel.render(bridge.calls, phone.sessions);
  });
}

bridge.addEventListener("calls", redraw);
bridge.addEventListener("status", redraw);
bridge.addEventListener("protocol-error", (event) => console.warn("bridge error", event.detail));
bridge.addEventListener("sip-credentials", (event) => phone.useCredentials(event.detail));
phone.addEventListener("change", redraw);

function rememberInteraction(interaction) {
  if (!interaction?.callUuid) return;
  if (interaction.state === "Released") wweInteractions.delete(interaction.callUuid);
  else wweInteractions.set(interaction.callUuid, interaction.interactionId);
}

/** Inside WWE: the agent and DN from agent.get, WWE's interactions and their events. */
async function joinWorkspace() {
  const agent = await wwe.request("agent.get");
  setup.agent = agent.result ?? null;
  await wwe.subscribe(WWE_EVENTS, (message) => {
    if (message.event === "interaction") rememberInteraction(message.data);
  });
  const { result } = await wwe.request("interaction.getInteractions");
  for (const interaction of Array.isArray(result) ? result : []) rememberInteraction(interaction);
  return agentDn(agent);
}

const SIGN_IN_AGAIN = new Set(["unauthorized", "forbidden", "no_credential"]);

function showSignIn(dn) {
  const form = byId("sign-in");
  form.hidden = false;
  byId("sign-in-dn").value = dn;
  bridge.addEventListener("status", () => {
    if (SIGN_IN_AGAIN.has(bridge.status)) form.hidden = false;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = byId("sign-in-token").value.trim();
    const typedDn = byId("sign-in-dn").value.trim();
    if (!token || !typedDn) return;
    signInToken = token;
    byId("sign-in-token").value = "";
    form.hidden = true;
    if (typedDn !== bridge.dn || bridge.status === "stopped") bridge.start(typedDn);
    else bridge.retry();
  });
}

async function begin() {
  let dn = config.dn;
  if (wwe.embedded) {
    try {
      dn = (await joinWorkspace()) || dn;
    } catch (error) {
      setup.problem = ["wwe_unavailable", `Workspace did not answer: ${error.message}`];
    }
  }
  if (!wwe.embedded && config.credential === "auto") {
    showSignIn(dn);
  } else if (dn) {
    bridge.start(dn);
  } else {
    setup.problem ??= ["not_configured", "No DN: Workspace gave none and the page address has no dn."];
  }
  redraw();
}

byId("dial-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = byId("dial-number");
  if (input.value.trim() && phone.dial(input.value.trim())) input.value = "";
});

// Closing the widget unregisters the DN, so Asterisk stops ringing a phone nobody sees.
addEventListener("pagehide", () => {
  bridge.stop();
  phone.stop();
});

// Debug handle for the browser console and the browser tests (holds no secret: the SIP password
// lives inside the phone's SIP.js user agent and `phone.credentials`, as in any softphone).
window.ctibridge = { config, phone, bridge, panel, wwe, setup };
redraw();
begin();

// Wiring: configuration -> phone (SIP.js) + bridge client -> panel, status and the parent channel.

import { BridgeClient } from "./bridge.js";
import { loadConfig } from "./config.js";
import { ParentChannel } from "./embed.js";
import { Panel } from "./panel.js";
import { Phone } from "./phone.js";
import { renderStatus } from "./status.js";

const config = loadConfig(location.href);
const byId = (id) => document.getElementById(id);
const phone = new Phone(config);
const bridge = new BridgeClient(config);

/** Answer is local when this phone rings for the call: the 200 OK is the real answer. */
async function act(call, action, params) {
  const session = phone.findByCallUuid(call.call_uuid);
  if (action === "answer" && session?.state === "ringing") {
    const failure = await phone.answer(session.key);
    return failure ? { ok: false, outcome: "failed", detail: failure }
      : { ok: true, outcome: "answered", detail: "on this phone" };
  }
  return bridge.action(call.id, action, params);
}

const panel = new Panel(byId("calls"), byId("announcer"), { dataKeys: config.dataKeys, act, phone });
const parent = new ParentChannel(config.parentOrigins, {
  token: (token) => bridge.setToken(token),
  action: (callId, action, params) => {
    const call = bridge.calls.get(callId);
    return call ? act(call, action, params)
      : Promise.resolve({ ok: false, outcome: "rejected", detail: `no call ${callId}` });
  },
});

let redrawQueued = false;
function redraw() {
  if (redrawQueued) return;
  redrawQueued = true;
  queueMicrotask(() => {
    redrawQueued = false;
    renderStatus({ phonePill: byId("phone-status"), bridgePill: byId("bridge-status"), alerts: byId("alerts") },
      config, phone, bridge);
    panel.render(bridge.calls, phone.sessions);
  });
}

bridge.addEventListener("calls", (event) => {
  for (const { op, call } of event.detail.changes) {
    if (op === "removed") parent.forget(call.id);
    else if (op === "created") parent.screenPop(call);
  }
  redraw();
});
bridge.addEventListener("status", redraw);
bridge.addEventListener("protocol-error", (event) => console.warn("bridge error", event.detail));
phone.addEventListener("change", redraw);

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

// Debug handle for the browser console and the browser tests.
window.ctibridge = { config, phone, bridge, panel };
redraw();
if (config.dn && config.token) bridge.start();
if (config.dn && config.sipPassword) phone.start();

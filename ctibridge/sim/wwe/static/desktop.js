// The WWE stand-in: agent login, agent state, the agent's interactions from GWS (REST + CometD)
// with WWE's call buttons, and the configured web content (the ctibridge widget) in iframes that
// talk to this page through the Service Client API. Configured by the same WWE options a real
// deployment gets (`ctibridge wwe-options`), served by the simulator at ./options.

import { BayeuxClient, GwsSession } from "./gws.js";
import { ServiceHost } from "./service-host.js";

const SECTION = "interaction-workspace";
const byId = (id) => document.getElementById(id);
const list = (value) => (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);

/** WWE's call buttons: GWS operation -> label. Shown when the call's capabilities include it. */
const OPERATIONS = [
  ["Answer", "Answer"], ["Hold", "Hold"], ["Retrieve", "Retrieve"], ["SingleStepTransfer", "Transfer"],
  ["InitiateTransfer", "Consult"], ["InitiateConference", "Conference"],
  ["CompleteTransfer", "Complete transfer"], ["CompleteConference", "Complete conference"], ["Hangup", "Hang up"],
];
const NEEDS_DESTINATION = new Set(["SingleStepTransfer", "InitiateTransfer", "InitiateConference"]);

const gws = new GwsSession();
const calls = new Map(); // GWS call id -> call resource
const destinations = new Map(); // call id -> destination typed so far
const agent = { state: "", dn: "" };

/** A GWS call as a Service Client API interaction. */
function interactionOf(call) {
  return {
    interactionId: call.id, media: "voice", type: "InteractionVoice", state: call.state,
    callUuid: call.callUuid, callType: call.callType, ani: call.ani ?? "", dnis: call.dnis ?? "",
    userData: call.userData ?? {}, capabilities: call.capabilities ?? [],
    participants: (call.participants ?? []).map((p) => p.phoneNumber),
  };
}

function loggedIn() {
  if (!gws.user) throw new Error("The agent is not logged in");
  return gws.user;
}

function knownCall(id) {
  loggedIn();
  const call = calls.get(id);
  if (!call) throw new Error(`No interaction ${id}`);
  return call;
}

/** A Service Client API request that is one GWS call operation on parameters[0]. */
function operation(name) {
  return async ([id, target]) => {
    knownCall(id);
    await gws.callOperation(id, name, target?.destination);
    return interactionOf(calls.get(id) ?? { id, state: "Released" });
  };
}

const handlers = {
  "agent.get": async () => {
    const user = loggedIn();
    return { userName: user.userName, firstName: user.firstName, lastName: user.lastName, dn: agent.dn,
      state: agent.state };
  },
  "agent.getState": async () => {
    loggedIn();
    return agent.state;
  },
  "agent.getStateList": async () => ["Ready", "NotReady"],
  "agent.setState": async ([state]) => {
    loggedIn();
    const name = typeof state === "number" ? ["Ready", "NotReady"][state] : state;
    await gws.setAgentState(name);
    return name;
  },
  "interaction.getInteractions": async () => {
    loggedIn();
    return [...calls.values()].map(interactionOf);
  },
  "interaction.getByInteractionId": async ([id]) => interactionOf(knownCall(id)),
  "voice.answer": operation("Answer"),
  "voice.hold": operation("Hold"),
  "voice.resume": operation("Retrieve"),
  "voice.hangUp": operation("Hangup"),
  "interaction.singleStepTransfer": operation("SingleStepTransfer"),
  "interaction.singleStepConference": operation("SingleStepConference"),
  "interaction.consult": operation("InitiateTransfer"),
  "interaction.completeTransfer": operation("CompleteTransfer"),
  "interaction.completeConference": operation("CompleteConference"),
  "voice.dial": async ([destination, userData]) => {
    loggedIn();
    await gws.dial(destination, userData);
    return destination;
  },
  "auth.getJwtToken": async () => {
    loggedIn();
    return gws.jwt();
  },
  "system.getAllowedServices": async () => Object.keys(handlers),
};

const options = await (await fetch("options")).json();
const host = new ServiceHost(list(options[SECTION]?.["service-client-api.accepted-web-content-origins"]), handlers);

function say(text) {
  byId("message").textContent = text;
}

function element(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value);
  }
  el.append(...children);
  return el;
}

async function perform(callId, name) {
  const destination = NEEDS_DESTINATION.has(name) ? destinations.get(callId)?.trim() : undefined;
  if (NEEDS_DESTINATION.has(name) && !destination) {
    say("Enter a destination first");
    return;
  }
  try {
    await gws.callOperation(callId, name, destination);
    say("");
  } catch (error) {
    say(`${name} refused: ${error.message}`);
  }
}

function renderInteraction(call) {
  const facts = [["ANI", call.ani], ["DNIS", call.dnis], ["State", call.state], ["Type", call.callType],
    ...Object.entries(call.userData ?? {}).map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : v])];
  const capable = OPERATIONS.filter(([name]) => call.capabilities?.includes(name));
  const destination = capable.some(([name]) => NEEDS_DESTINATION.has(name))
    ? element("input", { class: "destination", placeholder: "Destination", "aria-label": "Destination",
      oninput: (event) => destinations.set(call.id, event.target.value) }) : "";
  if (destination) destination.value = destinations.get(call.id) ?? "";
  return element("li", { class: "interaction", "data-call-id": call.id, "data-state": call.state,
    "aria-label": `Call ${call.ani || call.dnis}` },
  element("dl", {}, ...facts.filter(([, v]) => v).flatMap(([k, v]) => [element("dt", {}, k), element("dd", {}, String(v))])),
  destination,
  element("div", { class: "ops" }, ...capable.map(([name, label]) =>
    element("button", { type: "button", "data-operation": name, onclick: () => perform(call.id, name) }, label))));
}

function render() {
  byId("agent-state").textContent = agent.state === "NotReady" ? "Not Ready" : agent.state;
  byId("agent-state").dataset.state = agent.state;
  byId("interactions").replaceChildren(...[...calls.values()].map(renderInteraction));
}

function callChanged(call) {
  if (call.state === "Released") {
    calls.delete(call.id);
    destinations.delete(call.id);
  } else {
    calls.set(call.id, call);
  }
  host.publish("interaction", interactionOf(call));
}

function onNotification(channel, data) {
  if (channel === "/v2/me/calls" && data?.call?.id) {
    callChanged(data.call);
  } else if (channel === "/v2/me/devices" && data?.devices?.[0]?.userState) {
    agent.state = data.devices[0].userState.state;
    host.publish("agent", { state: agent.state });
    host.publish("media", { media: "voice", state: agent.state });
  }
  render();
}

/** Calls may have changed while no subscription was up: re-read them (as the bridge does). */
async function reread() {
  const current = await gws.calls();
  for (const id of calls.keys()) {
    if (!current.some((c) => c.id === id)) callChanged({ ...calls.get(id), state: "Released" });
  }
  for (const call of current) callChanged(call);
  render();
}

function mountWebContent() {
  const names = list(options[SECTION]?.["workspace.web-content"]);
  byId("web-content").replaceChildren(...names.map((name, index) => {
    const section = options[name] ?? {};
    const iframe = element("iframe", { src: section.url, title: section.label ?? name, width: "300",
      height: "500", allow: "microphone; autoplay", "data-section": name });
    host.host(iframe, `web-content-${index}`);
    return element("figure", {}, element("figcaption", {}, section.label ?? name), iframe);
  }));
}

byId("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const user = await gws.login(byId("username").value, byId("password").value);
    byId("password").value = "";
    agent.dn = gws.device?.phoneNumber ?? "";
    agent.state = gws.device?.userState?.state ?? "";
    byId("agent-name").textContent = `${user.firstName} ${user.lastName}`;
    byId("agent-dn").textContent = agent.dn;
  } catch (error) {
    say(`Login failed: ${error.message}`);
    return;
  }
  say("");
  byId("login").hidden = true;
  byId("agent").hidden = false;
  render();
  let started = false;
  new BayeuxClient(gws, ["/v2/me/calls", "/v2/me/devices"], {
    onMessage: onNotification,
    onLink: say,
    onSubscribed: async () => {
      await reread();
      if (!started) await gws.startSession(); // WWE's order: CometD up, then the contact-centre session
      started = true;
    },
  }).start();
  mountWebContent();
});

for (const [id, state] of [["ready", "Ready"], ["not-ready", "NotReady"]]) {
  byId(id).addEventListener("click", () => gws.setAgentState(state).catch((e) => say(e.message)));
}

// For the browser console and the tests: what the Service Client API saw, and the calls shown.
window.wwe = { host, calls, agent };

// Client of the WWE Service Client API (the postMessage protocol WWE offers to the web content it
// hosts; format: GenesysPureEngage/workspace-development-kit, wwe-service-client-api/, MIT).
// Every message we post carries userAgent "WWE Client", protocolVersion 2 and, once WWE assigned
// one, our frameId; a request has a referenceId that WWE's answer echoes (an answer with
// errorMessage is a failure). We post only to the configured WWE origins (never "*"), and take
// messages only from our parent window at one of them whose userAgent names WWE.

export const REQUEST_TIMEOUT_MS = 10000; // the kit's client gives up after 10 s as well
const USER_AGENT = "WWE Client";
const PROTOCOL_VERSION = 2;

export class WweError extends Error {}

export class WweClient {
  #pending = new Map(); // referenceId -> {resolve, reject, timer}
  #handlers = new Map(); // event name -> callback
  #nextReference = 1;
  #frameId;

  /** @param origins exact WWE origins; the first one the parent turns out to be is used. */
  constructor(origins, win = window) {
    this.origins = new Set(origins.filter((o) => o !== "*"));
    this.win = win;
    this.embedded = win.parent !== win;
    if (this.embedded) win.addEventListener("message", (event) => this.#onMessage(event));
  }

  /** Send request `name` with `parameters`; resolves with WWE's answer, rejects with WweError. */
  request(name, parameters = []) {
    if (!this.embedded) return Promise.reject(new WweError("not inside Workspace"));
    const referenceId = `ctibridge-${this.#nextReference++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(referenceId);
        reject(new WweError(`Workspace did not answer ${name}`));
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(referenceId, { resolve, reject, timer });
      this.#post({ request: name, parameters, referenceId });
    });
  }

  /** Subscribe to WWE events (agent, interaction, media, system); `callback(message)` per event. */
  subscribe(events, callback) {
    for (const name of events) this.#handlers.set(name, callback);
    const referenceId = `ctibridge-${this.#nextReference++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new WweError("Workspace did not confirm the subscription")),
        REQUEST_TIMEOUT_MS);
      this.#pending.set(referenceId, { resolve, reject, timer });
      this.#post({ event: "subscribe", data: events, referenceId });
    });
  }

  #post(message) {
    const full = { ...message, userAgent: USER_AGENT, protocolVersion: PROTOCOL_VERSION };
    if (this.#frameId !== undefined) full.frameId = this.#frameId;
    // The browser drops the message unless the parent is at that origin: only WWE can read it.
    for (const origin of this.origins) this.win.parent.postMessage(full, origin);
  }

  #onMessage(event) {
    const msg = event.data;
    if (event.source !== this.win.parent || !this.origins.has(event.origin)) return;
    if (typeof msg?.userAgent !== "string" || !msg.userAgent.includes("WWE")) return;
    if (typeof msg.event === "string") {
      this.#handlers.get(msg.event)?.(msg);
    } else if (msg.referenceId !== undefined) {
      const pending = this.#pending.get(msg.referenceId);
      if (!pending) return;
      clearTimeout(pending.timer);
      this.#pending.delete(msg.referenceId);
      if (msg.errorMessage !== undefined) pending.reject(new WweError(String(msg.errorMessage)));
      else pending.resolve(msg);
    } else if (msg.frameId !== undefined) {
      this.#frameId = msg.frameId;
    }
  }
}

/**
 * The credential kind of a token an embedding page gave for `auth.getJwtToken`: a JWT has three
 * dot-separated parts; a bridge-minted agent token (`ctibridge token`) has two. So a page that is
 * not WWE (an operator desk) can hand the widget an agent token through the same API.
 */
export function tokenKind(token) {
  return token.split(".").length === 2 ? "hmac" : "jwt";
}

/** The agent's DN in an agent.get answer (`result.dn`), or "" when WWE did not give one. */
export function agentDn(answer) {
  const dn = answer?.result?.dn;
  return typeof dn === "string" ? dn : "";
}

/** WWE requests behind the panel's buttons; the parameters take the WWE interaction id. */
export const WWE_COMMANDS = Object.freeze({
  hold: (id) => ["voice.hold", [id]],
  retrieve: (id) => ["voice.resume", [id]],
  hangup: (id) => ["voice.hangUp", [id]],
  blind_transfer: (id, params) => ["interaction.singleStepTransfer", [id, { type: "AGENT", destination: params.destination }]],
  consult_transfer: (id, params) => ["interaction.consult", [id, { type: "AGENT", destination: params.destination }]],
  complete_transfer: (id) => ["interaction.completeTransfer", [id]],
});

// The WWE stand-in's GWS client, used as WWE uses GWS: the agent signs in (the simulator plays
// Genesys Authentication), then its HTTP session (JSESSIONID cookie, HttpOnly, so never seen by
// this script) with the CSRF token GWS hands out on GET /api/v2/me, the REST v2 operations, and a minimal Bayeux long-polling client for the CometD
// notifications at /api/v2/notifications.

/** Where the stand-in asks the GWS side for the agent's JWT (answers {token}). */
export const JWT_PATH = "/auth/v3/jwt";

export class GwsError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function failure(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    return new GwsError(response.status, body.statusMessage ?? body.error ?? text);
  } catch {
    return new GwsError(response.status, text || `HTTP ${response.status}`);
  }
}

export class GwsSession {
  constructor() {
    this.csrf = { header: "X-CSRF-TOKEN", token: "" };
    this.user = null;
  }

  /** Sign in (Genesys Authentication: the session cookie, HttpOnly), then GET /api/v2/me for the
   * user, its device (the DN) and the CSRF token. */
  async login(username, password) {
    const signIn = await fetch("/auth/v3/sign-in", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    if (!signIn.ok) throw await failure(signIn);
    const response = await fetch("/api/v2/me?subresources=devices", { credentials: "same-origin" });
    if (!response.ok) throw await failure(response);
    this.csrf = { header: response.headers.get("X-CSRF-HEADER") ?? "X-CSRF-TOKEN",
      token: response.headers.get(response.headers.get("X-CSRF-HEADER") ?? "X-CSRF-TOKEN") ?? "" };
    this.user = (await response.json()).user;
    return this.user;
  }

  get device() {
    return this.user?.devices?.[0];
  }

  async get(path) {
    const response = await fetch(path, { credentials: "same-origin" });
    if (!response.ok) throw await failure(response);
    return response.json();
  }

  async post(path, body, signal) {
    const response = await fetch(path, {
      method: "POST", credentials: "same-origin", signal,
      headers: { "Content-Type": "application/json", [this.csrf.header]: this.csrf.token },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await failure(response);
    return response.json();
  }

  startSession() {
    return this.post("/api/v2/me", { operationName: "StartContactCenterSession", channels: ["voice"] });
  }

  setAgentState(state) {
    return this.post("/api/v2/me/channels/voice", { operationName: state });
  }

  async calls() {
    return (await this.get("/api/v2/me/calls")).calls;
  }

  /** One call operation (`Answer`, `Hold`, `SingleStepTransfer`, ...) as WWE posts it. */
  callOperation(callId, operationName, destination) {
    const body = { operationName };
    if (destination) body.destination = { phoneNumber: destination };
    return this.post(`/api/v2/me/calls/${encodeURIComponent(callId)}`, body);
  }

  dial(destination, userData) {
    return this.post(`/api/v2/me/devices/${encodeURIComponent(this.device.id)}/calls`,
      { operationName: "Dial", destination: { phoneNumber: destination }, userData: userData ?? {} });
  }

  async jwt() {
    return (await this.get(JWT_PATH)).token;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Bayeux long-polling: handshake, subscribe `channels`, then /meta/connect in a loop; every data
 * message goes to `onMessage(channel, data)`. After any (re)subscription `onSubscribed()` runs, so
 * the page re-reads what it may have missed while it was not subscribed.
 */
export class BayeuxClient {
  #clientId = null;
  #abort = new AbortController();
  #attempt = 0;

  constructor(session, channels, { onMessage, onSubscribed, onLink }) {
    Object.assign(this, { session, channels, onMessage, onSubscribed, onLink });
  }

  start() {
    this.#run();
  }

  stop() {
    this.#abort.abort();
  }

  #send(messages) {
    return this.session.post("/api/v2/notifications", messages, this.#abort.signal);
  }

  async #run() {
    while (!this.#abort.signal.aborted) {
      try {
        if (!this.#clientId) await this.#handshake();
        const replies = await this.#send([{ channel: "/meta/connect", clientId: this.#clientId,
          connectionType: "long-polling" }]);
        this.#attempt = 0;
        for (const message of replies) {
          if (message.channel === "/meta/connect") {
            if (!message.successful) this.#clientId = null;
          } else if (!message.channel.startsWith("/meta/")) {
            this.onMessage(message.channel, message.data);
          }
        }
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        this.#clientId = null;
        this.onLink(`notifications lost: ${error.message}`);
        await sleep(Math.min(8000, 250 * 2 ** this.#attempt++));
      }
    }
  }

  async #handshake() {
    const [reply] = await this.#send([{ channel: "/meta/handshake", version: "1.0",
      supportedConnectionTypes: ["long-polling"] }]);
    if (!reply?.successful) throw new Error(reply?.error ?? "handshake refused");
    const clientId = reply.clientId;
    const subscribed = await this.#send(this.channels.map((subscription) =>
      ({ channel: "/meta/subscribe", clientId, subscription })));
    if (!subscribed.every((m) => m.successful)) throw new Error("subscription refused");
    this.#clientId = clientId;
    this.onLink("");
    await this.onSubscribed();
  }
}

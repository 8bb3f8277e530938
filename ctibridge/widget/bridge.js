// Client of the bridge WebSocket (docs/widget-protocol.md). Two parts:
//  * CallBook: the protocol state of one DN (epoch, seq, calls). Pure: messages in, changes out.
//  * BridgeClient: the socket around it: hello, heartbeats, actions, reconnect + resume.

/** Close codes after which reconnecting with the same credential cannot help (the close reason,
 * e.g. `expired` or `dn_not_allowed`, becomes the status detail). */
export const FATAL_CLOSE = Object.freeze({
  4400: "bad_hello",
  4401: "unauthorized",
  4403: "forbidden",
});
/** The bridge could not check the credential (JWKS or GWS unreachable): retried with backoff. */
export const IDENTITY_UNAVAILABLE = 4503;

export class SequenceGap extends Error {}

export class CallBook {
  constructor(dn) {
    this.dn = dn;
    this.epoch = null;
    this.seq = null;
    this.calls = new Map();
  }

  /** The `since` of a hello, or undefined before the first snapshot. */
  since() {
    return this.epoch === null ? undefined : { epoch: this.epoch, seq: this.seq };
  }

  /**
   * Apply one server message. Returns the call changes [{op, call}] it caused.
   * Throws SequenceGap when the stream is not the exact continuation: the caller resumes.
   */
  apply(msg) {
    if (msg.dn !== undefined && msg.dn !== this.dn) throw new SequenceGap(`frame for DN ${msg.dn}`);
    if (msg.type === "snapshot") return this.#snapshot(msg);
    if (msg.type === "resume") {
      if (msg.epoch !== this.epoch || msg.from_seq !== this.seq + 1) {
        throw new SequenceGap(`resume from ${msg.epoch}/${msg.from_seq}, have ${this.epoch}/${this.seq}`);
      }
      return [];
    }
    if (msg.type === "delta") {
      if (this.seq === null || msg.seq !== this.seq + 1) {
        throw new SequenceGap(`delta seq ${msg.seq} after ${this.seq}`);
      }
      this.seq = msg.seq;
      if (msg.op === "removed") this.calls.delete(msg.call.id);
      else this.calls.set(msg.call.id, msg.call);
      return [{ op: msg.op, call: msg.call }];
    }
    return [];
  }

  #snapshot(msg) {
    const changes = [];
    const incoming = new Map(msg.calls.map((call) => [call.id, call]));
    for (const [id, call] of this.calls) {
      if (!incoming.has(id)) changes.push({ op: "removed", call });
    }
    for (const [id, call] of incoming) {
      changes.push({ op: this.calls.has(id) ? "updated" : "created", call });
    }
    this.epoch = msg.epoch;
    this.seq = msg.seq;
    this.calls = incoming;
    return changes;
  }
}

const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 8000;

/** Exponential backoff with +-20 % jitter, so many widgets do not reconnect in lockstep. */
export function backoffDelay(attempt, firstMs = BACKOFF_FIRST_MS, maxMs = BACKOFF_MAX_MS) {
  const base = Math.min(maxMs, firstMs * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * Math.random()));
}

/**
 * Events: "status" (detail {status, detail}), "calls" (detail {changes}), "protocol-error" (detail msg),
 * "sip-credentials" (detail: the bridge's sip_credentials message).
 * status: connecting | live | reconnecting | unauthorized | forbidden | bad_hello | no_credential | stopped.
 *
 * `credential()` is asked for the hello's credential before every connection ({kind, token} or
 * {kind: "session"}), so a WWE JWT is always fresh; it rejects when there is none.
 */
export class BridgeClient extends EventTarget {
  #socket = null;
  #attempt = 0;
  #retryTimer = null;
  #heartbeatTimer = null;
  #lastReceived = 0;
  #pending = new Map();
  #nextActionId = 1;
  #stopped = false;

  constructor(config, credential) {
    super();
    this.config = config;
    this.credential = credential;
    this.book = new CallBook(config.dn);
    this.status = "stopped";
    this.detail = "";
  }

  get dn() {
    return this.book.dn;
  }

  /** Connect for `dn` (from WWE's agent.get, or the configured hint). */
  start(dn = this.book.dn) {
    if (dn !== this.book.dn) this.book = new CallBook(dn);
    this.#stopped = false;
    this.#connect();
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#setStatus("stopped", "");
    this.#socket?.close(1000, "widget closed");
  }

  /** A new credential (sign-in) revives a session the bridge refused or never had. */
  retry() {
    if (["unauthorized", "forbidden", "bad_hello", "no_credential", "stopped"].includes(this.status)) {
      this.#attempt = 0;
      this.#stopped = false;
      this.#connect();
    }
  }

  get calls() {
    return this.book.calls;
  }

  /** Send a protocol action; resolves with its action_result (or a local timeout/failure). */
  action(callId, action, params = {}) {
    if (this.status !== "live") {
      return Promise.resolve({ ok: false, outcome: "failed", detail: "not connected to the bridge" });
    }
    const id = `a${this.#nextActionId++}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({ id, ok: false, outcome: "timeout", detail: "no answer from the bridge" });
      }, this.config.actionTimeoutSeconds * 1000);
      this.#pending.set(id, { resolve, timer });
      this.#send({ type: "action", id, call_id: callId, action, params });
    });
  }

  async #connect() {
    clearTimeout(this.#retryTimer);
    let credential;
    try {
      credential = await this.credential();
    } catch (error) {
      // WWE may be slow or not ready yet: ask again later (a standalone widget starts only once signed in).
      if (this.#stopped) return;
      this.#setStatus("no_credential", String(error?.message ?? error));
      this.#retryTimer = setTimeout(() => this.#connect(), backoffDelay(this.#attempt++));
      return;
    }
    if (this.#stopped) return;
    this.#setStatus(this.book.epoch === null && this.#attempt === 0 ? "connecting" : "reconnecting",
      this.detail);
    const socket = new WebSocket(this.config.bridgeUrl);
    this.#socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.#lastReceived = Date.now();
      const hello = { type: "hello", dn: this.book.dn, credential };
      const since = this.book.since();
      if (since) hello.since = since;
      this.#send(hello);
      this.#startHeartbeat();
    };
    socket.onmessage = (event) => {
      if (socket === this.#socket) this.#receive(event.data); // a dropped socket may still deliver
    };
    socket.onclose = (event) => {
      if (socket !== this.#socket) return; // already dropped by #drop
      this.#socket = null;
      const fatal = FATAL_CLOSE[event.code];
      if (fatal) {
        this.#stopTraffic("session refused by the bridge");
        this.#setStatus(fatal, event.reason || "");
        return;
      }
      if (event.code === IDENTITY_UNAVAILABLE) this.#retry(event.reason || "identity_unavailable");
      else this.#retry(opened ? `connection closed (${event.code})` : "bridge unreachable");
    };
  }

  /** Abandon the socket now (gap, silence) without waiting for a closing handshake. */
  #drop(why, immediately) {
    const socket = this.#socket;
    this.#socket = null;
    socket?.close(4000, why.slice(0, 120)); // a close reason is at most 123 bytes
    if (immediately) this.#attempt = 0;
    this.#retry(why);
  }

  #retry(why) {
    this.#stopTraffic("connection to the bridge lost before the result");
    if (this.#stopped) return;
    this.#setStatus("reconnecting", why);
    this.#retryTimer = setTimeout(() => this.#connect(), backoffDelay(this.#attempt++));
  }

  #stopTraffic(pendingDetail) {
    clearInterval(this.#heartbeatTimer);
    for (const [id, { resolve, timer }] of this.#pending) {
      clearTimeout(timer);
      resolve({ id, ok: false, outcome: "timeout", detail: pendingDetail });
    }
    this.#pending.clear();
  }

  #receive(text) {
    this.#lastReceived = Date.now();
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.type === "action_result") {
      const pending = this.#pending.get(msg.id);
      if (!pending) return;
      clearTimeout(pending.timer);
      this.#pending.delete(msg.id);
      pending.resolve(msg);
      return;
    }
    if (msg.type === "error") {
      this.dispatchEvent(new CustomEvent("protocol-error", { detail: msg }));
      return;
    }
    if (msg.type === "ping" || msg.type === "pong") return;
    if (msg.type === "sip_credentials") {
      if (msg.dn === this.book.dn) this.dispatchEvent(new CustomEvent("sip-credentials", { detail: msg }));
      return;
    }
    let changes;
    try {
      changes = this.book.apply(msg);
    } catch (error) {
      if (!(error instanceof SequenceGap)) throw error;
      // Defence rule of the protocol: reconnect and let the server resume from our last seq.
      this.#drop(`sequence gap: ${error.message}`, true);
      return;
    }
    if (msg.type === "snapshot" || msg.type === "resume") {
      this.#attempt = 0;
      this.#setStatus("live", "");
    }
    if (changes.length) this.dispatchEvent(new CustomEvent("calls", { detail: { changes } }));
  }

  #startHeartbeat() {
    clearInterval(this.#heartbeatTimer);
    const periodMs = this.config.heartbeatSeconds * 1000;
    this.#heartbeatTimer = setInterval(() => {
      if (Date.now() - this.#lastReceived > this.config.silenceSeconds * 1000) {
        this.#drop("bridge silent", false);
        return;
      }
      this.#send({ type: "ping" });
    }, periodMs);
  }

  #send(msg) {
    if (this.#socket?.readyState === 1) this.#socket.send(JSON.stringify(msg));
  }

  #setStatus(status, detail) {
    if (status === this.status && detail === this.detail) return;
    this.status = status;
    this.detail = detail;
    this.dispatchEvent(new CustomEvent("status", { detail: { status, detail } }));
  }
}

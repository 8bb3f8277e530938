// postMessage channel with the embedding page (WWE). Screen pops go only to the allowed parent
// origins (the browser drops a message whose targetOrigin is not the parent's), and commands are
// taken only from window.parent at an allowed origin. "*" is never used in either direction.

export class ParentChannel {
  /**
   * @param allowedOrigins  exact origins, e.g. ["https://wwe.example.com"]
   * @param handlers        {token(token), action(callId, action, params) -> Promise<result>}
   */
  constructor(allowedOrigins, handlers, win = window) {
    this.allowed = new Set(allowedOrigins.filter((o) => o !== "*"));
    this.handlers = handlers;
    this.win = win;
    this.popped = new Set();
    if (win.parent !== win && this.allowed.size) win.addEventListener("message", (e) => this.#onMessage(e));
  }

  /** Screen pop once per call, when the bridge first shows it. */
  screenPop(call) {
    if (this.popped.has(call.id)) return;
    this.popped.add(call.id);
    this.#post({ type: "ctibridge.screenpop", call });
  }

  forget(callId) {
    this.popped.delete(callId);
  }

  #post(message) {
    if (this.win.parent === this.win) return;
    for (const origin of this.allowed) this.win.parent.postMessage(message, origin);
  }

  async #onMessage(event) {
    if (event.source !== this.win.parent || !this.allowed.has(event.origin)) return;
    const msg = event.data;
    if (msg?.type === "ctibridge.token" && typeof msg.token === "string") {
      this.handlers.token(msg.token);
    } else if (msg?.type === "ctibridge.action" && typeof msg.call_id === "string") {
      const result = await this.handlers.action(msg.call_id, msg.action, msg.params ?? {});
      event.source.postMessage({ type: "ctibridge.action_result", ref: msg.ref ?? null, result }, event.origin);
    }
  }
}

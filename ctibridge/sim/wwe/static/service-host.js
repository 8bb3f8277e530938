// WWE's side of the Service Client API (the public postMessage protocol of
// GenesysPureEngage/workspace-development-kit, wwe-service-client-api/): the web content WWE hosts
// in an iframe posts {userAgent "WWE Client", protocolVersion 2, referenceId, request, parameters}
// or {event: "subscribe" | "unsubscribe", data}; WWE answers with the same referenceId (with
// errorMessage on failure) and posts the subscribed events later. A message is taken only from a
// frame this page hosts, at an origin of service-client-api.accepted-web-content-origins; answers
// and events go to that exact origin, never "*".

const USER_AGENT = "WWE"; // the client takes only messages whose userAgent contains "WWE"

export class ServiceHost {
  #frames = new Map(); // contentWindow -> {origin, frameId, subscriptions: Map<id, Set<event>>}
  #nextSubscription = 1;

  /**
   * @param acceptedOrigins service-client-api.accepted-web-content-origins
   * @param handlers        request name -> async (parameters) => result (throw to answer errorMessage)
   */
  constructor(acceptedOrigins, handlers, win = window) {
    this.accepted = new Set(acceptedOrigins);
    this.handlers = handlers;
    this.trace = []; // every message seen: {origin, taken, request | event, referenceId, error}
    win.addEventListener("message", (event) => this.#onMessage(event));
  }

  /** Host `iframe` (web content): WWE gives each frame its frameId once loaded. */
  host(iframe, frameId) {
    const origin = new URL(iframe.src).origin;
    iframe.addEventListener("load", () => {
      const record = { origin, frameId, subscriptions: new Map() };
      this.#frames.set(iframe.contentWindow, record);
      if (this.accepted.has(origin)) iframe.contentWindow.postMessage({ frameId, userAgent: USER_AGENT }, origin);
    });
  }

  /** Post event `name` with `data` to every frame subscribed to it. */
  publish(name, data) {
    for (const [win, frame] of this.#frames) {
      const subscribed = [...frame.subscriptions.values()].some((events) => events.has(name));
      if (subscribed) win.postMessage({ event: name, data, userAgent: USER_AGENT }, frame.origin);
    }
  }

  async #onMessage(event) {
    const frame = this.#frames.get(event.source);
    const msg = event.data;
    const taken = Boolean(frame) && this.accepted.has(event.origin) && event.origin === frame.origin
      && typeof msg?.userAgent === "string" && msg.userAgent.includes("WWE Client");
    const entry = { origin: event.origin, taken, request: msg?.request ?? msg?.event ?? null,
      referenceId: msg?.referenceId ?? null };
    this.trace.push(entry);
    if (!taken) return;
    const reply = (fields) => event.source.postMessage(
      { ...fields, referenceId: msg.referenceId, userAgent: USER_AGENT }, frame.origin);
    if (msg.event === "subscribe") {
      const subscriptionId = `s${this.#nextSubscription++}`;
      frame.subscriptions.set(subscriptionId, new Set([msg.data].flat()));
      if (msg.referenceId !== undefined) reply({ subscriptionId });
      return;
    }
    if (msg.event === "unsubscribe") {
      frame.subscriptions.delete(msg.data);
      return;
    }
    const handler = this.handlers[msg.request];
    if (!handler) {
      reply({ errorMessage: `Unknown request ${msg.request}` });
      return;
    }
    try {
      const result = await handler(Array.isArray(msg.parameters) ? msg.parameters : []);
      reply({ result });
    } catch (error) {
      entry.error = error.message;
      reply({ errorMessage: error.message });
    }
  }
}

// Widget configuration: the defaults below, overridden by URL query parameters
// (`index.html?dn=5001`). Nothing here is a secret, and no secret is ever read from the URL: the
// bridge credential comes from WWE (`auth.getJwtToken`), the GWS session cookie or the sign-in
// field, and the SIP password from the bridge's `sip_credentials` message.

export const DEFAULTS = Object.freeze({
  bridgeUrl: "/ws", // bridge WebSocket; a path is resolved against this page's origin (ws/wss)
  asteriskUrl: "/asterisk-ws", // Asterisk SIP WebSocket when the bridge sends ws_servers null
  sipDomain: "", // SIP URI host of the DN; empty = host of the Asterisk WebSocket
  dn: "", // a hint; inside WWE the DN comes from the Service Client API (agent.get)
  credential: "auto", // auto: WWE JWT when embedded, else the sign-in field | session: GWS cookie
  wweOrigins: [], // origins of the WWE page hosting the widget; empty = this page's own origin
  dataKeys: [], // attached-data keys shown on a call; empty = all
  iceServers: [], // no STUN by default: the gateway's candidates are enough and nothing leaks out
  heartbeatSeconds: 15, // client ping period
  silenceSeconds: 40, // reconnect when nothing at all came from the bridge for this long
  actionTimeoutSeconds: 15, // give up waiting for an action_result
  autoAnswer: false,
});

/** Parameters that must never be in a URL: the page refuses to start when one is there. */
export const SECRET_PARAMETERS = Object.freeze(["token", "sipPassword", "password", "jwt"]);

const LISTS = new Set(["dataKeys", "wweOrigins"]);
const NUMBERS = new Set(["heartbeatSeconds", "silenceSeconds", "actionTimeoutSeconds"]);
const CREDENTIALS = new Set(["auto", "session"]);

function parseValue(key, raw) {
  if (LISTS.has(key)) return raw.split(",").map((s) => s.trim()).filter(Boolean);
  if (NUMBERS.has(key)) {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`config ${key}: not a positive number: ${raw}`);
    return n;
  }
  if (key === "credential" && !CREDENTIALS.has(raw)) throw new Error(`config credential: auto or session, not ${raw}`);
  if (key === "iceServers") return JSON.parse(raw);
  if (key === "autoAnswer") return raw === "1" || raw === "true";
  return raw;
}

/** Turn a path like "/ws" into an absolute ws:// or wss:// URL on the page's origin. */
export function websocketUrl(value, pageUrl) {
  const url = new URL(value, pageUrl);
  if (url.protocol === "http:") url.protocol = "ws:";
  if (url.protocol === "https:") url.protocol = "wss:";
  return url.href;
}

/** The secret parameters present in a URL (they are ignored, and the page says so). */
export function secretsInUrl(pageUrl) {
  const params = new URL(pageUrl).searchParams;
  return SECRET_PARAMETERS.filter((key) => params.has(key));
}

/** DEFAULTS <- overrides <- query parameters; URLs made absolute. Unknown parameters are ignored. */
export function loadConfig(pageUrl, overrides = {}) {
  const config = { ...DEFAULTS, ...overrides };
  const params = new URL(pageUrl).searchParams;
  for (const key of Object.keys(DEFAULTS)) {
    if (params.has(key)) config[key] = parseValue(key, params.get(key));
  }
  config.bridgeUrl = websocketUrl(config.bridgeUrl, pageUrl);
  config.asteriskUrl = websocketUrl(config.asteriskUrl, pageUrl);
  if (!config.wweOrigins.length) config.wweOrigins = [new URL(pageUrl).origin];
  return Object.freeze(config);
}

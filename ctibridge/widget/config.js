// Widget configuration: the defaults below, overridden by URL query parameters
// (`index.html?dn=5001&token=...`). A deployment edits DEFAULTS or passes parameters from the
// embedding page (WWE iframe src); nothing here is a secret until a page puts one in.

export const DEFAULTS = Object.freeze({
  bridgeUrl: "/ws", // bridge WebSocket; a path is resolved against this page's origin (ws/wss)
  asteriskUrl: "/asterisk-ws", // Asterisk SIP-over-WebSocket (nginx proxies it to Asterisk 8089)
  sipDomain: "", // SIP URI host of the DN; empty = host of asteriskUrl
  dn: "",
  sipPassword: "",
  token: "", // agent token minted by `ctibridge token`
  dataKeys: [], // attached-data keys shown on a call; empty = all
  parentOrigins: [], // origins allowed to receive screen pops and send commands
  iceServers: [], // no STUN by default: the gateway's candidates are enough and nothing leaks out
  heartbeatSeconds: 15, // client ping period
  silenceSeconds: 40, // reconnect when nothing at all came from the bridge for this long
  actionTimeoutSeconds: 15, // give up waiting for an action_result
  autoAnswer: false,
});

const LISTS = new Set(["dataKeys", "parentOrigins"]);
const NUMBERS = new Set(["heartbeatSeconds", "silenceSeconds", "actionTimeoutSeconds"]);

function parseValue(key, raw) {
  if (LISTS.has(key)) return raw.split(",").map((s) => s.trim()).filter(Boolean);
  if (NUMBERS.has(key)) {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`config ${key}: not a positive number: ${raw}`);
    return n;
  }
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

/** DEFAULTS <- overrides <- query parameters; URLs made absolute. Unknown parameters are ignored. */
export function loadConfig(pageUrl, overrides = {}) {
  const config = { ...DEFAULTS, ...overrides };
  const params = new URL(pageUrl).searchParams;
  for (const key of Object.keys(DEFAULTS)) {
    if (params.has(key)) config[key] = parseValue(key, params.get(key));
  }
  config.bridgeUrl = websocketUrl(config.bridgeUrl, pageUrl);
  config.asteriskUrl = websocketUrl(config.asteriskUrl, pageUrl);
  config.sipDomain ||= new URL(config.asteriskUrl).hostname;
  return Object.freeze(config);
}

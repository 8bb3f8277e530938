// The agent's WebRTC phone: SIP.js registered as the DN on Asterisk over WS/WSS, with the SIP
// credentials the bridge sends over the authenticated socket (never typed, never in a URL).
// Every session is keyed by the INVITE's X-Genesys-CallUUID (the gateway adds it), which is the
// bridge call's `call_uuid`: that is how the panel's call and the audio session find each other.

import { Inviter, Registerer, RegistererState, SessionState, UserAgent } from "./vendor/sip.js/index.js";
import { backoffDelay } from "./bridge.js";
import { websocketUrl } from "./config.js";

const AUDIO_ONLY = { sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } } };
const STATS_PERIOD_MS = 1000;
const REGISTER_EXPIRES_S = 300;
const REGISTER_TIMEOUT_MS = 5000;

/** Reads the media facts the panel shows (and the tests check) from RTCPeerConnection.getStats. */
export async function mediaStats(pc) {
  const media = { ice: pc.iceConnectionState, dtls: "new", inBytes: 0, outBytes: 0, codec: "", pair: "" };
  const report = await pc.getStats();
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  for (const s of byId.values()) {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      media.inBytes = s.bytesReceived ?? 0;
      media.codec = byId.get(s.codecId)?.mimeType ?? "";
    } else if (s.type === "outbound-rtp" && s.kind === "audio") {
      media.outBytes = s.bytesSent ?? 0;
    } else if (s.type === "transport") {
      media.dtls = s.dtlsState ?? media.dtls;
      const pair = byId.get(s.selectedCandidatePairId);
      const local = byId.get(pair?.localCandidateId);
      const remote = byId.get(pair?.remoteCandidateId);
      if (local && remote) media.pair = `${local.address}:${local.port} <-> ${remote.address}:${remote.port}`;
    }
  }
  return media;
}

const MIC_ERRORS = Object.freeze({
  NotAllowedError: "denied",
  SecurityError: "denied",
  NotFoundError: "missing",
  NotReadableError: "failed",
  OverconstrainedError: "failed",
  AbortError: "failed",
});

/** The microphone state a getUserMedia failure means, or undefined for any other failure. */
function microphoneError(error) {
  return MIC_ERRORS[error?.name];
}

/**
 * Events: "change" (anything the view shows changed).
 * credentials: null until the bridge sent them, then {username, server, domain} (the password stays private)
 * state.transport: disconnected | connecting | connected
 * state.registration: unregistered | registered | refused
 * state.error: null | asterisk_unreachable | sip_refused
 * state.mic: unknown | ok | denied | missing | failed | no_media_api (insecure context: needs HTTPS)
 * sessions: Map key -> {key, callUuid, direction, remote {number, name}, state, muted, media, session}
 *   state: ringing | dialing | established | ended
 */
export class Phone extends EventTarget {
  #ua = null;
  #registerer = null;
  #attempt = 0;
  #retryTimer = null;
  #registerTimer = null;
  #statsTimer = null;
  #stopped = false;
  #password = "";

  constructor(config) {
    super();
    this.config = config;
    globalThis.addEventListener?.("online", () => this.#reconnectNow());
    this.state = { transport: "disconnected", registration: "unregistered", error: null, mic: "unknown" };
    this.sessions = new Map();
    this.credentials = null;
  }

  /**
   * Register with a bridge `sip_credentials` message (`ws_servers` null = the configured Asterisk
   * WebSocket). The same credentials again (every reconnect to the bridge sends them) change
   * nothing; different ones restart the user agent.
   */
  async useCredentials({ username, password, ws_servers: wsServers }) {
    const server = wsServers?.length ? websocketUrl(wsServers[0], location.href) : this.config.asteriskUrl;
    const credentials = { username, server, domain: this.config.sipDomain || new URL(server).hostname };
    const same = this.credentials && password === this.#password
      && Object.keys(credentials).every((k) => credentials[k] === this.credentials[k]);
    if (same) return;
    if (this.#ua) await this.stop();
    this.credentials = credentials;
    this.#password = password;
    await this.#start();
  }

  async #start() {
    this.#stopped = false;
    this.#checkMicrophone();
    const { username, server, domain } = this.credentials;
    const uri = UserAgent.makeURI(`sip:${username}@${domain}`);
    this.#ua = new UserAgent({
      uri,
      transportOptions: { server },
      authorizationUsername: username,
      authorizationPassword: this.#password,
      logBuiltinEnabled: false,
      sessionDescriptionHandlerFactoryOptions: {
        peerConnectionConfiguration: { iceServers: this.config.iceServers },
        iceGatheringTimeout: 2000,
      },
      delegate: {
        onConnect: () => this.#onConnect(),
        onDisconnect: (error) => this.#onDisconnect(error),
        onInvite: (invitation) => this.#onInvite(invitation),
      },
    });
    this.#registerer = this.#newRegisterer();
    this.#statsTimer = setInterval(() => this.#sampleStats(), STATS_PERIOD_MS);
    this.#update({ transport: "connecting" });
    try {
      await this.#ua.start();
    } catch {
      this.#scheduleReconnect();
    }
  }

  async stop() {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#registerTimer);
    clearInterval(this.#statsTimer);
    for (const s of this.sessions.values()) this.#end(s);
    await this.#registerer?.unregister().catch(() => {});
    await this.#ua?.stop();
  }

  findByCallUuid(callUuid) {
    if (!callUuid) return undefined;
    for (const s of this.sessions.values()) if (s.callUuid === callUuid) return s;
    return undefined;
  }

  /** Accept a ringing call; resolves with null, or with why it could not be answered. */
  async answer(key) {
    const s = this.sessions.get(key);
    if (!s || s.state !== "ringing") return "the call no longer rings here";
    try {
      await s.session.accept(AUDIO_ONLY);
      return null;
    } catch (error) {
      const mic = microphoneError(error);
      if (mic) this.#update({ mic });
      return mic ? `microphone ${mic}` : String(error?.message ?? error);
    }
  }

  hangup(key) {
    const s = this.sessions.get(key);
    if (s) this.#end(s);
  }

  setMuted(key, muted) {
    const s = this.sessions.get(key);
    const sdh = s?.session.sessionDescriptionHandler;
    if (!sdh) return;
    sdh.enableSenderTracks(!muted);
    s.muted = muted;
    this.#changed();
  }

  /** In-band DTMF (RFC 4733) on the local leg. */
  sendDtmf(key, digits) {
    return this.sessions.get(key)?.session.sessionDescriptionHandler?.sendDtmf(digits) ?? false;
  }

  dial(number) {
    const target = UserAgent.makeURI(`sip:${number}@${this.credentials?.domain}`);
    if (!target || this.state.registration !== "registered") return false;
    const inviter = new Inviter(this.#ua, target, AUDIO_ONLY);
    this.#track(inviter, { key: inviter.request.callId, callUuid: "", direction: "outbound",
      remote: { number, name: "" }, state: "dialing" });
    inviter.invite().catch((error) => {
      const mic = microphoneError(error);
      if (mic) this.#update({ mic });
      this.#end(this.sessions.get(inviter.request.callId));
    });
    return true;
  }

  // ----------------------------------------------------------------------------- internals

  async #checkMicrophone() {
    if (!navigator.mediaDevices?.getUserMedia) {
      this.#update({ mic: "no_media_api" }); // insecure context: the page must be served over HTTPS
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      stream.getTracks().forEach((t) => t.stop());
      this.#update({ mic: "ok" });
    } catch (error) {
      this.#update({ mic: microphoneError(error) });
    }
  }

  #newRegisterer() {
    const registerer = new Registerer(this.#ua, { expires: REGISTER_EXPIRES_S });
    registerer.stateChange.addListener((s) => {
      const current = registerer === this.#registerer;
      if (current && (s === RegistererState.Unregistered || s === RegistererState.Terminated)) {
        this.#update({ registration: "unregistered" });
      }
    });
    return registerer;
  }

  #onConnect() {
    this.#attempt = 0;
    this.#update({ transport: "connected",
      error: this.state.error === "asterisk_unreachable" ? null : this.state.error });
    const registerer = this.#registerer;
    const settled = () => {
      if (registerer !== this.#registerer) return false; // a late answer to a given-up registerer
      clearTimeout(this.#registerTimer);
      return true;
    };
    clearTimeout(this.#registerTimer);
    this.#registerTimer = setTimeout(() => this.#registerStalled(registerer), REGISTER_TIMEOUT_MS);
    registerer.register({
      // onAccept, not only stateChange: a re-REGISTER after a reconnect leaves SIP.js "Registered"
      // throughout, while the server (maybe restarted) had forgotten the contact.
      requestDelegate: {
        onAccept: () => settled() && this.#update({ registration: "registered", error: null }),
        onReject: () => settled() && this.#update({ registration: "refused", error: "sip_refused" }),
      },
    }).catch(() => this.#registerStalled(registerer));
  }

  /** The WebSocket opened but REGISTER got no answer (an Asterisk still starting or stopping):
   * give up that registerer (its transaction would hang for 32 s) and that socket, and retry. */
  #registerStalled(registerer) {
    if (registerer !== this.#registerer || this.#stopped) return;
    clearTimeout(this.#registerTimer);
    this.#registerer = this.#newRegisterer();
    this.#ua.transport.disconnect().finally(() => this.#scheduleReconnect());
  }

  #onDisconnect(error) {
    this.#update({ transport: "disconnected", registration: "unregistered" });
    if (error && !this.#stopped) this.#scheduleReconnect();
  }

  #scheduleReconnect() {
    if (this.#stopped) return;
    const delay = backoffDelay(this.#attempt++, 500, 30000);
    this.#update({ transport: "disconnected", error: "asterisk_unreachable" });
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#reconnectNow(), delay);
  }

  #reconnectNow() {
    if (this.#stopped || !this.#ua || this.#ua.isConnected()) return;
    clearTimeout(this.#retryTimer);
    this.#update({ transport: "connecting" });
    // Success arrives through onConnect (which re-registers).
    this.#ua.reconnect().catch(() => this.#scheduleReconnect());
  }

  #onInvite(invitation) {
    const request = invitation.request;
    const callUuid = request.getHeader("X-Genesys-CallUUID") ?? "";
    const identity = invitation.remoteIdentity;
    this.#track(invitation, { key: callUuid || request.callId, callUuid, direction: "inbound",
      remote: { number: identity.uri.user ?? "", name: identity.displayName ?? "" }, state: "ringing" });
    if (this.config.autoAnswer) this.answer(callUuid || request.callId);
  }

  #track(session, fields) {
    const s = { ...fields, muted: false, media: null, session, audio: null };
    this.sessions.set(s.key, s);
    session.stateChange.addListener((state) => {
      if (state === SessionState.Established) {
        s.state = "established";
        s.audio = new Audio();
        s.audio.srcObject = session.sessionDescriptionHandler.remoteMediaStream;
        s.audio.play().catch(() => {}); // autoplay policy: the answer click normally allows it
      } else if (state === SessionState.Terminated) {
        s.state = "ended";
        s.audio?.pause();
        this.sessions.delete(s.key);
      }
      this.#changed();
    });
    this.#changed();
  }

  #end(s) {
    if (!s) return;
    const session = s.session;
    if (session.state === SessionState.Established) session.bye().catch(() => {});
    else if (s.direction === "inbound" && session.state === SessionState.Initial) session.reject();
    else if (s.direction === "outbound") session.cancel().catch(() => {});
  }

  async #sampleStats() {
    let changed = false;
    for (const s of this.sessions.values()) {
      const pc = s.session.sessionDescriptionHandler?.peerConnection;
      if (s.state !== "established" || !pc) continue;
      s.media = await mediaStats(pc);
      changed = true;
    }
    if (changed) this.#changed();
  }

  #update(fields) {
    Object.assign(this.state, fields);
    this.#changed();
  }

  #changed() {
    this.dispatchEvent(new Event("change"));
  }
}

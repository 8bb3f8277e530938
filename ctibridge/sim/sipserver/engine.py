"""The SIP stack of the SIP Server stand-in: PJSIP (pjsua2) in a process of its own.

Run as ``python -m ctibridge.sim.sipserver.engine '<config JSON>'``. It reads one JSON command per
line on stdin and writes one JSON line per reply or event on stdout; ``EngineClient`` (client.py)
is the other end. A process of its own because pjsua2 is a process-wide singleton with native
threads: a crash or a leak stays here, and stopping the lab is killing one process.

Config: ``{"endpoints": {"<name>": ["<ip>", <port>], ...}, "passwords": {"<name>": "..."}}``: one
UDP transport and one local account per name (the SIP Server trunk side, each lab phone, a phone
with its digest password). Legs are SIP calls named by the client (``dial``) or by the engine
(``<endpoint>-in-N``, incoming). Media: every leg's audio is a port of PJSIP's conference bridge; ``connect``
wires sources (``tone:<hz>``, another leg) into a leg, so the stand-in mixes, bridges and plays
music like a media server would.
"""

from __future__ import annotations

import json
import os
import queue
import re
import sys
import threading
from typing import Any

import pjsua2 as pj

CALL_UUID_HEADER = "X-Genesys-CallUUID"
_HEADER = re.compile(r"^X-Genesys-CallUUID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_USER = re.compile(r"sip:([^@>;]+)@")
_STATES = {
    pj.PJSIP_INV_STATE_CALLING: "calling",
    pj.PJSIP_INV_STATE_INCOMING: "incoming",
    pj.PJSIP_INV_STATE_EARLY: "early",
    pj.PJSIP_INV_STATE_CONNECTING: "connecting",
    pj.PJSIP_INV_STATE_CONFIRMED: "confirmed",
    pj.PJSIP_INV_STATE_DISCONNECTED: "disconnected",
}


_out = sys.stdout  # replaced in main(): PJSIP's own console output must not reach the client


def emit(message: dict[str, Any]) -> None:
    _out.write(json.dumps(message) + "\n")
    _out.flush()


def user_of(uri: str) -> str:
    match = _USER.search(uri)
    return match.group(1) if match else ""


def headers(values: dict[str, str]) -> pj.SipHeaderVector:
    vector = pj.SipHeaderVector()
    for name, value in values.items():
        header = pj.SipHeader()
        header.hName, header.hValue = name, value
        vector.append(header)
    return vector


class Leg(pj.Call):  # type: ignore[misc]  # pjsua2 ships no type information
    def __init__(self, engine: Engine, name: str, account: pj.Account, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(account, call_id)
        self.engine, self.name = engine, name
        self.sources: set[str] = set()  # ports transmitting into this leg (kept across re-INVITEs)

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        state = _STATES.get(info.state, str(info.state))
        emit({"event": "state", "leg": self.name, "state": state, "code": info.lastStatusCode,
              "reason": info.lastReason})
        if state == "disconnected":
            self.engine.forget(self)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.engine.rewire(self, index)
        status = [m.status for m in info.media if m.type == pj.PJMEDIA_TYPE_AUDIO]
        emit({"event": "media", "leg": self.name,
              "status": {pj.PJSUA_CALL_MEDIA_ACTIVE: "active", pj.PJSUA_CALL_MEDIA_LOCAL_HOLD: "local_hold",
                         pj.PJSUA_CALL_MEDIA_REMOTE_HOLD: "remote_hold"}.get(status[0], "none")
              if status else "none"})

    def audio(self) -> pj.AudioMedia | None:
        if not self.isActive():
            return None
        try:
            return self.getAudioMedia(-1)
        except pj.Error:  # no active audio (held both ways, or not negotiated yet)
            return None


class Account(pj.Account):  # type: ignore[misc]
    def __init__(self, engine: Engine, name: str):
        super().__init__()
        self.engine, self.name = engine, name

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        self.engine.incoming(self, prm)


class Engine:
    def __init__(self, config: dict[str, Any]) -> None:
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        ep_config = pj.EpConfig()
        ep_config.uaConfig.threadCnt = 0  # every callback runs in run()'s thread, between commands
        ep_config.uaConfig.mainThreadOnly = True
        ep_config.uaConfig.userAgent = "ctibridge-genesys-lab"
        ep_config.logConfig.level = int(config.get("log_level", 1))
        ep_config.logConfig.consoleLevel = int(config.get("log_level", 1))
        ep_config.medConfig.noVad = True  # measured levels and packet counts must not pause
        self.ep.libInit(ep_config)
        self.ep.audDevManager().setNullDev()  # no sound card: the bridge's clock drives the media
        self.accounts: dict[str, Account] = {}
        for name, (ip, port) in config["endpoints"].items():
            transport = pj.TransportConfig()
            transport.boundAddress, transport.port = ip, int(port)
            transport_id = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
            account_config = pj.AccountConfig()
            account_config.idUri = f"sip:{name}@{ip}:{port}"
            account_config.sipConfig.transportId = transport_id
            if password := config.get("passwords", {}).get(name):  # a lab phone's digest password
                account_config.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", name, 0, password))
            account_config.mediaConfig.transportConfig.boundAddress = ip
            account_config.mediaConfig.transportConfig.publicAddress = ip
            account = Account(self, name)
            account.create(account_config)
            self.accounts[name] = account
        self.ep.libStart()
        self.legs: dict[str, Leg] = {}
        self.tones: dict[str, pj.ToneGenerator] = {}
        self._incoming = 0

    # ------------------------------------------------------------------ SIP events

    def incoming(self, account: Account, prm: pj.OnIncomingCallParam) -> None:
        self._incoming += 1
        leg = Leg(self, f"{account.name}-in-{self._incoming}", account, prm.callId)
        self.legs[leg.name] = leg
        message = prm.rdata.wholeMsg
        uuid = _HEADER.search(message)
        info = leg.getInfo()
        emit({"event": "incoming", "leg": leg.name, "on": account.name, "from": user_of(info.remoteUri),
              "to": user_of(info.localUri) or user_of(prm.rdata.info), "uuid": uuid.group(1) if uuid else ""})

    def forget(self, leg: Leg) -> None:
        self.legs.pop(leg.name, None)

    def rewire(self, leg: Leg, index: int) -> None:
        """Media (re)started: connect what the client asked to be heard on this leg."""
        media = pj.AudioMedia.typecastFromMedia(leg.getMedia(index))
        for source in leg.sources:
            port = self.port(source)
            if port is not None:
                port.startTransmit(media)

    def port(self, name: str) -> pj.AudioMedia | None:
        """``tone:<hz>`` (created on first use, loops forever) or a leg name."""
        if name.startswith("tone:"):
            if name not in self.tones:
                tone = pj.ToneGenerator()
                tone.createToneGenerator()
                desc = pj.ToneDesc()
                desc.freq1, desc.freq2 = int(name[5:]), 0
                desc.on_msec, desc.off_msec, desc.volume = 1000, 0, 0  # one long tone, default volume
                tones = pj.ToneDescVector()
                tones.append(desc)
                tone.play(tones, True)
                self.tones[name] = tone
            return self.tones[name]
        leg = self.legs.get(name)
        return leg.audio() if leg is not None else None

    # ------------------------------------------------------------------ commands

    def dial(self, leg: str, on: str, uri: str, headers_: dict[str, str] | None = None) -> None:
        call = Leg(self, leg, self.accounts[on])
        self.legs[leg] = call
        prm = pj.CallOpParam(True)
        prm.txOption.headers = headers(headers_ or {})
        call.makeCall(uri, prm)

    def answer(self, leg: str, code: int = 200, headers_: dict[str, str] | None = None) -> None:
        prm = pj.CallOpParam(True)
        prm.statusCode = code
        prm.txOption.headers = headers(headers_ or {})
        self.legs[leg].answer(prm)

    def hangup(self, leg: str, code: int = 0) -> None:
        call = self.legs.get(leg)
        if call is not None:
            prm = pj.CallOpParam(True)
            prm.statusCode = code
            call.hangup(prm)

    def hold(self, leg: str) -> None:
        self.legs[leg].setHold(pj.CallOpParam(True))  # re-INVITE a=sendonly

    def unhold(self, leg: str) -> None:
        prm = pj.CallOpParam(True)
        prm.opt.flag = pj.PJSUA_CALL_UNHOLD  # re-INVITE a=sendrecv
        self.legs[leg].reinvite(prm)

    def connect(self, source: str, leg: str) -> None:
        """``source`` is heard on ``leg`` from now on (also after a re-INVITE)."""
        self.legs[leg].sources.add(source)
        port, target = self.port(source), self.legs[leg].audio()
        if port is not None and target is not None:
            port.startTransmit(target)

    def disconnect(self, source: str, leg: str) -> None:
        call = self.legs.get(leg)
        if call is None:
            return
        call.sources.discard(source)
        port, target = self.port(source), call.audio()
        if port is not None and target is not None:
            port.stopTransmit(target)

    def stats(self, leg: str) -> dict[str, Any]:
        """RTP packets each way (RTCP statistics of the stream) and the last received level."""
        call = self.legs.get(leg)
        if call is None or call.audio() is None:
            return {"rx_packets": 0, "tx_packets": 0, "rx_level": 0, "active": False}
        info = call.getInfo()  # kept: its media list points into it
        index = next(i for i, m in enumerate(info.media) if m.type == pj.PJMEDIA_TYPE_AUDIO)
        rtcp = call.getStreamStat(index).rtcp
        audio = call.audio()
        return {"rx_packets": rtcp.rxStat.pkt, "tx_packets": rtcp.txStat.pkt,
                "rx_level": audio.getRxLevel() if audio is not None else 0, "active": True}

    def run(self) -> None:
        commands: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            for line in sys.stdin:
                commands.put(line)
            commands.put(None)  # the client went away: stop

        threading.Thread(target=read, daemon=True).start()
        emit({"event": "ready"})
        while True:
            self.ep.libHandleEvents(10)
            while not commands.empty():
                line = commands.get()
                if line is None:
                    return
                self.execute(line)

    def execute(self, line: str) -> None:
        request: dict[str, Any] = {}
        try:
            request = json.loads(line)
            method = getattr(self, request["op"])
            if request["op"] not in _COMMANDS:
                raise KeyError(request["op"])
            result = method(**request.get("args", {}))
            emit({"reply": request.get("id"), "ok": True, "result": result})
        except Exception as exc:  # a bad command is answered, never the end of the engine
            detail = exc.info() if isinstance(exc, pj.Error) else repr(exc)
            emit({"reply": request.get("id"), "ok": False, "error": detail})

    def close(self) -> None:
        self.ep.hangupAllCalls()
        for _ in range(20):
            self.ep.libHandleEvents(10)
        self.tones.clear()  # their conference ports must go before the bridge does
        self.legs.clear()
        self.ep.libDestroy()


_COMMANDS = {"dial", "answer", "hangup", "hold", "unhold", "connect", "disconnect", "stats"}


def main() -> None:
    global _out
    _out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever PJSIP prints goes to stderr
    engine = Engine(json.loads(sys.argv[1]))
    try:
        engine.run()
    finally:
        engine.close()


if __name__ == "__main__":
    main()

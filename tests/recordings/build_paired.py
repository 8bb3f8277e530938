"""Build the paired regression logs: a real Asterisk 22 AMI capture + the GWS v2 messages Genesys
sends for the same call, on one timeline, in the event-log format.

The AMI side is the real capture (``asterisk-22/*.ami.txt``, 1 ms apart as replay reads raw
captures). The GWS side is built from the recorded GWS 8.5 Established message
(``gws-wwe-8.5/``) with the call's CallUUID, DN and the states of the scenario sequences of
Genesys (research notes "Scenario sequences": Ringing -> Established -> Held/Established ->
Released, Dialing for outbound). Each GWS message is placed right after an anchor AMI event, so
the interleaving is the realistic one (Genesys reports a state once SIP has shown it).

Run ``python tests/recordings/build_paired.py`` to regenerate; ``test_recordings.py`` checks that
the committed logs equal what this script builds.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctibridge.logs.eventlog import Record, read_records

HERE = Path(__file__).parent
TEMPLATE = HERE / "gws-wwe-8.5" / "gws_v2_log1_05_CallStateChangeMessage_StatusChange_Established.json"
DN = "5001"
GAP = 0.0004  # the GWS message follows its anchor by 0.4 ms

CAPS = {
    "Ringing": ["Answer", "UpdateUserData", "DeleteUserData", "DeleteUserDataPair", "AttachUserData",
                "ClearCall"],
    "Dialing": ["SendDtmf", "DeleteUserData", "AttachUserData", "DeleteUserDataPair", "Hangup",
                "UpdateUserData"],
    "Established": ["UpdateUserData", "DeleteUserData", "DeleteUserDataPair", "InitiateConference",
                    "AttachUserData", "Hangup", "SingleStepConference", "SingleStepTransfer", "SendDtmf",
                    "ClearCall", "Hold", "InitiateTransfer"],
    "Held": ["SingleStepTransfer", "InitiateConference", "Retrieve", "SingleStepConference",
             "InitiateTransfer", "DeleteUserData", "AttachUserData", "DeleteUserDataPair", "Hangup",
             "UpdateUserData"],
    "Released": [],
}

Match = Callable[[dict[str, Any]], bool]


def ev(name: str, **fields: str) -> Match:
    return lambda m: m.get("Event") == name and all(m.get(k) == v for k, v in fields.items())


def chan(name: str, prefix: str, **fields: str) -> Match:
    return lambda m: m.get("Event") == name and str(m.get("Channel", "")).startswith(prefix) and all(
        m.get(k) == v for k, v in fields.items())


def last_hangup(records: list[Record]) -> int:
    return max(i for i, r in enumerate(records) if r.msg.get("Event") == "Hangup")


@dataclass(frozen=True)
class Step:
    anchor: Match | str  # a predicate on AMI messages, or "last_hangup" / "start"
    state: str
    extra: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    capture: str
    call_uuid: str  # the capture's X-Genesys-CallUUID (GWS call.callUuid and call.id)
    call_type: str
    remote: str
    steps: tuple[Step, ...]
    what: str


INBOUND = (
    Step(chan("Newchannel", "PJSIP/genesys"), "Ringing"),
    Step(chan("Newstate", "PJSIP/5001", ChannelStateDesc="Up"), "Established"),
)
SCENARIOS = (
    Scenario("inbound_answered", "a_basic", "CHWY4OGENZHJDGFBKE3MGX4YEA021332", "Inbound", "+15550001000",
             (*INBOUND, Step("last_hangup", "Released")),
             "Genesys -> 5001, answered in the browser, Genesys hangs up"),
    Scenario("hold_retrieve_genesys", "b_hold", "XUGIRE5EQVD5LAI7SE2BLHFIJM021332", "Inbound", "+15550001000",
             (*INBOUND, Step(ev("Hold"), "Held"), Step(ev("Unhold"), "Established"),
              Step("last_hangup", "Released")),
             "WWE Hold then Retrieve: SIP Server re-INVITEs the trunk leg (sendonly, sendrecv)"),
    Scenario("abandon_ringing", "c_abandon", "HV4DLR4TIBAUDG5MJ5CF7SHTTA021815", "Inbound", "+15550001000",
             (INBOUND[0], Step("last_hangup", "Released")),
             "the customer hangs up while 5001 rings (SIP CANCEL)"),
    Scenario("outbound", "d_outbound", "OUTB0UND5002CALLUUIDNOTINSIP001", "Outbound", "5002",
             (Step(chan("Newchannel", "PJSIP/5001"), "Dialing"),
              Step(ev("DialEnd", DialStatus="ANSWER"), "Established"),
              Step("last_hangup", "Released")),
             "5001 calls 5002 from the browser; Asterisk has no CallUUID: joined by the fallback rule"),
    Scenario("inbound_webrtc", "webrtc_call", "0123ABCD4567EF89WEBRTC1", "Inbound", "gsip",
             (*INBOUND, Step("last_hangup", "Released")),
             "Genesys -> 5001 registered from Chromium (SIP.js over WebSocket), media flowing"),
)


def gws_message(scn: Scenario, state: str, template: dict[str, Any]) -> dict[str, Any]:
    msg = copy.deepcopy(template)
    msg.pop("_recorded_at", None)
    data = msg["data"]
    call = data["call"]
    call.update({
        "id": scn.call_uuid, "callUuid": scn.call_uuid, "state": state, "callType": scn.call_type,
        "connId": "006c03a7194a" + scn.call_uuid[-4:].lower(),
        "participants": [{"e164Number": "", "formattedPhoneNumber": scn.remote, "phoneNumber": scn.remote,
                          "digits": scn.remote}],
        "dnis": scn.remote if scn.call_type == "Outbound" else DN,
        "capabilities": CAPS[state],
        "userData": {"Segment": "Gold", "CustomerName": "José Müller", "IW_CaseUid": "c75165c3-3ee3"},
        "uri": f"http://127.0.0.1:8090/api/v2/me/calls/{scn.call_uuid}",
        "path": f"/calls/{scn.call_uuid}",
    })
    if scn.call_type == "Inbound":
        call["ani"] = scn.remote
    data["phoneNumber"] = DN
    return msg


def build(scn: Scenario, template: dict[str, Any]) -> list[Record]:
    ami = list(read_records(HERE / "asterisk-22" / f"{scn.capture}.ami.txt"))
    out: list[Record] = [Record(0.0, "gws", "meta", {"_link": "connected"}, DN)]
    start = 0
    for step in scn.steps:
        if step.anchor == "last_hangup":
            at = last_hangup(ami)
        else:
            assert callable(step.anchor)
            at = next(i for i in range(start, len(ami)) if step.anchor(ami[i].msg))
        out += ami[start: at + 1]
        out.append(Record(round(ami[at].t + GAP, 6), "gws", "in", gws_message(scn, step.state, template), DN))
        start = at + 1
    out += ami[start:]
    return out


# ----------------------------------------------------------------- composed scenarios
# Built from the single-call logs above, so every AMI event is still a real Asterisk 22 one.


def moved(records: list[Record], dn: str, shift: float, id_shift: int) -> list[Record]:
    """The same records for another DN, later, with other Asterisk ids (Uniqueids, Linkedids)."""
    def fix(text: str) -> str:
        text = text.replace(DN, dn)
        for old in sorted({part for part in _uniqueids(text)}, reverse=True):
            head, _, tail = old.partition(".")
            text = text.replace(old, f"{int(head) + id_shift}.{tail}")
        return text
    out = []
    for r in records:
        msg = json.loads(fix(json.dumps(r.msg, ensure_ascii=False)))
        out.append(Record(round(r.t + shift, 6), r.src, r.dir, msg, dn if r.conn == DN else r.conn))
    return out


def _uniqueids(text: str) -> set[str]:
    import re
    return set(re.findall(r"\b1795\d{6}\.\d+\b", text))


def blind_transfer_by_genesys(template: dict[str, Any]) -> list[Record]:
    """WWE SingleStepTransfer 5001 -> 5002. SIP Server releases 5001's leg (BYE: the a_basic
    teardown) and offers the same customer, same CallUUID, to 5002 (a new INVITE to the gateway).
    GWS: 5001 Released right after the transfer; then Ringing/Established/Released on 5002."""
    first = build(SCENARIOS[0], template)
    second = moved(build(SCENARIOS[0], template), "5002", first[-1].t + 0.5, 100)
    second = [r for r in second if not (r.src == "gws" and r.dir == "meta")]
    return [*first, Record(0.0, "gws", "meta", {"_link": "connected"}, "5002"), *second]


def gws_reconnect(template: dict[str, Any], call_ends_meanwhile: bool) -> list[Record]:
    """The agent's GWS session drops after the answer; the client re-reads the calls by REST when it
    is back. Either the call is still up (listed, nothing changes), or it ended meanwhile (not
    listed, and its Released message was never received)."""
    records = build(SCENARIOS[0], template)
    gws_in = [i for i, r in enumerate(records) if r.src == "gws" and r.dir == "in"]
    established, released = gws_in[1], gws_in[2]
    call = copy.deepcopy(records[established].msg["data"]["call"])
    lost = Record(round(records[established].t + 0.01, 6), "gws", "meta", {"_link": "lost"}, DN)
    if call_ends_meanwhile:
        back = records[released].t + 0.5
        listed: list[Any] = []
        body = records[:released] + records[released + 1:]
    else:
        back = records[established].t + 0.02
        listed = [call]
        body = records
    reread = [Record(round(back, 6), "gws", "in", {"rest": "calls", "dn": DN,
                                                   "body": {"statusCode": 0, "calls": listed}}, DN),
              Record(round(back, 6), "gws", "meta", {"_link": "connected"}, DN)]
    return sorted([*body, lost, *reread], key=lambda r: r.t)


COMPOSED: dict[str, tuple[str, Callable[[dict[str, Any]], list[Record]]]] = {
    "blind_transfer_genesys": ("WWE single-step transfer 5001 -> 5002: two real Asterisk legs, one CallUUID",
                               blind_transfer_by_genesys),
    "gws_reconnect_call_up": ("GWS session lost after the answer, REST re-read lists the call",
                              lambda t: gws_reconnect(t, call_ends_meanwhile=False)),
    "gws_reconnect_call_ended": ("GWS session lost; the call ends meanwhile; the REST re-read has no call",
                                 lambda t: gws_reconnect(t, call_ends_meanwhile=True)),
}


def all_logs(template: dict[str, Any]) -> dict[str, list[Record]]:
    logs = {scn.name: build(scn, template) for scn in SCENARIOS}
    logs.update({name: make(template) for name, (_, make) in COMPOSED.items()})
    return logs


def main() -> None:
    template = json.loads(TEMPLATE.read_text())
    for name, records in all_logs(template).items():
        path = HERE / f"{name}.jsonl"
        path.write_text("".join(r.to_json() + "\n" for r in records), encoding="utf-8")
        print(f"wrote {path.name}")


if __name__ == "__main__":
    main()

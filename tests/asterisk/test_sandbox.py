"""The generated lab configuration in the real Asterisk 22, driven by sipp and a raw AMI socket."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from fixtures_asterisk import LabAsterisk
from raw_ami import Message, RawAmi

from ctibridge.sim.sipp import Sipp

pytestmark = pytest.mark.asterisk


@pytest.fixture
async def ami(asterisk: LabAsterisk) -> AsyncIterator[RawAmi]:
    client = await RawAmi.login(asterisk.ami_host, asterisk.ami_port, asterisk.ami_user, asterisk.ami_secret)
    yield client
    await client.close()


def chan_vars(event: Message, key: str = "ChanVariable") -> dict[str, str]:
    values = event.get(key, [])
    return dict(v.split("=", 1) for v in ([values] if isinstance(values, str) else values))


async def test_lab_configuration_loads_without_errors(asterisk: LabAsterisk) -> None:
    cli = asterisk.sandbox.cli
    endpoints = cli("pjsip show endpoints")
    for name in ("5001", "5002", "5003", "5004", "genesys"):
        assert re.search(rf"Endpoint:\s+{name}\s", endpoints), endpoints
    assert "sip:5003@127.0.0.3:5062" in endpoints
    assert "'moh' =>" in cli("dialplan show ctibridge-hold")
    assert "'park' =>" in cli("dialplan show ctibridge-hold")
    assert "Class: ctibridge" in cli("moh show classes")
    assert "/ws => Asterisk HTTP WebSocket" in cli("http show status")
    features = cli("features show")
    assert re.search(r"Attended Transfer\s+\*2", features), features
    assert re.search(r"Blind Transfer\s+#\s+\n", features), features
    errors = [line for line in asterisk.sandbox.log_text().splitlines() if "ERROR[" in line]
    assert errors == []


async def test_genesys_call_answered_by_phone_carries_call_uuid_on_both_legs(
    asterisk: LabAsterisk, sipp: Sipp, ami: RawAmi
) -> None:
    phone = await sipp.phone_answer("5003")
    genesys = await sipp.genesys_call("5003", "G2BL4CALLUUID0001", pause_ms=1500)

    assert (await genesys.wait()).ok
    answered = await phone.wait()
    assert answered.ok, answered.errors
    assert "X-Genesys-CallUUID: G2BL4CALLUUID0001" in answered.trace  # the pre-dial handler's header
    entered = [e for e in ami.events if e.get("Event") == "BridgeEnter"]
    assert {str(e["Channel"]).rsplit("-", 1)[0] for e in entered} == {"PJSIP/genesys", "PJSIP/5003"}
    for event in entered:
        assert chan_vars(event)["CALLUUID"] == "G2BL4CALLUUID0001"
        assert chan_vars(event)["SIPCALLID"].endswith("@127.0.0.2")
    dial = await ami.wait_event(Event="DialBegin")
    assert chan_vars(dial, "DestChanVariable")["CALLUUID"] == "G2BL4CALLUUID0001"


async def test_abandoned_call_rings_then_cancels(asterisk: LabAsterisk, sipp: Sipp, ami: RawAmi) -> None:
    phone = await sipp.phone_ring("5004")
    genesys = await sipp.genesys_call("5004", "G2ABANDON", flow="cancel", pause_ms=500)

    assert (await genesys.wait()).ok
    assert (await phone.wait()).ok
    dial_end = await ami.wait_event(Event="DialEnd")
    assert dial_end["DialStatus"] == "CANCEL"
    assert chan_vars(dial_end, "DestChanVariable")["CALLUUID"] == "G2ABANDON"


async def test_sip_hold_from_genesys_shows_hold_and_unhold(
    asterisk: LabAsterisk, sipp: Sipp, ami: RawAmi
) -> None:
    phone = await sipp.phone_answer("5003")
    genesys = await sipp.genesys_call("5003", "G2SIPHOLD", flow="hold", pause_ms=500)

    assert (await genesys.wait()).ok
    assert (await phone.wait()).ok
    hold = await ami.wait_event(Event="Hold")
    unhold = await ami.wait_event(Event="Unhold")
    assert str(hold["Channel"]).startswith("PJSIP/genesys-") and unhold["Channel"] == hold["Channel"]
    assert chan_vars(hold)["CALLUUID"] == "G2SIPHOLD"


@pytest.mark.parametrize("call_uuid", ["G2OUTBOUND", ""])
async def test_outbound_call_from_a_dn_carries_the_genesys_call_ids(
    asterisk: LabAsterisk, sipp: Sipp, ami: RawAmi, call_uuid: str
) -> None:
    genesys = await sipp.genesys_answer(call_uuid=call_uuid)
    phone = await sipp.phone_call("5004", "0699887766", pause_ms=1000)

    placed = await phone.wait()
    assert placed.ok, placed.errors
    answered = await genesys.wait()
    assert answered.ok
    dial = await ami.wait_event(Event="DialBegin")
    trunk_call_id = chan_vars(dial)["SIPCALLID"]  # set before the INVITE left, on both legs
    assert f"Call-ID: {trunk_call_id}" in answered.trace
    assert chan_vars(dial, "DestChanVariable")["SIPCALLID"] == trunk_call_id
    bridged = [e for e in ami.events if e.get("Event") == "BridgeEnter"]
    assert {str(e["Channel"]).rsplit("-", 1)[0] for e in bridged} == {"PJSIP/genesys", "PJSIP/5004"}
    for event in bridged:
        assert chan_vars(event)["CALLUUID"] == call_uuid  # from Genesys' 200 OK, when it has one


async def answered_call(sipp: Sipp, ami: RawAmi, dn: str, call_uuid: str) -> tuple[str, str]:
    """A Genesys call answered by the phone of ``dn`` that lasts until Asterisk ends it:
    (trunk channel, agent channel) once both are in the bridge."""
    await sipp.phone_answer(dn)
    await sipp.genesys_call(dn, call_uuid, flow="until_bye")
    agent = await ami.wait_event(Event="BridgeEnter", CallerIDNum=dn)
    await ami.wait_event(Event="BridgeEnter", BridgeNumChannels="2")
    trunk = next(e for e in ami.events if e.get("Event") == "BridgeEnter" and e is not agent)
    return str(trunk["Channel"]), str(agent["Channel"])


async def test_hold_by_redirect_to_music_and_retrieve_by_bridge(
    asterisk: LabAsterisk, sipp: Sipp, ami: RawAmi
) -> None:
    trunk, agent = await answered_call(sipp, ami, "5003", "G2MOHHOLD")

    held = await ami.action(
        "Redirect", Channel=trunk, Context="ctibridge-hold", Exten="moh", Priority="1",
        ExtraChannel=agent, ExtraContext="ctibridge-hold", ExtraExten="park", ExtraPriority="1",
    )  # fmt: skip
    assert held["Response"] == "Success", held
    music = await ami.wait_event(Event="MusicOnHoldStart", Channel=trunk)
    assert music["Class"] == "ctibridge"
    _, status = await ami.action_list("Status", Channel=agent)
    assert status[0]["Application"] == "Wait"  # the agent leg waits silently in ctibridge-hold,park

    before = len(ami.events)
    retrieved = await ami.action("Bridge", Channel1=trunk, Channel2=agent, Tone="no")
    assert retrieved["Response"] == "Success", retrieved
    await ami.wait_event(Event="MusicOnHoldStop", Channel=trunk, after=before)
    await ami.wait_event(Event="BridgeEnter", Channel=trunk, after=before)
    await ami.wait_event(Event="BridgeEnter", Channel=agent, after=before)
    assert asterisk.channel_count() == 2  # both legs survived the hold

    assert (await ami.action("Hangup", Channel=agent))["Response"] == "Success"
    for call in sipp.calls:
        assert (await call.wait()).ok  # Genesys got its BYE, and so did the phone


async def test_blind_transfer_to_another_dn(asterisk: LabAsterisk, sipp: Sipp, ami: RawAmi) -> None:
    trunk, agent = await answered_call(sipp, ami, "5003", "G2BLIND")
    second_phone = await sipp.phone_answer("5004")

    reply = await ami.action("BlindTransfer", Channel=agent, Context="ctibridge-xfer", Exten="5004")
    assert reply["Response"] == "Success", reply
    transfer = await ami.wait_event(Event="BlindTransfer")
    assert transfer["Result"] == "Success" and transfer["TransfereeChannel"] == trunk
    target = await ami.wait_event(Event="BridgeEnter", CallerIDNum="5004")
    assert chan_vars(target)["CALLUUID"] == "G2BLIND"

    assert (await ami.action("Hangup", Channel=str(target["Channel"])))["Response"] == "Success"
    for call in sipp.calls:
        assert (await call.wait()).ok
    assert "X-Genesys-CallUUID: G2BLIND" in second_phone.trace()


async def test_attended_transfer_completed_by_the_transferer_hanging_up(
    asterisk: LabAsterisk, sipp: Sipp, ami: RawAmi
) -> None:
    trunk, agent = await answered_call(sipp, ami, "5003", "G2ATXFER")
    await sipp.phone_answer("5004")

    reply = await ami.action("Atxfer", Channel=agent, Context="ctibridge-xfer", Exten="5004")
    assert reply["Response"] == "Success", reply
    consult = await ami.wait_event(Event="DialEnd", DialStatus="ANSWER", DestCallerIDNum="5004", within_s=15)
    assert (await ami.action("Hangup", Channel=agent))["Response"] == "Success"
    transfer = await ami.wait_event(Event="AttendedTransfer")
    assert transfer["Result"] == "Success" and transfer["TransfereeChannel"] == trunk

    assert (await ami.action("Hangup", Channel=str(consult["DestChannel"])))["Response"] == "Success"
    for call in sipp.calls:
        assert (await call.wait()).ok


async def test_cancel_attended_transfer_returns_to_the_customer(
    asterisk: LabAsterisk, sipp: Sipp, ami: RawAmi
) -> None:
    trunk, agent = await answered_call(sipp, ami, "5003", "G2CANCELXFER")
    target_phone = await sipp.phone_answer("5004")

    reply = await ami.action("Atxfer", Channel=agent, Context="ctibridge-xfer", Exten="5004")
    assert reply["Response"] == "Success", reply
    await ami.wait_event(Event="DialEnd", DialStatus="ANSWER", DestCallerIDNum="5004", within_s=15)
    consulted = len(ami.events)
    cancelled = await ami.action("CancelAtxfer", Channel=agent)
    assert cancelled["Response"] == "Success", cancelled
    assert (await target_phone.wait()).ok  # the consulted agent got BYE
    back = await ami.wait_event(Event="BridgeEnter", Channel=agent, BridgeNumChannels="2", after=consulted)
    _, members = await ami.action_list("BridgeInfo", BridgeUniqueid=str(back["BridgeUniqueid"]))
    assert {m.get("Channel") for m in members if m.get("Event") == "BridgeInfoChannel"} == {trunk, agent}


async def test_attended_transfer_works_from_an_outbound_call_too(
    asterisk: LabAsterisk, sipp: Sipp, ami: RawAmi
) -> None:
    """The agent is the calling party here (Dial option T), the called party for inbound calls (t)."""
    genesys = await sipp.genesys_answer(call_uuid="G2OUTXFER")
    caller = await sipp.phone_call("5004", "0699887766", pause_ms=9000)
    agent = await ami.wait_event(Event="BridgeEnter", CallerIDNum="5004")
    consulted_phone = await sipp.phone_answer("5003")

    reply = await ami.action("Atxfer", Channel=str(agent["Channel"]), Context="ctibridge-xfer", Exten="5003")
    assert reply["Response"] == "Success", reply
    await ami.wait_event(Event="DialEnd", DialStatus="ANSWER", DestCallerIDNum="5003", within_s=15)
    assert (await ami.action("CancelAtxfer", Channel=str(agent["Channel"])))["Response"] == "Success"

    assert (await consulted_phone.wait()).ok
    assert (await caller.wait()).ok  # back with Genesys, the agent hangs up as planned
    assert (await genesys.wait()).ok


async def test_least_privilege_manager_user(asterisk: LabAsterisk, ami: RawAmi) -> None:
    missing = "PJSIP/5001-ffffffff"
    permitted: dict[str, dict[str, Any]] = {
        "Ping": {},
        "Redirect": {"Channel": missing, "Context": "ctibridge-hold", "Exten": "moh", "Priority": "1"},
        "Bridge": {"Channel1": missing, "Channel2": missing, "Tone": "no"},
        "BlindTransfer": {"Channel": missing, "Context": "ctibridge-xfer", "Exten": "5002"},
        "Atxfer": {"Channel": missing, "Context": "ctibridge-xfer", "Exten": "5002"},
        "CancelAtxfer": {"Channel": missing},
        "Hangup": {"Channel": missing},
        "PlayDTMF": {"Channel": missing, "Digit": "1"},
        "Getvar": {"Channel": missing, "Variable": "CALLUUID"},
        "BridgeInfo": {"BridgeUniqueid": "none"},
    }
    for action, fields in permitted.items():
        reply = await ami.action(action, **fields)
        assert reply.get("Message") != "Permission denied", (action, reply)
    listings = (
        "CoreShowChannels",
        "Status",
        "BridgeList",
        "PJSIPShowEndpoints",
        "PJSIPShowRegistrationsOutbound",
    )
    for action in listings:
        reply, _ = await ami.action_list(action)
        assert reply["Response"] == "Success", (action, reply)
    _, endpoints = await ami.action_list("PJSIPShowEndpoints")
    assert {e.get("ObjectName") for e in endpoints} >= {"5001", "5002", "5003", "5004", "genesys"}
    _, registrations = await ami.action_list("PJSIPShowRegistrationsOutbound")
    assert {e.get("ObjectName") for e in registrations} >= {f"genesys-reg-500{n}" for n in range(1, 5)}

    denied: dict[str, dict[str, Any]] = {
        "Originate": {"Channel": "PJSIP/5001", "Context": "from-webrtc", "Exten": "5002", "Priority": "1"},
        "Command": {"Command": "core show version"},
        "UpdateConfig": {"SrcFilename": "manager.conf", "DstFilename": "manager.conf"},
    }
    for action, fields in denied.items():
        reply = await ami.action(action, **fields)
        assert reply == {"Response": "Error", "ActionID": reply["ActionID"], "Message": "Permission denied"}
    # The price of PJSIPShowEndpoints (class system only): system also grants GetConfig, which
    # reads every configuration file with its secrets (see AMI_WRITE_CLASSES in generator.py).
    assert (await ami.action("GetConfig", Filename="manager.conf"))["Response"] == "Success"


async def test_restart_mid_call_ends_the_call_and_boots_again(
    asterisk: LabAsterisk, sipp: Sipp, ami: RawAmi
) -> None:
    await answered_call(sipp, ami, "5003", "G2RESTART")

    await asterisk.sandbox.restart()
    shutdown = await ami.wait_event(Event="Shutdown")
    assert shutdown["Shutdown"] == "Cleanly"
    for call in sipp.calls:
        assert (await call.wait()).ok  # both SIP sides got a BYE from the stopping Asterisk
    again = await RawAmi.login(asterisk.ami_host, asterisk.ami_port, asterisk.ami_user, asterisk.ami_secret)
    try:
        booted = await again.wait_event(Event="FullyBooted")
        assert float(str(booted["Uptime"])) < 5
        assert asterisk.channel_count() == 0
    finally:
        await again.close()


BROWSER_CONTACT = "sip:b{dn}@b.invalid;transport=ws"


async def ws_register(ws: aiohttp.ClientWebSocketResponse, dn: str, password: str, expires: int = 300) -> str:
    """REGISTER ``dn`` on an open ws://127.0.0.1:8088/ws as a browser does (digest auth, MD5);
    the final status line. Asterisk keeps the contact only while this WebSocket stays open."""
    call_id = secrets.token_hex(8)

    def register(cseq: int, authorization: str = "") -> str:
        return "\r\n".join(
            [
                "REGISTER sip:127.0.0.1 SIP/2.0",
                f"Via: SIP/2.0/WS example.invalid;branch=z9hG4bK{secrets.token_hex(6)}",
                "Max-Forwards: 70",
                f"From: <sip:{dn}@127.0.0.1>;tag={call_id}",
                f"To: <sip:{dn}@127.0.0.1>",
                f"Call-ID: {call_id}",
                f"CSeq: {cseq} REGISTER",
                f"Contact: <{BROWSER_CONTACT.format(dn=dn)}>",
                f"Expires: {expires}",
                *([f"Authorization: {authorization}"] if authorization else []),
                "Content-Length: 0",
                "",
                "",
            ]
        )

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    await ws.send_str(register(1))
    challenge = await ws.receive_str(timeout=5)
    assert challenge.startswith("SIP/2.0 401"), challenge
    fields = dict(re.findall(r'(\w+)="?([^",\r]+)"?', challenge.split("WWW-Authenticate: Digest", 1)[1]))
    ha1, ha2, cnonce = md5(f"{dn}:{fields['realm']}:{password}"), md5("REGISTER:sip:127.0.0.1"), "0a4f113b"
    response = md5(f"{ha1}:{fields['nonce']}:00000001:{cnonce}:auth:{ha2}")
    authorization = (
        f'Digest username="{dn}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", '
        f'uri="sip:127.0.0.1", response="{response}", algorithm=MD5, qop=auth, nc=00000001, '
        f'cnonce="{cnonce}"' + (f', opaque="{fields["opaque"]}"' if "opaque" in fields else "")
    )
    await ws.send_str(register(2, authorization))
    return (await ws.receive_str(timeout=5)).split("\r\n", 1)[0]


async def test_a_phone_dn_also_takes_one_browser_registration(asterisk: LabAsterisk) -> None:
    password = asterisk.settings.password("5003")
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect("ws://127.0.0.1:8088/ws", protocols=("sip",)) as ws:
            assert await ws_register(ws, "5003", password) == "SIP/2.0 200 OK"
            contacts = asterisk.sandbox.cli("pjsip show aor 5003")
            assert "5003/sip:b5003@127.0.0.1:" in contacts  # rewritten to the WebSocket's source
            assert "sip:5003@127.0.0.3:5062" in contacts  # the static sipp phone stays
            assert await ws_register(ws, "5003", password, expires=0) == "SIP/2.0 200 OK"
            assert "sip:b5003@" not in asterisk.sandbox.cli("pjsip show aor 5003")
        async with http.ws_connect("ws://127.0.0.1:8088/ws", protocols=("sip",)) as ws:
            assert await ws_register(ws, "5003", "wrong-password") == "SIP/2.0 401 Unauthorized"


async def test_every_dn_registers_with_the_genesys_sip_server(asterisk: LabAsterisk, sipp: Sipp) -> None:
    registrar = await sipp.genesys_registrar()
    asterisk.sandbox.cli("pjsip send register *all")

    await wait_until(lambda: asterisk.sandbox.cli("pjsip show registrations").count(" Registered ") == 4, 30)
    for dn in asterisk.settings.dns:
        assert f"Contact: <sip:{dn}@127.0.0.1:5060>" in registrar.trace()


async def wait_until(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    for _ in range(int(within_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"not true within {within_s} s")

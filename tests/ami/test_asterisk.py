"""AmiClient, ChannelOperations and ``ctibridge record`` against the real Asterisk 22 sandbox, with
sipp as the Genesys SIP Server and as the agents' phones.

Each scenario is recorded as an event log; with CTIBRIDGE_UPDATE_RECORDINGS=1 the logs are written
to tests/recordings/asterisk-<scenario>.jsonl (the core's regression logs), else to tmp_path.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from eventually import eventually
from fixtures_asterisk import LabAsterisk

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.ami.errors import AmiActionError
from ctibridge.ami.operations import ChannelOperations
from ctibridge.core.ami_parse import RawMessage
from ctibridge.logs.eventlog import EventLogWriter
from ctibridge.logs.record import AmiRecorder
from ctibridge.sim.sipp import Sipp, SippCall

pytestmark = pytest.mark.asterisk

RECORDINGS = Path(__file__).parent.parent / "recordings"
WITHIN = 10.0
AGENT, SECOND = "5003", "5004"  # the lab DNs with a sipp phone


def call_uuid() -> str:
    """A Genesys-style CallUUID: 32 characters of base32."""
    return "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(32))


@pytest.fixture
def gateway(asterisk: LabAsterisk) -> LabAsterisk:
    """The lab gateway plus two things its generated configuration lacks (reported to its owner):
    the sandbox has no sound files, so Atxfer's announcement ("pbx-transfer") fails to play and
    Asterisk aborts the transfer (an empty transferannouncesound skips it); and AMI PlayDTMF lives
    in app_senddtmf, which modules.conf does not load."""
    features = asterisk.sandbox.workdir / "etc" / "features.conf"
    text = features.read_text()
    if "transferannouncesound" not in text:
        features.write_text(text.replace("[general]\n", "[general]\ntransferannouncesound=\n", 1))
        asterisk.sandbox.cli("module reload features")
    if "app_senddtmf" not in asterisk.sandbox.cli("module show like senddtmf"):
        asterisk.sandbox.cli("module load app_senddtmf.so")
    return asterisk


class Session:
    """A logged-in AmiClient whose traffic is kept in memory and recorded to an event log."""

    def __init__(self, log_path: Path, gateway: LabAsterisk) -> None:
        self.messages: list[RawMessage] = []
        self.links: list[tuple[str, float | None]] = []
        self.writer = EventLogWriter(log_path)
        self.recorder = AmiRecorder(self.writer)
        settings = AmiSettings(
            host=gateway.ami_host,
            port=gateway.ami_port,
            username=gateway.ami_user,
            secret=gateway.ami_secret,
            backoff_initial=0.1,
            backoff_max=1.0,
        )
        self.client = AmiClient(settings, self._message, self._link, self.recorder.on_sent)
        self.ops = ChannelOperations(self.client)

    def _message(self, raw: RawMessage, t: float) -> None:
        self.messages.append(raw)
        self.recorder.on_message(raw, t)

    def _link(self, status: str, t: float, uptime: float | None) -> None:
        self.links.append((status, uptime))
        self.recorder.on_link(status, t, uptime)

    def found(self, event: str, **fields: str) -> list[RawMessage]:
        wanted = {"Event": event, **fields}
        return [m for m in self.messages if all(m.get(k) == v for k, v in wanted.items())]

    async def event(self, event: str, within: float = WITHIN, **fields: str) -> RawMessage:
        found = await eventually(lambda: self.found(event, **fields), within=within, what=f"{event} {fields}")
        return found[-1]

    async def answered(self, dn: str) -> RawMessage:
        """The DialEnd ANSWER of the first call leg to ``dn``."""

        def dialled() -> list[RawMessage]:
            ends = self.found("DialEnd", DialStatus="ANSWER")
            return [m for m in ends if str(m.get("DestChannel")).startswith(f"PJSIP/{dn}-")]

        return (await eventually(dialled, within=WITHIN, what=f"{dn} answered"))[0]

    async def call(self, sipp: Sipp, dn: str = AGENT) -> tuple[SippCall, str, str, str]:
        """A Genesys call to ``dn``, answered by its sipp phone: (genesys sipp, trunk, agent, CallUUID)."""
        uuid = call_uuid()
        genesys = await sipp.genesys_call(dn, uuid, flow="until_bye")
        dial = await self.event("DialEnd", DialStatus="ANSWER")
        trunk, agent = str(dial["Channel"]), str(dial["DestChannel"])
        await self.event("BridgeEnter", Channel=trunk)
        await self.event("BridgeEnter", Channel=agent)
        return genesys, trunk, agent, uuid


@pytest.fixture
async def session(
    request: pytest.FixtureRequest, tmp_path: Path, gateway: LabAsterisk
) -> AsyncIterator[Session]:
    name = request.node.name.removeprefix("test_").replace("_", "-")
    update = os.environ.get("CTIBRIDGE_UPDATE_RECORDINGS") == "1"
    log_path = (RECORDINGS if update else tmp_path) / f"asterisk-{name}.jsonl"
    log_path.unlink(missing_ok=True)
    s = Session(log_path, gateway)
    await s.client.start(timeout_s=WITHIN)
    yield s
    await s.client.close()
    s.writer.close()


def chan_vars(raw: RawMessage, key: str = "ChanVariable") -> dict[str, str]:
    values = raw.get(key, [])
    return dict(v.split("=", 1) for v in ([values] if isinstance(values, str) else values))


async def ended_cleanly(*calls: SippCall) -> None:
    """Every sipp ran its scenario to the end (rc 0): it got the BYE it waited for and answered it."""
    for call in calls:
        result = await call.wait(WITHIN)
        assert result.ok, f"{call.name} rc={result.rc}\n{result.errors}"


async def test_call_events_then_resync_after_ami_loss(session: Session, sipp: Sipp) -> None:
    phone = await sipp.phone_answer(AGENT)
    genesys, trunk, agent, uuid = await session.call(sipp)
    begin = session.found("DialBegin", Channel=trunk)[0]
    assert chan_vars(begin)["CALLUUID"] == uuid
    assert chan_vars(begin, "DestChanVariable")["CALLUUID"] == uuid  # inherited by the agent leg

    before = len(session.messages)
    session.client.drop_connection("test: AMI connection killed mid-call")
    await session.client.wait_ready(WITHIN)
    statuses = [status for status, _ in session.links]
    assert statuses[-5:] == ["lost", "connected", "booted", "resync_begin", "resync_end"]
    listed = [m for m in session.messages[before:] if m.get("Event") == "CoreShowChannel"]
    assert {m["Channel"] for m in listed} == {trunk, agent}
    assert {chan_vars(m)["CALLUUID"] for m in listed} == {uuid}
    assert session.client.registrations().keys() == {"5001", "5002", "5003", "5004"}

    await session.ops.hangup(trunk)
    await ended_cleanly(genesys, phone)
    assert "BYE sip:" in genesys.trace()


async def test_hold_then_retrieve(session: Session, sipp: Sipp) -> None:
    phone = await sipp.phone_answer(AGENT)
    genesys, trunk, agent, _ = await session.call(sipp)

    await session.ops.hold(trunk, agent)
    assert session.found("MusicOnHoldStart", Channel=trunk)
    assert session.found("Newexten", Channel=agent, Context="ctibridge-hold", Exten="park")

    await session.ops.retrieve(trunk, agent)
    trunk_in = session.found("BridgeEnter", Channel=trunk)[-1]
    assert session.found("BridgeEnter", Channel=agent)[-1]["BridgeUniqueid"] == trunk_in["BridgeUniqueid"]
    assert session.found("MusicOnHoldStop", Channel=trunk)

    await session.ops.hangup(agent)
    await ended_cleanly(genesys, phone)


async def test_held_and_retrieved_then_the_customer_hangs_up(session: Session, sipp: Sipp) -> None:
    """Regression log: the hang-up (HangupRequest, BridgeLeave of both legs, Hangup) of a call the
    bridge held by Redirect and brought back by Bridge must not show it held again."""
    phone = await sipp.phone_answer(AGENT)
    genesys = await sipp.genesys_call(AGENT, call_uuid(), flow="talk", pause_ms=4000)
    dial = await session.event("DialEnd", DialStatus="ANSWER")
    trunk, agent = str(dial["Channel"]), str(dial["DestChannel"])
    await session.event("BridgeEnter", Channel=agent)
    await session.ops.hold(trunk, agent)
    await session.ops.retrieve(trunk, agent)
    await session.event("HangupRequest", Channel=trunk)  # Genesys' BYE: the customer leaves
    await session.event("Hangup", Channel=agent)
    await ended_cleanly(genesys, phone)


async def test_held_in_the_bridge_then_hung_up(session: Session, sipp: Sipp) -> None:
    """Regression log: the customer's own hold (re-INVITE sendonly, held inside the Asterisk
    bridge) and retrieve, then the customer hangs up."""
    phone = await sipp.phone_answer(AGENT)
    genesys = await sipp.genesys_call(AGENT, call_uuid(), flow="hold", pause_ms=500)
    dial = await session.event("DialEnd", DialStatus="ANSWER")
    agent = str(dial["DestChannel"])
    await session.event("Hold", Channel=str(dial["Channel"]))
    await session.event("Hangup", Channel=agent)
    await ended_cleanly(genesys, phone)


async def test_customer_leaving_while_held_releases_the_agent(session: Session, sipp: Sipp) -> None:
    phone = await sipp.phone_answer(AGENT)
    genesys, trunk, agent, _ = await session.call(sipp)
    await session.ops.hold(trunk, agent)

    await session.client.send({"Action": "Hangup", "Channel": trunk})  # the customer leaves
    await session.event("Hangup", Channel=agent)  # not left waiting in ctibridge-hold,park
    await ended_cleanly(genesys, phone)


async def test_blind_transfer_to_another_dn(session: Session, sipp: Sipp) -> None:
    first, second = await sipp.phone_answer(AGENT), await sipp.phone_answer(SECOND)
    genesys, trunk, agent, uuid = await session.call(sipp)

    await session.ops.blind_transfer(agent, SECOND)
    await ended_cleanly(first)  # the transferring agent's phone got its BYE
    dial = await session.answered(SECOND)
    assert dial["Channel"] == trunk
    assert chan_vars(dial, "DestChanVariable")["CALLUUID"] == uuid
    await session.event("BridgeEnter", Channel=str(dial["DestChannel"]))

    await session.ops.hangup(trunk)
    await ended_cleanly(second, genesys)


async def test_consult_transfer_completed(session: Session, sipp: Sipp) -> None:
    first, second = await sipp.phone_answer(AGENT), await sipp.phone_answer(SECOND)
    genesys, trunk, agent, _ = await session.call(sipp)

    await session.ops.consult_transfer(agent, SECOND)
    await session.answered(SECOND)
    await session.ops.complete_transfer(agent)
    await ended_cleanly(first)  # the transferring agent is out of the call

    await session.ops.hangup(trunk)
    await ended_cleanly(second, genesys)


async def test_consult_transfer_cancelled(session: Session, sipp: Sipp) -> None:
    first, second = await sipp.phone_answer(AGENT), await sipp.phone_answer(SECOND)
    genesys, trunk, agent, _ = await session.call(sipp)
    customer_bridge = session.found("BridgeEnter", Channel=trunk)[-1]["BridgeUniqueid"]

    await session.ops.consult_transfer(agent, SECOND)
    await session.answered(SECOND)
    await session.ops.cancel_transfer(agent)
    await ended_cleanly(second)  # the consulted agent's phone got its BYE
    assert session.found("BridgeEnter", Channel=agent)[-1]["BridgeUniqueid"] == customer_bridge

    await session.ops.hangup(trunk)
    await ended_cleanly(first, genesys)


async def test_refused_operations_are_clear_errors(session: Session) -> None:
    with pytest.raises(AmiActionError, match="Hangup failed: No such channel"):
        await session.ops.hangup(f"PJSIP/{AGENT}-7fffffff")
    with pytest.raises(AmiActionError, match="Bridge failed: Channel1 does not exist"):
        await session.ops.retrieve("PJSIP/genesys-7fffffff", f"PJSIP/{AGENT}-7fffffff")


async def test_dtmf_toward_the_customer(session: Session, sipp: Sipp) -> None:
    phone = await sipp.phone_answer(AGENT)
    genesys, trunk, agent, _ = await session.call(sipp)
    # Proof is Asterisk's Success per digit: DTMF events need read=dtmf, which the lab user
    # lacks, and sipp does not log the RFC 4733 packets it receives.
    await session.ops.dtmf(trunk, "12#")
    sent = [m for m in session.messages if m.get("Message") == "DTMF successfully queued"]
    assert len(sent) == 3
    await session.ops.hangup(agent)
    await ended_cleanly(genesys, phone)


async def test_record_command_writes_an_event_log(gateway: LabAsterisk, tmp_path: Path) -> None:
    secret_file = tmp_path / "ami-secret"
    secret_file.write_text(gateway.ami_secret + "\n")
    out = tmp_path / "recorded.jsonl"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ctibridge.cli", "record", "--ami-host", gateway.ami_host,
        "--ami-port", str(gateway.ami_port), "--ami-user", gateway.ami_user,
        "--ami-secret-file", str(secret_file), "--out", str(out), "--duration", "1.5",
    )  # fmt: skip
    async with asyncio.timeout(WITHIN):
        assert await process.wait() == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert gateway.ami_secret not in out.read_text()
    login = next(r for r in records if r["dir"] == "out" and r["msg"]["Action"] == "Login")
    assert login["src"] == "ami" and login["msg"]["Secret"] == "********"
    inbound = [r["msg"] for r in records if r["dir"] == "in"]
    assert inbound[0]["_greeting"].startswith("Asterisk Call Manager/")
    assert any(m.get("Event") == "FullyBooted" for m in inbound)
    links = [r["msg"]["_link"] for r in records if r["dir"] == "meta"]
    assert links == ["connected", "resync_begin", "resync_end"]


async def test_restarted_mid_call(session: Session, sipp: Sipp, gateway: LabAsterisk) -> None:
    phone = await sipp.phone_answer(AGENT)
    genesys, _, _, _ = await session.call(sipp)
    assert session.links[1][0] == "booted"

    await gateway.sandbox.restart()
    await eventually(lambda: session.client.ready, within=WITHIN, what="ready again")
    statuses = [status for status, _ in session.links]
    assert statuses[4:] == ["shutdown", "lost", "connected", "booted", "resync_begin", "resync_end"]
    uptime = session.links[7][1]
    assert uptime is not None and uptime < 5
    assert session.found("CoreShowChannelsComplete")[-1]["ListItems"] == "0"
    await ended_cleanly(genesys, phone)  # Asterisk hung up both legs as it stopped

"""Channel operations on Asterisk 22 over AMI: *how* hold, retrieve and transfers are done.

The core decides *what* to do (and which channel is the trunk leg and which the agent leg); this
module builds the AMI actions, sends them, waits for Asterisk's events that prove the result, and
never leaves a half call behind: nothing may wait in ``ctibridge-hold,park`` forever.

Dialplan it relies on (ctibridge.gateway.generator): ``ctibridge-hold`` (exten ``moh`` runs
MusicOnHold, exten ``park`` runs Wait), ``ctibridge-xfer`` (``_X.`` dials a DN or the trunk),
features.conf ``atxfer => *2`` and ``Dial(...,tT)`` for the agent legs.

AMI privileges (manager.conf ``write=``) each action needs, as Asterisk 22's
``manager show command`` lists them (any one listed class suffices):

=========================  ===============  =======================================
operation                  AMI action       write privilege
=========================  ===============  =======================================
hold                       Redirect         call
retrieve                   Bridge           call
blind_transfer             BlindTransfer    call
consult_transfer           Atxfer           call
cancel_transfer            CancelAtxfer     call
complete_transfer, hangup  Hangup           system or call
dtmf                       PlayDTMF         call
(verification on failure)  Bridge, Hangup   call
=========================  ===============  =======================================
Confirmation reads events: ``read=call`` (MusicOnHoldStart, BridgeEnter, Hangup, BlindTransfer,
AttendedTransfer, Newchannel) and ``read=dialplan`` (Newexten: the agent reaching ``park``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterable

from ctibridge.ami.client import AmiClient, Predicate
from ctibridge.ami.errors import AmiActionError, AmiError, AmiTimeout
from ctibridge.core import defaults
from ctibridge.core.ami_parse import RawMessage
from ctibridge.core.dialplan import HOLD_CONTEXT, HOLD_MUSIC_EXTEN, HOLD_PARK_EXTEN, TRANSFER_CONTEXT

log = logging.getLogger("ctibridge.ami.operations")

Action = dict[str, str]

_CHANNEL = re.compile(r"[A-Za-z0-9_]+/[^\s/][^\s]*")  # never "/regex/": Hangup treats that as a pattern
_DESTINATION = re.compile(r"[0-9*#+]{1,32}")
_DIGITS = re.compile(r"[0-9*#A-Da-d]{1,64}")


def _checked(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"invalid {what}: {value!r}")
    return value


# --------------------------------------------------------------------------- action builders


def hold_action(trunk: str, agent: str) -> Action:
    """Dual Redirect: the customer to music on hold, the agent to a silent wait."""
    return {
        "Action": "Redirect",
        "Channel": _checked(_CHANNEL, trunk, "channel"),
        "Context": HOLD_CONTEXT,
        "Exten": HOLD_MUSIC_EXTEN,
        "Priority": "1",
        "ExtraChannel": _checked(_CHANNEL, agent, "channel"),
        "ExtraContext": HOLD_CONTEXT,
        "ExtraExten": HOLD_PARK_EXTEN,
        "ExtraPriority": "1",
    }


def retrieve_action(trunk: str, agent: str) -> Action:
    return {
        "Action": "Bridge",
        "Channel1": _checked(_CHANNEL, trunk, "channel"),
        "Channel2": _checked(_CHANNEL, agent, "channel"),
        "Tone": "no",
    }


def _transfer_action(name: str, agent: str, destination: str) -> Action:
    """``name`` (BlindTransfer or Atxfer) of the agent's call to ``destination`` in the transfer context."""
    return {
        "Action": name,
        "Channel": _checked(_CHANNEL, agent, "channel"),
        "Context": TRANSFER_CONTEXT,
        "Exten": _checked(_DESTINATION, destination, "destination"),
    }


def blind_transfer_action(agent: str, destination: str) -> Action:
    return _transfer_action("BlindTransfer", agent, destination)


def consult_transfer_action(agent: str, destination: str) -> Action:
    return _transfer_action("Atxfer", agent, destination)


def cancel_transfer_action(agent: str) -> Action:
    return {"Action": "CancelAtxfer", "Channel": _checked(_CHANNEL, agent, "channel")}


def hangup_action(channel: str) -> Action:
    return {"Action": "Hangup", "Channel": _checked(_CHANNEL, channel, "channel")}


def dtmf_actions(channel: str, digits: str) -> list[Action]:
    _checked(_CHANNEL, channel, "channel")
    digits = _checked(_DIGITS, digits, "digits")
    return [{"Action": "PlayDTMF", "Channel": channel, "Digit": digit} for digit in digits]


# --------------------------------------------------------------------------- executor


def _event(name: str, **fields: str) -> Predicate:
    def matches(raw: RawMessage) -> bool:
        return raw.get("Event") == name and all(raw.get(k) == v for k, v in fields.items())

    return matches


class ChannelOperations:
    """Each method returns when Asterisk's events confirm the result, or raises
    ``AmiActionError`` (refused or contradicted, with the reason) / ``AmiTimeout`` (no proof)."""

    def __init__(
        self,
        client: AmiClient,
        confirm_timeout_s: float = defaults.STEP_TIMEOUT_S,
        consult_timeout_s: float = 8.0,
    ) -> None:
        self.client = client
        self.confirm_timeout_s = confirm_timeout_s
        self.consult_timeout_s = consult_timeout_s  # Atxfer waits features.conf transferdigittimeout
        self._hold_guards: dict[str, asyncio.Task[None]] = {}  # agent channel -> guard

    async def hold(self, trunk: str, agent: str) -> None:
        moh = self._watch(_event("MusicOnHoldStart", Channel=trunk))
        parked = self._watch(_event("Newexten", Channel=agent, Context=HOLD_CONTEXT, Exten=HOLD_PARK_EXTEN))
        try:
            await self._run("Redirect", hold_action(trunk, agent), [moh, parked], gone=(trunk, agent))
        except AmiActionError as exc:
            if "does not exist" not in exc.message and "not up" not in exc.message:
                await self._restore_or_release(trunk, agent)  # Asterisk did move a leg
            raise
        except AmiError:
            await self._restore_or_release(trunk, agent)
            raise
        self._guard_hold(trunk, agent)

    async def retrieve(self, trunk: str, agent: str) -> None:
        self._unguard(agent)
        entered = [self._watch(_event("BridgeEnter", Channel=ch)) for ch in (trunk, agent)]
        try:
            await self._run("Bridge", retrieve_action(trunk, agent), entered, gone=(trunk, agent))
        except AmiActionError:
            await self._hang_up_quietly(trunk, agent)  # a leg is gone: the other must not wait alone
            raise
        except AmiError:
            self._guard_hold(trunk, agent)  # state unknown: keep the guard
            raise

    async def blind_transfer(self, agent: str, destination: str) -> None:
        result = self._watch(_event("BlindTransfer", TransfererChannel=agent))
        await self._run("BlindTransfer", blind_transfer_action(agent, destination), [result])
        self._require_success("BlindTransfer", result.result())

    async def consult_transfer(self, agent: str, destination: str) -> None:
        """Confirmed when the consultation call exists (a Local channel toward ``destination``) and
        the agent has entered its bridge; Asterisk waits transferdigittimeout before dialling."""
        local = f"Local/{destination}@{TRANSFER_CONTEXT}-"
        started = self._watch(
            lambda raw: raw.get("Event") == "Newchannel" and str(raw.get("Channel", "")).startswith(local)
        )
        consulting = self._watch(_event("BridgeEnter", Channel=agent))
        action = consult_transfer_action(agent, destination)
        try:
            await self._run(
                "Atxfer", action, [started, consulting], gone=(agent,), timeout_s=self.consult_timeout_s
            )
        except AmiTimeout:
            raise AmiActionError(
                "Atxfer", "queued, but no consultation call started (needs features.conf atxfer, Dial t/T)"
            ) from None

    async def complete_transfer(self, agent: str) -> None:
        """Hang up the transferer: Asterisk joins the customer and the consulted party."""

        def done(raw: RawMessage) -> bool:
            transferers = (raw.get("OrigTransfererChannel"), raw.get("SecondTransfererChannel"))
            return raw.get("Event") == "AttendedTransfer" and agent in transferers

        result = self._watch(done)
        await self._run("Hangup", hangup_action(agent), [result])
        self._require_success("AttendedTransfer", result.result())

    async def cancel_transfer(self, agent: str) -> None:
        """Abort the consultation: the agent goes back to the customer's bridge."""
        back = self._watch(_event("BridgeEnter", Channel=agent))
        await self._run("CancelAtxfer", cancel_transfer_action(agent), [back], gone=(agent,))

    async def hangup(self, channel: str) -> None:
        self._unguard(channel)
        gone = self._watch(_event("Hangup", Channel=channel))
        await self._run("Hangup", hangup_action(channel), [gone])

    async def dtmf(self, channel: str, digits: str) -> None:
        for action in dtmf_actions(channel, digits):
            await self.client.send(action, timeout_s=self.confirm_timeout_s)

    # ------------------------------------------------------------------ helpers

    def _watch(self, predicate: Predicate) -> asyncio.Future[RawMessage]:
        return self.client.watch(predicate)

    async def _run(
        self,
        name: str,
        action: Action,
        proofs: list[asyncio.Future[RawMessage]],
        gone: Iterable[str] = (),
        timeout_s: float | None = None,
    ) -> None:
        """Send ``action``, then wait for every proof event; a Hangup of a ``gone`` channel first
        is a failure."""
        gone = tuple(gone)
        hung_up = self._watch(lambda raw: raw.get("Event") == "Hangup" and raw.get("Channel") in gone)
        waiting = set(proofs)
        try:
            await self.client.send(action, timeout_s=self.confirm_timeout_s)
            async with asyncio.timeout(timeout_s or self.confirm_timeout_s):
                while waiting:
                    done, _ = await asyncio.wait(waiting | {hung_up}, return_when=asyncio.FIRST_COMPLETED)
                    if hung_up in done:
                        raise AmiActionError(name, f"{hung_up.result().get('Channel')} hung up meanwhile")
                    waiting -= done
        except TimeoutError:
            raise AmiTimeout(name, timeout_s or self.confirm_timeout_s) from None
        finally:
            for future in [*proofs, hung_up]:
                future.cancel()

    @staticmethod
    def _require_success(name: str, raw: RawMessage) -> None:
        if raw.get("Result") != "Success":
            raise AmiActionError(name, f"Result: {raw.get('Result')}")

    async def _restore_or_release(self, trunk: str, agent: str) -> None:
        """After a partial hold: bridge both legs back; if one is gone, hang up the other."""
        try:
            await self.client.send(retrieve_action(trunk, agent), timeout_s=self.confirm_timeout_s)
            log.warning("hold of %s/%s failed: both legs bridged again", trunk, agent)
        except AmiError:
            await self._hang_up_quietly(trunk, agent)

    async def _hang_up_quietly(self, *channels: str) -> None:
        for channel in channels:
            with contextlib.suppress(AmiError):  # "No such channel": already gone, as wanted
                await self.client.send(hangup_action(channel), timeout_s=self.confirm_timeout_s)
                log.warning("hung up %s: its partner is gone, it must not wait on hold forever", channel)

    def _guard_hold(self, trunk: str, agent: str) -> None:
        """While held, if one leg hangs up, hang up the other (the dialplan would let it wait)."""
        gone = self._watch(lambda raw: raw.get("Event") == "Hangup" and raw.get("Channel") in (trunk, agent))

        async def release_partner() -> None:
            try:
                raw = await gone
            finally:
                gone.cancel()
            self._hold_guards.pop(agent, None)
            await self._hang_up_quietly(agent if raw.get("Channel") == trunk else trunk)

        self._unguard(agent)
        self._hold_guards[agent] = asyncio.create_task(release_partner())

    def _unguard(self, channel: str) -> None:
        guard = self._hold_guards.pop(channel, None)
        if guard is not None:
            guard.cancel()

"""AmiClient against the in-process FakeAmi: the failures a real Asterisk cannot be made to produce
on demand. Every wait has a deadline; nothing sleeps for a fixed time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import panoramisk.utils
import pytest
from fake_ami import FakeAmi, frame

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.ami.errors import AmiLoginRefused, AmiTimeout
from tools.local_services import free_port

DEADLINE = 5.0


class Recorder:
    """Collects what the client hands to its callbacks, in one ordered list."""

    def __init__(self) -> None:
        self.items: list[tuple[str, object]] = []

    def on_message(self, raw: dict[str, object], t: float) -> None:
        self.items.append(("msg", raw))

    def on_link(self, status: str, t: float, uptime: float | None) -> None:
        self.items.append(("link", status))

    def links(self) -> list[object]:
        return [value for kind, value in self.items if kind == "link"]

    def events(self, name: str) -> list[dict[str, object]]:
        return [v for k, v in self.items if k == "msg" and isinstance(v, dict) and v.get("Event") == name]


async def until(condition: Callable[[], object], what: str) -> None:
    async with asyncio.timeout(DEADLINE):
        while not condition():  # noqa: ASYNC110 - polls plain state that has no event to await
            await asyncio.sleep(0.01)
    assert condition(), what


def settings(port: int, **overrides: object) -> AmiSettings:
    values: dict[str, object] = {
        "port": port,
        "username": "ctibridge",
        "secret": "s3cret",
        "backoff_initial": 0.05,
        "backoff_max": 0.2,
        "ping_interval": 60.0,
    }
    return AmiSettings.model_validate(values | overrides)


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = await FakeAmi().start()
    yield server
    await server.stop()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


async def test_utf8_character_split_across_segments_arrives_whole(fake: FakeAmi, recorder: Recorder) -> None:
    client = AmiClient(settings(fake.port), recorder.on_message, recorder.on_link)
    await client.start(timeout_s=DEADLINE)
    try:
        event = frame("Event: NewCallerid", "Channel: PJSIP/genesys-00000001", "CallerIDName: José Müller")
        cut = event.index("é".encode()) + 1  # inside the two bytes of "é"
        await fake.push(event[:cut])
        # The client has read the first segment (it sits in the framer) before the rest is sent.
        await until(lambda: client._manager.protocol.framer._buf.endswith(event[:cut]), "first half read")
        await fake.push(event[cut:])
        await until(lambda: recorder.events("NewCallerid"), "event delivered")
        assert recorder.events("NewCallerid")[0]["CallerIDName"] == "José Müller"
    finally:
        await client.close()


async def test_peer_that_stops_answering_is_dropped_and_reconnected(
    fake: FakeAmi, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    client = AmiClient(
        settings(fake.port, ping_interval=0.2, ping_timeout=0.3), recorder.on_message, recorder.on_link
    )
    await client.start(timeout_s=DEADLINE)
    try:
        fake.answering = False  # TCP stays open, nothing comes back: only a Ping deadline notices
        with pytest.raises(AmiTimeout):
            await client.send({"Action": "Status"}, timeout_s=0.2)
        await until(lambda: "lost" in recorder.links(), "dead peer detected")
        assert "no Pong within 0.3s" in caplog.text
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # one WARNING, no noise
        fake.answering = True
        await client.wait_ready(DEADLINE)
        assert fake.connections == 2
        assert recorder.links()[-4:] == ["connected", "booted", "resync_begin", "resync_end"]
    finally:
        await client.close()


async def test_refused_login_is_reported_without_the_secret(
    fake: FakeAmi, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = AmiClient(settings(fake.port, secret="wrong-secret"), recorder.on_message, recorder.on_link)
    try:
        with pytest.raises(AmiLoginRefused, match="refused for user 'ctibridge': Authentication failed"):
            await client.start(timeout_s=DEADLINE)
        assert "wrong-secret" not in caplog.text
        assert "connected" not in recorder.links()
    finally:
        await client.close()


async def test_server_absent_at_startup_gets_one_session_once_it_appears(recorder: Recorder) -> None:
    port = free_port()
    client = AmiClient(settings(port), recorder.on_message, recorder.on_link)
    await client.start()  # does not raise although nothing listens: the Manager retries by itself
    server = FakeAmi(port=port)
    try:
        await until(lambda: client.backoff.attempt >= 2, "retried with backoff")
        await server.start()
        await client.wait_ready(DEADLINE)
        for _ in range(3):  # a few round trips: a second retry loop would have connected by now
            await client.send({"Action": "Ping"})
        assert (server.connections, server.logins) == (1, 1)
        assert recorder.links().count("connected") == 1
    finally:
        await client.close()
        await server.stop()


async def test_global_eol_rewritten_by_panoramisk_testing_does_not_break_the_client(
    fake: FakeAmi, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(panoramisk.utils, "EOL", "\n")  # what panoramisk.testing.Manager() does
    client = AmiClient(settings(fake.port), recorder.on_message, recorder.on_link)
    try:
        await client.start(timeout_s=DEADLINE)
        assert (await client.send({"Action": "Ping"}))["Ping"] == "Pong"
    finally:
        await client.close()


async def test_failing_callbacks_are_counted_and_do_not_stop_the_stream(
    fake: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def broken(raw: dict[str, object], t: float) -> None:
        seen.append(str(raw.get("Event") or raw.get("Response")))
        if raw.get("Event") == "FullyBooted":
            raise ValueError("consumer bug")

    async def broken_async(status: str, t: float, uptime: float | None) -> None:
        if status == "booted":
            raise RuntimeError("async consumer bug")

    client = AmiClient(settings(fake.port), broken, broken_async)
    try:
        await client.start(timeout_s=DEADLINE)
        await until(lambda: client.callback_errors == 2, "both failures counted")
        assert "FullyBooted" in seen and "CoreShowChannelsComplete" in seen
        assert "consumer bug" in caplog.text and "async consumer bug" in caplog.text
    finally:
        await client.close()

"""Agent tokens: mint, verify, expiry, forgery, scope; the `ctibridge token` command."""

from __future__ import annotations

import pytest

from ctibridge.identity.hmac_token import HmacTokenVerifier, main, mint, parse_duration
from ctibridge.identity.identity import Identity
from ctibridge.identity.refusal import Refused

SECRET = b"k" * 32
NOW = 1_750_000_000.0


def verifier(now: float = NOW) -> HmacTokenVerifier:
    return HmacTokenVerifier(SECRET, clock=lambda: now)


async def test_mint_and_verify() -> None:
    token = mint(SECRET, "alice", ["5001", "5002"], 3600, NOW)
    claims = verifier().verify_now(token)
    assert claims.agent == "alice" and claims.dns == ("5001", "5002")
    assert await verifier().verify(token) == Identity("alice", frozenset({"5001", "5002"}), "hmac")
    assert claims.iat == int(NOW) and claims.exp == int(NOW) + 3600
    assert claims.allows("5001") and not claims.allows("5003")


def test_expired() -> None:
    token = mint(SECRET, "alice", ["5001"], 60, NOW)
    assert verifier(NOW + 59).verify_now(token).agent == "alice"
    with pytest.raises(Refused, match="expired"):
        verifier(NOW + 60).verify_now(token)


@pytest.mark.parametrize("forge", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),        # signature changed
    lambda t: mint(b"x" * 32, "alice", ["5001"], 60, NOW),                # other key
    lambda t: mint(SECRET, "alice", ["5001", "5009"], 60, NOW).split(".")[0] + "." + t.split(".")[1],
])
def test_forgery_is_refused(forge) -> None:  # type: ignore[no-untyped-def]
    token = mint(SECRET, "alice", ["5001"], 60, NOW)
    with pytest.raises(Refused, match="bad_signature"):
        verifier().verify_now(forge(token))


@pytest.mark.parametrize(("token", "reason"), [
    ("", "missing"), ("abc", "malformed"), (".sig", "malformed"), ("é.x", "malformed"),
])
def test_malformed(token: str, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        verifier().verify_now(token)


def test_signed_garbage_payload_is_malformed() -> None:
    import base64
    import hashlib
    import hmac

    payload = base64.urlsafe_b64encode(b'{"agent": 1}').rstrip(b"=").decode()
    sig = base64.urlsafe_b64encode(hmac.new(SECRET, payload.encode(), hashlib.sha256).digest())
    with pytest.raises(Refused, match="malformed"):
        verifier().verify_now(f"{payload}.{sig.rstrip(b'=').decode()}")


def test_durations() -> None:
    assert [parse_duration(x) for x in ("90", "90s", "30m", "8h", "2d")] == [90, 90, 1800, 28800, 172800]
    with pytest.raises(ValueError):
        parse_duration("8 hours")


def test_token_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CTIBRIDGE_AUTH__TOKEN_SECRET", SECRET.decode())
    assert main(["--agent", "bob", "--dn", "5001", "--dn", "5002", "--ttl", "8h"]) == 0
    claims = HmacTokenVerifier(SECRET).verify_now(capsys.readouterr().out.strip())
    assert claims.agent == "bob" and claims.dns == ("5001", "5002") and claims.exp - claims.iat == 28800


def test_token_command_without_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CTIBRIDGE_AUTH__TOKEN_SECRET", raising=False)
    assert main(["--agent", "bob", "--dn", "5001"]) == 2

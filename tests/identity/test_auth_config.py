"""The ``[auth]`` section: which verifiers, what each needs; no secret is required that no
enabled verifier uses."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ctibridge.config import Settings
from ctibridge.identity.refusal import REASONS, close_code

BASE: dict[str, Any] = {"ami": {"username": "u", "secret": "s"}, "gws": {"base_url": "http://127.0.0.1:1"}}
JWT = {"issuer": "https://idp.test/auth", "audience": "ctibridge", "jwks_url": "https://idp.test/jwks"}


def settings(**auth: Any) -> Settings:
    return Settings.model_validate({**BASE, "auth": auth})


def test_jwt_needs_its_section_and_hmac_its_secret() -> None:
    with pytest.raises(ValidationError, match=r"give the \[auth.jwt\] section"):
        settings(verifiers=["jwt"])
    with pytest.raises(ValidationError, match="token_secret is required"):
        settings(verifiers=["hmac", "jwt"], jwt=JWT)
    with pytest.raises(ValidationError, match="at least 16"):
        settings(token_secret="short")


def test_without_hmac_no_token_secret_is_needed() -> None:
    auth = settings(verifiers=["jwt", "session"], jwt=JWT).auth
    assert auth.token_secret is None and auth.jwt is not None and auth.jwt.leeway_s == 30.0
    with pytest.raises(ValueError, match="no hmac tokens"):
        _ = auth.secret_bytes


def test_leeway_and_algorithms_are_bounded() -> None:
    with pytest.raises(ValidationError, match="leeway_s"):
        settings(verifiers=["jwt"], jwt={**JWT, "leeway_s": 3600})
    with pytest.raises(ValidationError, match="algorithms"):
        settings(verifiers=["jwt"], jwt={**JWT, "algorithms": ["none"]})
    with pytest.raises(ValidationError, match="algorithms"):
        settings(verifiers=["jwt"], jwt={**JWT, "algorithms": ["HS256"]})  # the public key as HMAC secret


def test_sip_secret_is_never_shown() -> None:
    s = settings(token_secret="t" * 16, sip={"webrtc_secret": "webrtc-5c1e9a"})
    assert "webrtc-5c1e9a" not in repr(s) and "webrtc-5c1e9a" not in str(s.summary())
    with pytest.raises(ValidationError, match="webrtc_secret is required"):
        settings(token_secret="t" * 16, sip={"ws_servers": ["wss://x/ws"]})


def test_every_reason_has_the_contract_close_code() -> None:
    assert {reason: close_code(reason) for reason in REASONS} == {
        "expired": 4401, "bad_signature": 4401, "wrong_issuer": 4401, "wrong_audience": 4401,
        "session_expired": 4401, "invalid": 4401, "dn_not_allowed": 4403, "origin_not_allowed": 4403,
        "identity_unavailable": 4503}

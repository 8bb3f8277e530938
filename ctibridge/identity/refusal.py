"""Why a widget (or a REST caller) was not let in: one reason per refusal, each with the WebSocket
close code the widget shows (``docs/widget-protocol.md``) and a counter label for the operator.

4401: the credential itself is not good (the widget asks WWE for a fresh one or signs in again);
4403: a good credential that does not cover what was asked; 4503: the bridge cannot check the
credential now (JWKS or GWS unreachable; the widget retries with backoff).
"""

from __future__ import annotations

from typing import Literal, get_args

RefusalReason = Literal[
    "expired", "bad_signature", "wrong_issuer", "wrong_audience", "session_expired", "invalid",
    "dn_not_allowed", "origin_not_allowed", "identity_unavailable",
]
REASONS: tuple[RefusalReason, ...] = get_args(RefusalReason)

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_IDENTITY_UNAVAILABLE = 4503

_FORBIDDEN = frozenset({"dn_not_allowed", "origin_not_allowed"})


def close_code(reason: RefusalReason) -> int:
    if reason == "identity_unavailable":
        return CLOSE_IDENTITY_UNAVAILABLE
    return CLOSE_FORBIDDEN if reason in _FORBIDDEN else CLOSE_UNAUTHORIZED


class Refused(Exception):
    """A refusal. ``reason`` goes to the widget as the close reason; ``detail`` is for the log and
    must never hold the credential (verifiers describe, they do not quote)."""

    def __init__(self, reason: RefusalReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: RefusalReason = reason
        self.detail = detail

    @property
    def code(self) -> int:
        return close_code(self.reason)

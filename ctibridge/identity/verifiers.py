"""The verifiers the configuration enables (``auth.verifiers``), one per credential kind:
``hmac`` (bridge-minted tokens), ``jwt`` (WWE-issued) and ``session`` (the GWS session cookie).
A credential of a kind that is not enabled is ``invalid``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ctibridge.identity.gws_session import GwsSessionVerifier
from ctibridge.identity.hmac_token import HmacTokenVerifier
from ctibridge.identity.identity import CredentialKind, Identity
from ctibridge.identity.jwt_token import JwtVerifier
from ctibridge.identity.refusal import Refused


@dataclass(frozen=True)
class Verifiers:
    hmac: HmacTokenVerifier | None = None
    jwt: JwtVerifier | None = None
    session: GwsSessionVerifier | None = None

    async def verify(self, kind: CredentialKind, token: str, cookies: Mapping[str, str]) -> Identity:
        """A hello's credential: ``token`` for ``hmac``/``jwt``; ``session`` reads the cookies the
        browser sent on the WebSocket upgrade."""
        if kind == "hmac" and self.hmac is not None:
            return await self.hmac.verify(token)
        if kind == "jwt" and self.jwt is not None:
            return await self.jwt.verify(token)
        if kind == "session" and self.session is not None:
            return await self.session.verify(cookies.get(self.session.cookie_name, ""))
        raise Refused("invalid", f"credential kind {kind} is not enabled on this bridge")

    async def verify_bearer(self, token: str) -> Identity:
        """A REST ``Authorization: Bearer`` token: a JWT has three dot-separated parts, a
        bridge-minted token two."""
        return await self.verify("jwt" if token.count(".") == 2 else "hmac", token, {})

"""Identity wiring from the settings: the enabled verifiers (``auth.verifiers``), the hub's hello
check, and the SIP credentials a verified widget receives (``auth.sip``)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from ctibridge.config import Settings
from ctibridge.gateway.settings import webrtc_password
from ctibridge.hub.protocol import HelloMessage, SipCredentialsMessage
from ctibridge.identity.gws_session import GwsSessionVerifier
from ctibridge.identity.hmac_token import HmacTokenVerifier
from ctibridge.identity.identity import Identity
from ctibridge.identity.jwks import JwksCache
from ctibridge.identity.jwt_token import JwtPolicy, JwtVerifier
from ctibridge.identity.verifiers import Verifiers


def verifiers(settings: Settings, *, clock: Callable[[], float] = time.time) -> Verifiers:
    auth, enabled = settings.auth, set(settings.auth.verifiers)
    jwt = None
    if "jwt" in enabled and auth.jwt is not None:
        c = auth.jwt
        jwt = JwtVerifier(
            JwtPolicy(c.issuer, c.audience, tuple(c.algorithms), c.leeway_s, c.dn_claim, c.bearer_for_gws),
            JwksCache(str(c.jwks_url), refresh_s=c.jwks_refresh_s, min_refetch_s=c.jwks_min_refetch_s,
                      timeout_s=c.timeout_s))
    session = None
    if "session" in enabled:
        s = auth.session
        session = GwsSessionVerifier(str(s.base_url or settings.gws.base_url), cookie_name=s.cookie_name,
                                     cache_s=s.cache_s, timeout_s=s.timeout_s)
    hmac = HmacTokenVerifier(auth.secret_bytes, clock=clock) if "hmac" in enabled else None
    return Verifiers(hmac=hmac, jwt=jwt, session=session)


def hello_checker(verifier: Verifiers) -> Callable[[HelloMessage, web.Request], Awaitable[Identity]]:
    async def check(hello: HelloMessage, request: web.Request) -> Identity:
        return await verifier.verify(hello.credential.kind, hello.token, request.cookies)

    return check


def phone_logins(settings: Settings) -> Callable[[str], SipCredentialsMessage] | None:
    """DN -> its SIP login, derived per DN from the gateway's WebRTC secret (as the gateway
    configuration does); None when the bridge is not given that secret."""
    sip = settings.auth.sip
    if sip is None:
        return None
    secret = sip.secret_value

    def login(dn: str) -> SipCredentialsMessage:
        return SipCredentialsMessage(dn=dn, username=dn, password=webrtc_password(secret, dn),
                                     ws_servers=sip.ws_servers, realm=sip.realm)

    return login

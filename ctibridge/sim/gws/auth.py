"""The simulator playing Genesys Authentication for the lab and the tests.

* ``POST /auth/v3/sign-in`` (form or JSON ``username`` + ``password``) opens a GWS HTTP session:
  the ``JSESSIONID`` cookie, HttpOnly and SameSite=Lax, that ``GET /api/v2/me`` (user + devices,
  which give the DN) and the rest of the v2 API then accept.
* ``GET /auth/v3/jwt`` issues an RS256 JWT for the session's agent (what a WWE stand-in answers
  ``auth.getJwtToken`` with): ``iss``, ``aud``, ``sub`` = username, ``dn``, ``iat``, ``exp``.
* ``GET /auth/v3/jwks`` publishes the public keys (``kid`` each). ``rotate()`` makes a new key.
* A bearer JWT of this issuer opens a session too (``GET /api/v2/me`` with ``Authorization:
  Bearer``), as GWS accepts the tokens of its own authentication service.

Pages of the origins in ``sim.issuer.page_origins`` (a WWE stand-in) may call the ``/auth/v3``
endpoints from the browser, with the session cookie (CORS with credentials).

``bridge_jwt_section(sim)`` is the bridge's ``[auth.jwt]`` configuration for this issuer.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

if TYPE_CHECKING:
    from ctibridge.sim.gws.server import GwsSimulator, SimAgent

SESSION_COOKIE = "JSESSIONID"
ISSUER_PATH = "/auth/v3"
DEFAULT_AUDIENCE = "ctibridge"


@dataclass
class TokenIssuer:
    """RSA signing keys (the newest signs; ``jwks()`` lists every key kept)."""

    audience: str = DEFAULT_AUDIENCE
    ttl_s: int = 600
    issuer: str = ""  # set when the simulator knows its URL
    page_origins: set[str] = field(default_factory=set)  # browser pages allowed to call /auth/v3
    _keys: list[tuple[str, rsa.RSAPrivateKey]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rotate()

    def rotate(self, *, keep_old: bool = False) -> str:
        """A new signing key (and kid); the old keys leave the JWKS unless ``keep_old``."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = secrets.token_hex(8)
        self._keys = [(kid, key), *(self._keys if keep_old else [])]
        return kid

    def issue(self, agent: SimAgent, *, now: float | None = None, ttl_s: int | None = None,
              **overrides: Any) -> str:
        """A JWT for ``agent``; ``overrides`` replace claims (``iss``, ``aud``, ``dn``, ...)."""
        issued = int(time.time() if now is None else now)
        claims = {"iss": self.issuer, "aud": self.audience, "sub": agent.username, "dn": agent.dn,
                  "iat": issued, "exp": issued + (self.ttl_s if ttl_s is None else ttl_s), **overrides}
        kid, key = self._keys[0]
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self._keys:
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def agent_of(self, token: str) -> str | None:
        """The username of a valid bearer JWT of this issuer, else None."""
        public = {kid: key.public_key() for kid, key in self._keys}
        try:
            key = public.get(jwt.get_unverified_header(token).get("kid", ""))
            if key is None:
                return None
            claims = jwt.decode(token, key, algorithms=["RS256"], audience=self.audience, issuer=self.issuer)
        except jwt.InvalidTokenError:
            return None
        subject = claims.get("sub")
        return subject if isinstance(subject, str) else None


def bridge_jwt_section(sim: GwsSimulator, **options: Any) -> dict[str, Any]:
    """The bridge's ``[auth.jwt]`` section trusting this simulator's issuer (after ``start``)."""
    return {"issuer": sim.issuer.issuer, "audience": sim.issuer.audience,
            "jwks_url": sim.base_url + ISSUER_PATH + "/jwks", **options}


def add_routes(router: web.UrlDispatcher, sim: GwsSimulator) -> None:
    async def sign_in(request: web.Request) -> web.Response:
        json_body = request.content_type == "application/json"
        form: Any = await request.json() if json_body else await request.post()
        agent = sim.agents.get(str(form.get("username", "")))
        if agent is None or not secrets.compare_digest(agent.password, str(form.get("password", ""))):
            return web.json_response({"error": "invalid username or password"}, status=401)
        response = web.json_response({"userName": agent.username})
        set_session_cookie(response, sim.open_session(agent.username))
        return response

    async def token(request: web.Request) -> web.Response:
        agent = sim.authorized(request, csrf=False)
        return web.json_response({"token": sim.issuer.issue(agent), "expires_in": sim.issuer.ttl_s})

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(sim.issuer.jwks(), headers={"Cache-Control": "max-age=300"})

    router.add_post(ISSUER_PATH + "/sign-in", sign_in, name="sign_in")
    router.add_get(ISSUER_PATH + "/jwt", token, name="jwt")
    router.add_get(ISSUER_PATH + "/jwks", jwks, name="jwks")


def page_cors(sim: GwsSimulator) -> Any:
    """CORS for the ``/auth/v3`` endpoints, for the pages of ``sim.issuer.page_origins`` only."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        origin = request.headers.get("Origin", "")
        allowed = request.path.startswith(ISSUER_PATH) and origin in sim.issuer.page_origins
        if allowed and request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(status=204, headers={
                "Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "600"})
        else:
            response = await handler(request)
        if allowed:
            response.headers.update({"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                                     "Access-Control-Allow-Credentials": "true"})
        return response

    return middleware


def set_session_cookie(response: web.StreamResponse, cookie: str) -> None:
    response.set_cookie(SESSION_COOKIE, cookie, path="/", httponly=True, samesite="Lax")

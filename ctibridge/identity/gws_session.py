"""The agent's GWS session as its credential: the reverse proxy serves the widget under the GWS
origin, so the browser sends the GWS session cookie on the ``/ws`` upgrade. The bridge asks GWS who
that session is (``GET /api/v2/me``: the user and the devices that give its DN) and caches the
answer for ``cache_s`` (keyed by a hash of the cookie, which itself is never logged).

GWS 401 -> ``session_expired``; GWS unreachable, timing out or failing -> ``identity_unavailable``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from pydantic import SecretStr

from ctibridge.identity.identity import GwsCredential, Identity
from ctibridge.identity.refusal import Refused

log = logging.getLogger(__name__)

ME_PATH = "/api/v2/me"
CACHE_LIMIT = 10_000  # sessions remembered at once; the oldest answer goes first


class GwsSessionVerifier:
    def __init__(self, base_url: str, *, cookie_name: str = "JSESSIONID", cache_s: float = 30.0,
                 timeout_s: float = 5.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.url = base_url.rstrip("/") + ME_PATH
        self.cookie_name, self.cache_s, self.timeout_s = cookie_name, cache_s, timeout_s
        self.lookups = 0  # calls to GWS (the rest came from the cache)
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, Identity]] = {}

    async def verify(self, cookie: str) -> Identity:
        if not cookie:
            raise Refused("invalid", f"no {self.cookie_name} cookie on the request")
        key = hashlib.sha256(cookie.encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None and self._monotonic() < cached[0]:
            return cached[1]
        credential = GwsCredential("cookie", SecretStr(cookie), self.cookie_name)
        identity = _identity(await self._me(credential), credential)
        if len(self._cache) >= CACHE_LIMIT:
            del self._cache[next(iter(self._cache))]
        self._cache[key] = (self._monotonic() + self.cache_s, identity)
        return identity

    async def _me(self, credential: GwsCredential) -> Any:
        self.lookups += 1
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http, \
                    http.get(self.url, headers=credential.headers(), allow_redirects=False) as response:
                if response.status in (401, 403):
                    raise Refused("session_expired", f"GWS answered {response.status} for the session")
                if response.status != 200:
                    raise Refused("identity_unavailable", f"GWS answered {response.status}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            log.warning("GWS %s unavailable for session checks: %s", self.url, type(err).__name__)
            raise Refused("identity_unavailable", "GWS cannot be reached") from None


def _identity(body: Any, credential: GwsCredential) -> Identity:
    """``{"user": {"userName": ..., "devices": [{"phoneNumber": "5001", ...}]}}`` -> Identity."""
    user = body.get("user") if isinstance(body, dict) else None
    name = user.get("userName") if isinstance(user, dict) else None
    devices = user.get("devices") if isinstance(user, dict) else None
    dns = frozenset(str(d["phoneNumber"]) for d in devices if isinstance(d, dict) and d.get("phoneNumber")) \
        if isinstance(devices, list) else frozenset()
    if not isinstance(name, str) or not name or not dns:
        raise Refused("invalid", "GWS did not name the session's user and DN")
    return Identity(name, dns, "session", credential)

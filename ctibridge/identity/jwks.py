"""The issuer's signing keys (JWKS), fetched over HTTP and cached.

* First use: fetch; if the issuer cannot be reached there is nothing to check with ->
  ``Refused("identity_unavailable")`` (4503, the widget retries).
* Cached keys older than ``refresh_s`` are refetched; if that fails, the cached keys keep working
  (a JWKS outage does not sign every agent out) and the failure is counted. Requests to the
  issuer, answered or not, are at most one per ``min_refetch_s``.
* A token signed with an unknown ``kid`` (the issuer rotated its keys) triggers one refetch, at
  most once per ``min_refetch_s``: a stream of tokens with made-up kids cannot make the bridge
  hammer the issuer. A kid still unknown afterwards is ``bad_signature``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import jwt

from ctibridge.identity.refusal import Refused

log = logging.getLogger(__name__)


@dataclass
class JwksStats:
    fetches: int = 0
    failures: int = 0  # unreachable, non-200, or not a JWKS
    kid_misses: int = 0


class JwksCache:
    def __init__(self, url: str, *, refresh_s: float = 300.0, min_refetch_s: float = 30.0,
                 timeout_s: float = 5.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.refresh_s, self.min_refetch_s, self.timeout_s = refresh_s, min_refetch_s, timeout_s
        self.stats = JwksStats()
        self._monotonic = monotonic
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._attempts = 0
        self._reachable = False
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The signing key named ``kid`` (a token without kid: the issuer's only key)."""
        now = self._monotonic()
        stale = self._fetched_at is None or now - self._fetched_at >= self.refresh_s
        if stale and self._may_fetch():
            await self._refresh(keep_cached=bool(self._keys))
        found = self._find(kid)
        if found is not None:
            return found
        self.stats.kid_misses += 1
        if self._may_fetch():
            await self._refresh(keep_cached=False)
            found = self._find(kid)
            if found is not None:
                return found
        if not self._reachable:  # the key may well exist: the issuer just cannot tell us now
            raise Refused("identity_unavailable", "the issuer's JWKS cannot be fetched")
        raise Refused("bad_signature", f"no key {kid!r:.40} in the issuer's JWKS")

    def _may_fetch(self) -> bool:
        """At most one request to the issuer per ``min_refetch_s``, whatever the tokens say and
        whether or not the issuer answers (an outage must not add a timeout to every hello)."""
        return self._attempted_at is None or self._monotonic() - self._attempted_at >= self.min_refetch_s

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    async def _refresh(self, *, keep_cached: bool) -> None:
        attempt = self._attempts
        async with self._lock:
            if self._attempts == attempt:  # nobody refreshed while this caller waited for the lock
                self._attempts += 1
                self._attempted_at = self._monotonic()
                try:
                    self._keys = await self._fetch()
                    self._fetched_at, self._reachable = self._monotonic(), True
                except (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWKSetError) as err:
                    self.stats.failures += 1
                    self._reachable = False
                    log.warning("JWKS %s unavailable: %s", self.url, type(err).__name__)
        if not self._reachable and not keep_cached:
            raise Refused("identity_unavailable", "the issuer's JWKS cannot be fetched")

    async def _fetch(self) -> dict[str | None, jwt.PyJWK]:
        self.stats.fetches += 1
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as http, http.get(self.url) as response:
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            body = await response.json(content_type=None)
        if not isinstance(body, dict):
            raise ValueError("not a JWKS document")
        keys = jwt.PyJWKSet.from_dict(body).keys
        return {key.key_id: key for key in keys}

"""One agent's GWS session: login + CSRF, CometD notifications, REST re-read after every (re)connect.

Flow (GWS API v2; v3 has the same steps on other paths, see ``dialects``):
1. ``GET /api/v2/me`` with Basic auth on one aiohttp session (cookie jar: JSESSIONID) -> the
   ``X-CSRF-HEADER``/``X-CSRF-TOKEN`` pair and the agent's DN and device id.
2. CometD on the same HTTP session (the CSRF header goes on every POST, Bayeux included),
   subscribe ``/v2/me/calls`` and ``/v2/me/devices``.
3. After the first connect ``POST /api/v2/me StartContactCenterSession``.
4. ``GET /api/v2/me/calls`` handed on as ``{"rest": "calls", "dn", "body"}``: whatever happened
   while no subscription existed is in that snapshot. Repeated after the library's own
   re-handshake, and after every rebuild (server restart, expired session: 401 -> re-login).

Outputs: ``on_message(dn, raw, t)`` for every Bayeux data message and REST record, and
``on_link(dn, status, t, detail)`` with status ``connected``, ``lost``, ``login_failed`` (detail
``HTTP 401 ...``), ``csrf_failed``, ``session_expired``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from yarl import URL

from ctibridge.core.pacing import Backoff
from ctibridge.gws.cometd import CometdLink, LinkTimeouts
from ctibridge.gws.dialects import DIALECTS, Dialect
from ctibridge.gws.errors import GwsHttpError, LoginFailed
from ctibridge.gws.settings import GwsAgent, GwsSettings

log = logging.getLogger(__name__)

OnMessage = Callable[[str, dict[str, Any], float], Awaitable[None] | None]
OnLink = Callable[[str, str, float, str], Awaitable[None] | None]


class GwsSession:
    def __init__(
        self,
        settings: GwsSettings,
        agent: GwsAgent,
        *,
        on_message: OnMessage,
        on_link: OnLink,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.agent = agent
        self.dialect: Dialect = DIALECTS[settings.dialect]
        self.base_url = settings.base_url.rstrip("/")
        self.dn = agent.dn
        self.device_id = ""
        self.status = "starting"
        self.detail = ""
        self._on_message = on_message
        self._on_link = on_link
        self._clock = clock
        self._csrf: tuple[str, str] | None = None  # (header name, token)
        self._http: aiohttp.ClientSession | None = None
        self._link: CometdLink | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"GwsSession({self.agent.username!r}, dn={self.dn!r}, {self.dialect.name}, {self.status})"

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("GwsSession not started")
        return self._http

    # ------------------------------------------------------------------ life

    async def start(self) -> None:
        headers = {}
        jar = aiohttp.CookieJar(unsafe=True)  # GWS needs its cookie, also on an IP address
        agent = self.agent
        if agent.password is not None:  # Basic auth on every request, as GWS's own examples do
            headers["Authorization"] = aiohttp.encode_basic_auth(agent.username,
                                                                 agent.password.get_secret_value())
        elif agent.bearer is not None:
            headers["Authorization"] = f"Bearer {agent.bearer.get_secret_value()}"
        elif agent.session_cookie is not None:  # the agent's own session, shared with its browser
            jar.update_cookies({agent.cookie_name: agent.session_cookie.get_secret_value()},
                               URL(self.base_url))
        if self.settings.api_key:
            headers["x-api-key"] = self.settings.api_key.get_secret_value()
        self._http = aiohttp.ClientSession(cookie_jar=jar, headers=headers,
                                           middlewares=(self._csrf_middleware,))
        self._link = CometdLink(
            self.base_url + self.dialect.notifications_path,
            self.dialect.channels,
            on_message=self._on_bayeux,
            on_up=self._on_up,
            on_down=self._on_down,
            http=self._http,
            before_open=self.login,
            connection_types=self.settings.connection_types,
            timeouts=LinkTimeouts(self.settings.open_timeout, self.settings.connection_timeout),
            backoff=Backoff(self.settings.backoff_initial, self.settings.backoff_max),
        )
        self._task = asyncio.create_task(self._link.run(), name=f"gws-{self.agent.username}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._http:
            await self._http.close()
        self.status = "stopped"

    # ------------------------------------------------------------------ REST

    async def login(self) -> None:
        """GET the login resource: new session cookie if needed, the CSRF pair, DN and device id.
        Also the way to refresh a rejected CSRF token or an expired session."""
        self._csrf = None
        try:
            body, response = await self.request("GET", self.dialect.login_path)
        except GwsHttpError as exc:
            raise LoginFailed(exc.status, exc.message) from exc
        header = response.headers.get("X-CSRF-HEADER")
        token = response.headers.get(header) if header else None
        self._csrf = (header, token) if header and token else None
        self._learn_device(body)

    def _learn_device(self, body: Any) -> None:
        user = body.get("user") if isinstance(body, dict) else None
        devices = user.get("devices") if isinstance(user, dict) else None
        for device in devices if isinstance(devices, list) else []:
            if isinstance(device, dict) and (not self.agent.dn or device.get("phoneNumber") == self.agent.dn):
                self.dn = str(device.get("phoneNumber") or self.dn)
                self.device_id = str(device.get("id") or "")
                return
        if not self.dn:
            raise LoginFailed(200, "no DN: the login reply lists no device and none is configured")

    async def request(self, method: str, path: str, body: Any = None) -> tuple[Any, ClientResponse]:
        """One REST call, bounded by the request timeout. Raises GwsHttpError on 4xx/5xx."""
        timeout = aiohttp.ClientTimeout(total=self.settings.request_timeout)
        async with self.http.request(method, self.base_url + path, json=body, timeout=timeout) as response:
            text = await response.text()
            parsed = _json_or_text(text)
            if response.status >= 400:
                raise GwsHttpError(response.status, _server_message(parsed))
            return parsed, response

    async def _start_contact_center_session(self) -> None:
        await self.request("POST", self.dialect.start_path, self.dialect.start_body(self.dn))

    async def reread_calls(self) -> None:
        body, _ = await self.request("GET", self.dialect.calls_path)
        await self._deliver(
            self._on_message, self.dn, {"rest": "calls", "dn": self.dn, "body": body}, self._clock()
        )

    # ------------------------------------------------------------------ link callbacks

    async def _on_bayeux(self, message: dict[str, Any]) -> None:
        await self._deliver(self._on_message, self.dn, message, self._clock())

    async def _on_up(self, how: str) -> None:
        if how == "connected":  # a fresh build: new HTTP session state on the server side
            await self._start_contact_center_session()
        await self.reread_calls()
        await self._link_event("connected", how)

    async def _on_down(self, reason: BaseException | str) -> None:
        if isinstance(reason, LoginFailed):
            await self._link_event("login_failed", str(reason))
        elif isinstance(reason, GwsHttpError) and reason.status in (401, 403):
            await self._link_event("session_expired" if reason.status == 401 else "csrf_failed", str(reason))
        elif isinstance(reason, str):
            await self._link_event("lost", reason)
        else:
            await self._link_event("lost", f"{type(reason).__name__}: {reason}")

    async def _link_event(self, status: str, detail: str) -> None:
        if status in ("login_failed", "session_expired", "csrf_failed"):  # the operator must act
            log.error("GWS %s (dn %s): %s: %s", self.agent.username, self.dn or "?", status, detail)
        self.status, self.detail = status, detail
        await self._deliver(self._on_link, self.dn or self.agent.username, status, self._clock(), detail)

    async def _deliver(self, callback: Callable[..., Awaitable[None] | None], *args: Any) -> None:
        """A consumer's bug must not tear the GWS link down: log it and go on."""
        try:
            result = callback(*args)
            if result is not None:
                await result
        except Exception:
            log.exception("GWS %s: %s failed", self.agent.username, getattr(callback, "__name__", callback))

    # ------------------------------------------------------------------ HTTP middleware

    async def _csrf_middleware(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        if request.method in ("POST", "PUT", "DELETE") and self._csrf:
            request.headers[self._csrf[0]] = self._csrf[1]
        response = await handler(request)
        # The library only sees an unparsable reply and retries; a 401/403 on Bayeux means the HTTP
        # session or its CSRF token is gone, which only a re-login repairs.
        if (
            request.url.path.endswith(self.dialect.notifications_path)  # base_url may carry a prefix
            and response.status in (401, 403)
            and self._link
        ):
            self._link.rebuild(GwsHttpError(response.status, f"Bayeux {request.method} refused"))
        return response


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _server_message(body: Any) -> str:
    if isinstance(body, dict):
        status = body.get("status")  # v3: {"status": {"code": ..., "message": ...}}
        v3_message = status.get("message") if isinstance(status, dict) else None
        return str(body.get("statusMessage") or v3_message or body.get("message") or body)[:300]
    return str(body).strip()[:300]

"""All followed agents: one :class:`GwsSession` each, started, supervised and stopped
independently. One agent's refused login never touches the others (each session is its own task
with its own backoff).

Two ways to have agents: configured with their passwords (the lab: ``gws.follow = "password"``,
all started with ``start``), or inherited (``gws.follow = "session"``): ``attach`` follows an
agent with its own session while its widget is connected, ``release`` stops that session after a
linger, and the DN's link then reports ``stopped`` (the core stops expecting Genesys events for it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from ctibridge.gws.operations import GwsOperations
from ctibridge.gws.session import GwsSession, OnLink, OnMessage
from ctibridge.gws.settings import GwsAgent, GwsSettings


@dataclass(frozen=True)
class AgentStatus:
    username: str
    dn: str
    status: str  # starting, connected, lost, login_failed, csrf_failed, session_expired, stopped
    detail: str


class GwsAgents:
    def __init__(
        self,
        settings: GwsSettings,
        *,
        on_message: OnMessage,
        on_link: OnLink,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._on_message, self._on_link, self._clock = on_message, on_link, clock
        self.sessions = {agent.username: self._session(agent) for agent in settings.agents}
        self._lingering: dict[str, asyncio.Task[None]] = {}

    def _session(self, agent: GwsAgent) -> GwsSession:
        return GwsSession(self.settings, agent, on_message=self._on_message, on_link=self._on_link,
                          clock=self._clock)

    async def start(self) -> None:
        for session in self.sessions.values():
            await session.start()

    async def stop(self) -> None:
        for task in self._lingering.values():
            task.cancel()
        await asyncio.gather(*self._lingering.values(), return_exceptions=True)
        await asyncio.gather(*(session.stop() for session in self.sessions.values()))

    async def attach(self, agent: GwsAgent) -> None:
        """Follow ``agent`` with the credential it signed in with; a session already following it
        with the same credential just stops lingering, one with an older credential is replaced."""
        lingering = self._lingering.pop(agent.username, None)
        if lingering is not None:
            lingering.cancel()
        current = self.sessions.get(agent.username)
        if current is not None and current.agent == agent:
            return
        if current is not None:
            await current.stop()
        session = self.sessions[agent.username] = self._session(agent)
        await session.start()

    def release(self, username: str, linger_s: float) -> None:
        """The agent's last widget went away: stop following it after ``linger_s``."""
        session = self.sessions.get(username)
        if session is not None and username not in self._lingering:
            self._lingering[username] = asyncio.create_task(self._linger(session, linger_s))

    async def _linger(self, session: GwsSession, linger_s: float) -> None:
        await asyncio.sleep(linger_s)
        self.sessions.pop(session.agent.username, None)
        del self._lingering[session.agent.username]
        await session.stop()
        result = self._on_link(session.dn, "stopped", self._clock(), "no widget of the agent connected")
        if result is not None:
            await result

    def session_for_dn(self, dn: str) -> GwsSession:
        for session in self.sessions.values():
            if session.dn == dn:
                return session
        raise KeyError(f"no GWS session for DN {dn}")

    def operations(self, dn: str) -> GwsOperations:
        return GwsOperations(self.session_for_dn(dn))

    def status(self) -> list[AgentStatus]:
        """For /readyz: one line per agent."""
        return [AgentStatus(s.agent.username, s.dn, s.status, s.detail) for s in self.sessions.values()]

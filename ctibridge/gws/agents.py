"""All configured agents: one :class:`GwsSession` each, started, supervised and stopped
independently. One agent's refused login never touches the others (each session is its own task
with its own backoff)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from ctibridge.gws.operations import GwsOperations
from ctibridge.gws.session import GwsSession, OnLink, OnMessage
from ctibridge.gws.settings import GwsSettings


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
        self.sessions = {
            agent.username: GwsSession(settings, agent, on_message=on_message, on_link=on_link, clock=clock)
            for agent in settings.agents
        }

    async def start(self) -> None:
        for session in self.sessions.values():
            await session.start()

    async def stop(self) -> None:
        await asyncio.gather(*(session.stop() for session in self.sessions.values()))

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

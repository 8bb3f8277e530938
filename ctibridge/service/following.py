"""``gws.follow = "session"``: the bridge holds no agent password. While an agent's widget is
connected, the bridge follows that agent's Genesys events with the agent's own GWS session (the
cookie of a ``session`` sign-in, or the JWT as bearer with ``auth.jwt.bearer_for_gws``); when the
agent's last widget leaves, it keeps following for ``gws.linger_s``, then stops and the DN's
Genesys link reports ``stopped`` (see docs/security.md for what the bridge knows after that).

Only the owning instance follows (it holds the GWS sessions); a widget connected to a follower
instance is not followed by it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from ctibridge.gws.agents import GwsAgents
from ctibridge.gws.settings import GwsAgent
from ctibridge.hub.server import Principal
from ctibridge.identity.identity import Identity


class SessionFollowing:
    def __init__(self, agents: Callable[[], GwsAgents | None], linger_s: float) -> None:
        self.agents, self.linger_s = agents, linger_s
        self._widgets: Counter[str] = Counter()  # connected widgets per agent

    async def presence(self, principal: Principal, dn: str, connected: bool) -> None:
        """The hub's ``on_presence``: a widget of ``principal`` on ``dn`` was admitted or left."""
        agents = self.agents()
        if not isinstance(principal, Identity) or principal.gws is None or agents is None:
            return  # a bridge-minted token carries no GWS session; a follower holds no GWS sessions
        if connected:
            self._widgets[principal.agent] += 1
            await agents.attach(_gws_agent(principal, dn))
            return
        if principal.agent not in self._widgets:
            return  # connected while this instance was not the owner
        self._widgets[principal.agent] -= 1
        if self._widgets[principal.agent] == 0:
            del self._widgets[principal.agent]
            agents.release(principal.agent, self.linger_s)


def _gws_agent(identity: Identity, dn: str) -> GwsAgent:
    credential = identity.gws
    assert credential is not None
    if credential.kind == "bearer":
        return GwsAgent(username=identity.agent, dn=dn, bearer=credential.value)
    return GwsAgent(username=identity.agent, dn=dn, session_cookie=credential.value,
                    cookie_name=credential.cookie_name)

"""Genesys side: CometD notifications (aiocometd-noloop) and REST operations, one session per agent."""

from ctibridge.gws.agents import AgentStatus, GwsAgents
from ctibridge.gws.errors import GwsOperationError
from ctibridge.gws.operations import GwsOperations
from ctibridge.gws.session import GwsSession
from ctibridge.gws.settings import GwsAgent, GwsSettings

__all__ = [
    "AgentStatus",
    "GwsAgent",
    "GwsAgents",
    "GwsOperationError",
    "GwsOperations",
    "GwsSession",
    "GwsSettings",
]

"""GWS 8.5 simulator speaking real Bayeux; see ``server.GwsSimulator``."""

from ctibridge.sim.gws.bayeux import Advice
from ctibridge.sim.gws.server import GwsSimulator, Operation, SimAgent

__all__ = ["Advice", "GwsSimulator", "Operation", "SimAgent"]

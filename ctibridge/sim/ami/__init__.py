"""AMI simulator: the recorded behaviour of the Asterisk 22 gateway, for the demo and benchmarks.

The real-Asterisk tests are the truth; use this only where a real Asterisk cannot run.
"""

from ctibridge.sim.ami.pbx import Pbx, PbxError, SimChannel
from ctibridge.sim.ami.server import AmiSimulator

__all__ = ["AmiSimulator", "Pbx", "PbxError", "SimChannel"]

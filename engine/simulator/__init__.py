"""A local Microsoft 365 and Google Workspace tenant that speaks the real APIs over HTTP.

Seeded from native snapshots, it serves the Graph v1.0, Admin SDK Directory,
Gmail and Cloud Identity subset that safeguard reads and writes. It issues
tokens, pages results, injects throttling and server errors on demand and logs
every write. `safeguard collect` and remediation can so run end to end on
127.0.0.1.
"""

from engine.simulator.faults import Fault, FaultPlan, fault_from_dict
from engine.simulator.server import CONTROL_PREFIX, Simulator

__all__ = ["CONTROL_PREFIX", "Fault", "FaultPlan", "Simulator", "fault_from_dict"]

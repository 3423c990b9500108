"""agentsim: agent-based simulation of the frontier-AI race (trusted release, export controls).

Public entry points: :func:`load_config` (validated scenarios), :class:`AIRaceModel` (the Mesa
model), :func:`run` (one run, the only step loop) and :func:`simulate` (a flat function
interface for exploratory-modelling and sensitivity tools).
"""

from agentsim.config import Config, ConfigError
from agentsim.model import AIRaceModel
from agentsim.run import RunResult, run, simulate
from agentsim.scenario_io import load_config

__all__ = ["AIRaceModel", "Config", "ConfigError", "RunResult", "load_config", "run", "simulate"]
__version__ = "0.1.0"

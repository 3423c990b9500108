"""agentsim: agent-based simulation of the frontier-AI race (trusted release, export controls).

Public entry points: :func:`load_config` (validated scenarios), :class:`AIRaceModel` (the Mesa
model), :func:`run` (one run, the only step loop) and :func:`simulate` (a flat function
interface for exploratory-modelling and sensitivity tools), :func:`load_uncertainty`,
:func:`run_explore` and :func:`run_sensitivity` (batches under parameter uncertainty),
:func:`calibrate` (fitting assumptions to targets by ABC-SMC, with a fit report) and
:func:`read_batch` (a stored batch folder's runs, time series and manifest).

The names are loaded on first use, so ``import agentsim`` (and the command line's ``--help``
and ``validate``) do not import Mesa, pandas or the model. ``agentsim.run`` is the function
:func:`agentsim.run.run`, as it always was, even after the submodule of that name is imported.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentsim.calibration import calibrate
    from agentsim.config import Config, ConfigError
    from agentsim.explore import run_explore, run_sensitivity
    from agentsim.model import AIRaceModel
    from agentsim.run import RunResult, simulate
    from agentsim.scenario_io import load_config
    from agentsim.store import read_batch
    from agentsim.uncertainty import load_uncertainty

__all__ = [
    "AIRaceModel",
    "Config",
    "ConfigError",
    "RunResult",
    "calibrate",
    "load_config",
    "load_uncertainty",
    "read_batch",
    "run",
    "run_explore",
    "run_sensitivity",
    "simulate",
]
__version__ = "0.1.0"

#: Where each public name lives.
_HOMES = {
    "AIRaceModel": "agentsim.model",
    "Config": "agentsim.config",
    "ConfigError": "agentsim.config",
    "RunResult": "agentsim.run",
    "simulate": "agentsim.run",
    "calibrate": "agentsim.calibration",
    "load_config": "agentsim.scenario_io",
    "load_uncertainty": "agentsim.uncertainty",
    "read_batch": "agentsim.store",
    "run_explore": "agentsim.explore",
    "run_sensitivity": "agentsim.explore",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (raises ``AttributeError`` for any
    other missing name)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'agentsim' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Module attributes, the lazily loaded public names included."""
    return sorted({*globals(), *__all__})


class _Package(ModuleType):
    """The package's module type: ``run`` is the function, not the submodule."""

    @property
    def run(self) -> Any:
        """:func:`agentsim.run.run`, imported on first use (or what was assigned to it)."""
        assigned = self.__dict__.get("_run_function")
        if assigned is not None:
            return assigned
        return import_module("agentsim.run").run

    @run.setter
    def run(self, value: Any) -> None:
        # importing the submodule assigns it here; keep the function in its place
        if not isinstance(value, ModuleType):
            self.__dict__["_run_function"] = value


sys.modules[__name__].__class__ = _Package

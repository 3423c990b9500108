"""One run of the model: the step loop behind the CLI, batches and tests, and its result.

:func:`run` builds an :class:`~agentsim.model.AIRaceModel`, steps it, and returns a
:class:`RunResult` with the recorded tables and the run summary; :func:`collect` turns any
stepped model into the same result (the app steps its model through Mesa's SolaraViz, which
calls ``model.step()``; every step records the same tables either way). :func:`simulate` is
the flat function interface for exploratory-modelling and sensitivity tools.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from agentsim import observe
from agentsim.config import Config, ConfigError
from agentsim.events import events_frame
from agentsim.model import AIRaceModel
from agentsim.scenario_io import apply_overrides, config_to_dict, load_config, validate_config


class AuditError(RuntimeError):
    """A run broke an accounting or conservation invariant."""


@dataclass
class RunResult:
    """Everything one run produced: recorded tables, summary and talent flows."""

    config: Config
    seed: int
    model_frame: pd.DataFrame
    lab_frame: pd.DataFrame
    summary: dict[str, Any]
    flows: pd.DataFrame
    network: pd.DataFrame  #: aggregated ties at the end (see AIRaceModel.network_snapshot)
    events: pd.DataFrame  #: every release, relocation, exit, overtake and repeal, in order


def run(
    config: Config,
    seed: int = 0,
    steps: int | None = None,
    audit: bool = False,
    on_step: Callable[[AIRaceModel], None] | None = None,
) -> RunResult:
    """Run one simulation and collect its outputs.

    Args:
        config: the validated scenario.
        seed: root seed; same config and seed give identical results.
        steps: months to run (default: ``config.simulation.steps``); validated with the config
            (a :class:`~agentsim.config.ConfigError` names ``simulation.steps`` when out of bounds).
        audit: check accounting and conservation after every step (raises :class:`AuditError`).
        on_step: called with the model after every step (progress bars, the app).
    """
    if steps is not None and steps != config.simulation.steps:
        # validated as a whole, so every rule that depends on the horizon applies; the stored
        # config then says what was run
        config = validate_config(
            apply_overrides(config_to_dict(config), {"simulation.steps": steps})
        )
    steps = config.simulation.steps
    model = AIRaceModel(config, rng=seed)
    for _ in range(steps):
        before = model.snapshot() if audit else None
        model.step()
        if audit:
            problems = model.audit(before)
            if problems:
                raise AuditError(f"step {model.steps}: " + "; ".join(problems))
        if on_step is not None:
            on_step(model)
    return collect(model)


def collect(model: AIRaceModel) -> RunResult:
    """Turn a stepped model's records into a :class:`RunResult`."""
    frame = observe.model_frame(model)
    return RunResult(
        config=model.config,
        seed=model.seed,
        model_frame=frame,
        lab_frame=observe.lab_frame(model),
        summary=observe.summarize(model, frame),
        flows=observe.flows_frame(model),
        network=observe.network_snapshot(model),
        events=events_frame(model.events),
    )


def simulate(
    config: Config | str | Path | None = None,
    seed: int = 0,
    steps: int | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Run once and return the summary as a flat dict of scalars; an outcome the run leaves
    undefined (``overtake_month`` without an overtake, say) is NaN, not None.

    Override names are dotted config paths given as keyword names, e.g.
    ``simulate(**{"policy.trusted_release.trusted_fraction": 0.01})``. ``config`` is a
    :class:`Config`, a scenario path, or None for the calibrated baseline. Unknown names raise
    :class:`~agentsim.config.ConfigError` with a did-you-mean.
    """
    if steps is not None and "simulation.steps" in overrides:
        raise ConfigError("steps", "give steps or simulation.steps, not both")
    if isinstance(config, Config):
        cfg = validate_config(apply_overrides(config_to_dict(config), overrides))
    else:
        cfg = load_config(config, overrides=overrides)
    summary = run(cfg, seed=seed, steps=steps).summary
    # an outcome the run leaves undefined (None in summary.json) is NaN here, so numpy and
    # exploratory-modelling tools (EMA Workbench refuses None) read every value as a number
    return {key: math.nan if value is None else value for key, value in summary.items()}

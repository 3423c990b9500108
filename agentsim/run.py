"""One run of the model: the only step loop, used by the CLI, Monte Carlo, the app and the tests.

:func:`run` builds an :class:`~agentsim.model.AIRaceModel`, steps it, and returns a
:class:`RunResult` with the recorded tables and the run summary. :func:`simulate` is the flat
function interface for exploratory-modelling and sensitivity tools.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agentsim.agents import Lab
from agentsim.config import Config, ConfigError
from agentsim.model import LAB_COLUMNS, MODEL_COLUMNS, AIRaceModel
from agentsim.scenario_io import load_config

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "baseline.yaml"


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


def month_dates(start: str, steps: int) -> pd.DatetimeIndex:
    """First day of each month from ``start`` (YYYY-MM) for steps 0..steps."""
    return pd.date_range(pd.Timestamp(f"{start}-01"), periods=steps + 1, freq="MS")


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
        steps: months to run (default: ``config.simulation.steps``).
        audit: check accounting and conservation after every step (raises :class:`AuditError`).
        on_step: called with the model after every step (progress bars, the app).
    """
    if steps is not None and steps != config.simulation.steps:
        if steps < 1:
            raise ConfigError("steps", f"must be >= 1 (got {steps})")
        config = config.model_copy(deep=True)
        config.simulation.steps = steps  # the stored config then says what was run
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
    dates = month_dates(model.config.simulation.start, model.steps)
    frame = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    frame.insert(0, "date", dates[: len(frame)])
    frame.insert(0, "step", np.arange(len(frame)))
    frame = frame[["step", "date", *MODEL_COLUMNS]]

    labs = model.datacollector.get_agenttype_vars_dataframe(Lab).reset_index()
    names = {lab.unique_id: lab.name for lab in model.labs}
    labs["step"] = labs["Step"].round().astype(int)
    labs["lab"] = labs["AgentID"].map(names)
    labs["date"] = dates[labs["step"].to_numpy()]
    labs = labs[["step", "date", "lab", *LAB_COLUMNS]].sort_values(["step", "lab"], kind="stable")
    flows = pd.DataFrame(
        model.talent_flows,
        index=pd.Index(model.codes, name="from"),
        columns=pd.Index(model.codes, name="to"),
    )
    return RunResult(
        config=model.config,
        seed=model.seed,
        model_frame=frame,
        lab_frame=labs.reset_index(drop=True),
        summary=summarize(model, frame),
        flows=flows,
        network=model.network_snapshot(),
    )


def _finite_or_none(value: Any) -> Any:
    """Undefined numbers (NaN, a side with no lab left) become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _mean_gap(steps: list[int]) -> float | None:
    return float(np.mean(np.diff(steps))) if len(steps) >= 2 else None


def summarize(model: AIRaceModel, frame: pd.DataFrame) -> dict[str, Any]:
    """The run summary: a flat dict of scalars (None where a quantity is undefined)."""
    last = frame.iloc[-1]
    years = max(len(frame) - 1, 1) / 12.0
    frontier = frame[["frontier_capability_us", "frontier_capability_non_us"]].max(axis=1)
    growth = float(frontier.iloc[-1] - frontier.iloc[0]) / years
    lead0 = float(
        frame["frontier_capability_us"].iloc[0] - frame["frontier_capability_non_us"].iloc[0]
    )
    non_us_leads = frame["leader_jurisdiction"] != "US"
    overtake = frame.loc[non_us_leads, "step"]
    us = model.lab_is_us
    us_releases = [s for s, lab, _, _ in model.release_log if us[lab]]
    us_frontier = [s for s, lab, _, top in model.release_log if us[lab] and top]
    repealed = model.governments["US"].repealed_at if "US" in model.governments else None
    summary: dict[str, Any] = {
        "seed": model.seed,
        "steps": int(model.steps),
        "overtake_month": int(overtake.iloc[0]) if len(overtake) else None,
        "overtaken": bool(len(overtake)),
        "non_us_lead_months": int(non_us_leads.iloc[1:].sum()),
        "final_frontier_capability_us": float(last["frontier_capability_us"]),
        "final_frontier_capability_non_us": float(last["frontier_capability_non_us"]),
        "final_us_lead_ooms": float(
            last["frontier_capability_us"] - last["frontier_capability_non_us"]
        ),
        "initial_us_lead_months": lead0 / (growth / 12.0) if growth > 0 else None,
        "frontier_growth_ooms_per_year": growth,
        "final_us_user_share": float(last["us_user_share"]),
        "final_us_revenue_share": float(last["us_revenue_share"]),
        "final_us_capital_share": float(last["us_capital_share"]),
        "final_us_talent_share": float(last["us_talent_share"]),
        "total_us_rd_spend": float(frame["us_rd_spend"].sum()),
        "total_non_us_rd_spend": float(frame["non_us_rd_spend"].sum()),
        "us_frontier_releases": int(last["us_frontier_releases"]),
        "non_us_frontier_releases": int(last["non_us_frontier_releases"]),
        "mean_months_between_us_frontier_releases": _mean_gap(us_frontier),
        "mean_months_between_us_releases": _mean_gap(us_releases),
        "trusted_release_repealed_month": repealed,
        "labs_exited": int((~model.lab_active).sum()),
        "lab_relocations": len(model.relocations),
        "unemployed_researchers": int((model.researcher_employer < 0).sum()),
    }
    for i, code in enumerate(model.codes):
        mine = model.lab_jurisdiction == i
        best = model.lab_deployed[mine].max(initial=-np.inf)
        summary[f"final_best_capability_{code}"] = float(best) if mine.any() else None
    summary = {k: _finite_or_none(v) for k, v in summary.items()}
    for i, a in enumerate(model.codes):
        for j, b in enumerate(model.codes):
            summary[f"talent_flow_{a}_{b}"] = int(model.talent_flows[i, j])
    return summary


def simulate(
    config: Config | str | Path | None = None,
    seed: int = 0,
    steps: int | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Run once and return the summary as a flat dict of scalars.

    Override names are dotted config paths given as keyword names, e.g.
    ``simulate(**{"policy.trusted_release.trusted_fraction": 0.01})``. ``config`` is a
    :class:`Config`, a scenario path, or None for configs/baseline.yaml. Unknown names raise
    :class:`ConfigError` with a did-you-mean.
    """
    if isinstance(config, Config):
        from agentsim.scenario_io import apply_overrides, config_to_dict, validate_config

        cfg = validate_config(apply_overrides(config_to_dict(config), overrides))
    else:
        cfg = load_config(config if config is not None else DEFAULT_CONFIG, overrides=overrides)
    summary = run(cfg, seed=seed, steps=steps).summary
    return summary

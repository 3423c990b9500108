"""The interactive app: Mesa's SolaraViz page for AIRaceModel (``agentsim viz``).

Shows the aggregated network (labs sized by capability and coloured by jurisdiction,
researcher and investor pools, employment and investment ties), live time series of the
frontier race and of US shares, a table of labs, and controls for the policy levers and the
seed; SolaraViz adds play, step and reset. The scenario comes from ``AGENTSIM_VIZ_CONFIG`` (a
path or a shipped scenario's name; default: the calibrated baseline shipped with the package).
Run with ``agentsim viz [CONFIG]``.

The controls are generated from :data:`agentsim.config.LEVERS` and the schema
(:func:`agentsim.config.parameter_spec`): one per lever, labelled with the parameter's
description and unit, its range read from the schema's bounds by :func:`slider_range`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz, make_plot_component
from mesa.visualization.utils import update_counter

from agentsim.config import LEVERS, Config, ParameterSpec, parameter_spec
from agentsim.figures import JURISDICTION_COLOURS, network_snapshot
from agentsim.model import AIRaceModel
from agentsim.scenario_io import DEFAULT_SCENARIO, load_config, scenario_path

#: About how many positions a slider has between its ends (sets the step).
SLIDER_POSITIONS = 1000

#: Puts each slider's label (a parameter's description, often long) on its own line above
#: the slider, so the slider keeps the panel's full width.
CONTROL_CSS = """
.v-input__slider .v-input__slot { flex-wrap: wrap; }
.v-input__slider .v-input__slot > .v-label {
  flex: 1 0 100%; max-width: 100%; white-space: normal; height: auto; margin: 0 0 4px 0;
}
"""


def _nice_step(span: float, integer: bool) -> float:
    """A power of ten near ``span / SLIDER_POSITIONS`` (at least 1 for integers)."""
    step = 10.0 ** math.floor(math.log10(span / SLIDER_POSITIONS)) if span > 0 else 1.0
    return max(1, int(step)) if integer else step


def slider_range(spec: ParameterSpec, value: float | None = None) -> tuple[float, float, float]:
    """Display range ``(min, max, step)`` of a numeric parameter's slider.

    The one place where display ranges are chosen:

    - a closed bound (``ge``/``le``) is the slider's end;
    - an absent lower bound is 0, or ten times the value when that is negative; an absent
      upper bound is ten times the larger of the value and 1 above the lower end (the value
      is the scenario's, else the schema default);
    - the step is the power of ten nearest below a thousandth of the span (at least 1 for
      integers);
    - an open bound (``gt``/``lt``) is moved inward by one step, so the slider never offers
      the excluded value.

    Every value the slider offers is thus inside the schema's bounds.
    """
    integer = spec.type is int
    ref = float(spec.default if value is None else value)
    low = spec.lower if spec.lower is not None else min(0.0, 10 * ref)
    if spec.upper is not None:
        high = spec.upper
    else:
        high = max(10 * max(ref, 1.0), low + 1.0)
    step = _nice_step(high - low, integer)
    if spec.lower is not None and not spec.lower_inclusive:
        low += step
    if spec.upper is not None and not spec.upper_inclusive:
        high -= step
    if integer:
        low, high = math.ceil(low), math.floor(high)
    return low, high, step


def control_label(spec: ParameterSpec) -> str:
    """A control's label: the parameter's description with its unit."""
    text = spec.description.rstrip(".")
    return text if spec.unit in ("-", "") else f"{text} ({spec.unit})"


def _value_at(config: Config, path: str) -> Any:
    node: Any = config
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def lever_control(spec: ParameterSpec, value: Any) -> dict[str, Any]:
    """The SolaraViz control of one lever: a checkbox for a switch, else a slider."""
    if spec.type is bool:
        return {"type": "Checkbox", "value": bool(value), "label": control_label(spec)}
    low, high, step = slider_range(spec, value)
    integer = spec.type is int
    shown = min(max(value, low), high)
    return {
        "type": "SliderInt" if integer else "SliderFloat",
        "value": int(shown) if integer else float(shown),
        "min": low,
        "max": high,
        "step": step,
        "label": control_label(spec),
    }


def lever_controls(config: Config, scenario: str | Path) -> dict[str, Any]:
    """SolaraViz model parameters: the scenario (fixed), the seed and one control per lever."""
    params: dict[str, Any] = {
        "config": str(scenario),
        "rng": {"type": "SliderInt", "value": 0, "min": 0, "max": 999, "step": 1, "label": "Seed"},
    }
    for name, path in LEVERS.items():
        params[name] = lever_control(parameter_spec(path), _value_at(config, path))
    return params


def lab_table(model: AIRaceModel) -> pd.DataFrame:
    """The labs now, one row each, for the table and the network view."""
    return pd.DataFrame(
        [
            {
                "step": model.steps,
                "lab": lab.name,
                "jurisdiction": lab.jurisdiction,
                "capability": round(lab.capability, 2),
                "public": round(lab.public_capability, 2),
                "state": lab.release_state.name.lower(),
                "users (M)": round(lab.users / 1e6, 1),
                "revenue ($M/mo)": round(lab.revenue / 1e6, 1),
                "cash ($B)": round(lab.cash / 1e9, 1),
                "researchers": lab.researchers,
                "active": lab.active,
            }
            for lab in model.labs
        ]
    )


@solara.component
def NetworkView(model: AIRaceModel) -> None:  # noqa: N802 (Solara components are nouns)
    """Aggregated network, redrawn every step (it also styles the controls' labels)."""
    solara.Style(CONTROL_CSS)
    update_counter.get()
    figure: Figure = network_snapshot(
        model.network_snapshot(), lab_table(model), title=f"Network at step {model.steps}"
    )
    solara.FigureMatplotlib(figure, format="png", bbox_inches="tight")


@solara.component
def LabTable(model: AIRaceModel) -> None:  # noqa: N802
    """Table of labs, refreshed every step."""
    update_counter.get()
    solara.Markdown(f"**Labs at step {model.steps}**")
    solara.DataFrame(lab_table(model), items_per_page=20)


def _frontier_axes(ax) -> None:
    ax.set_ylabel("frontier capability (log10 FLOP)")


def _share_axes(ax) -> None:
    ax.set_ylabel("US share (0-1)")
    ax.set_ylim(0, 1)


def page_scenario(scenario: str | Path | None = None) -> Path:
    """The scenario file the page shows: ``scenario``, else ``AGENTSIM_VIZ_CONFIG``, else the
    shipped baseline; a shipped scenario's bare name is resolved to its file."""
    return scenario_path(scenario or os.environ.get("AGENTSIM_VIZ_CONFIG") or DEFAULT_SCENARIO)


def build_page(scenario: str | Path | None = None):
    """The SolaraViz page for a scenario (see :func:`page_scenario`)."""
    path = page_scenario(scenario)
    config = load_config(path)
    model = AIRaceModel(config, rng=0)
    frontier = make_plot_component(
        {
            "frontier_capability_us": JURISDICTION_COLOURS["US"],
            "frontier_capability_non_us": JURISDICTION_COLOURS["CN"],
        },
        post_process=_frontier_axes,
    )
    shares = make_plot_component(
        {"us_user_share": "#1f77b4", "us_capital_share": "#2ca02c", "us_talent_share": "#9467bd"},
        post_process=_share_axes,
    )
    return SolaraViz(
        model,
        components=[NetworkView, frontier, shares, LabTable],
        model_params=lever_controls(config, path),
        name=f"agentsim: {config.name}",
    )


page = build_page()

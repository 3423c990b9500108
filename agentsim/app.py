"""The interactive app: Mesa's SolaraViz page for AIRaceModel (``agentsim viz``).

Shows the aggregated network (labs sized by capability and coloured by jurisdiction,
researcher and investor pools, employment and investment ties), live time series of the
frontier race and of US shares, a table of labs, and controls for the policy levers and the
seed; SolaraViz adds play, step and reset. The scenario comes from ``AGENTSIM_VIZ_CONFIG``
(default: configs/baseline.yaml). Run with ``agentsim viz [CONFIG]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz, make_plot_component
from mesa.visualization.utils import update_counter

from agentsim.config import Config
from agentsim.figures import JURISDICTION_COLOURS, network_snapshot
from agentsim.model import AIRaceModel
from agentsim.run import DEFAULT_CONFIG
from agentsim.scenario_io import load_config


def lever_controls(config: Config, path: Path) -> dict[str, Any]:
    """SolaraViz model parameters: the scenario (fixed), the seed and the policy levers."""
    tr = config.policy.trusted_release
    ec = config.policy.export_controls
    return {
        "config": str(path),
        "rng": {"type": "SliderInt", "value": 0, "min": 0, "max": 999, "step": 1, "label": "Seed"},
        "trusted_release": {
            "type": "Checkbox",
            "value": tr.enabled,
            "label": "Trusted release in force",
        },
        "trusted_fraction": {
            "type": "SliderFloat",
            "value": tr.trusted_fraction,
            "min": 0.001,
            "max": 0.5,
            "step": 0.001,
            "label": "Trusted fraction of users",
        },
        "restricted_months": {
            "type": "SliderFloat",
            "value": tr.restricted_months,
            "min": 0.0,
            "max": 24.0,
            "step": 1.0,
            "label": "Restricted months",
        },
        "compliance_delay_weeks": {
            "type": "SliderFloat",
            "value": tr.compliance_delay_weeks,
            "min": 0.0,
            "max": 26.0,
            "step": 1.0,
            "label": "Compliance delay (weeks)",
        },
        "export_controls": {
            "type": "Checkbox",
            "value": ec.enabled,
            "label": "Export controls in force",
        },
        "export_price_multiplier": {
            "type": "SliderFloat",
            "value": ec.price_multiplier,
            "min": 1.0,
            "max": 4.0,
            "step": 0.05,
            "label": "Export-control price multiplier",
        },
        "flywheel_strength": {
            "type": "SliderFloat",
            "value": config.flywheel.strength,
            "min": 0.0,
            "max": 2.0,
            "step": 0.05,
            "label": "Flywheel strength (gamma)",
        },
    }


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
    """Aggregated network, redrawn every step."""
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


def build_page(path: Path | None = None):
    """The SolaraViz page for the scenario at ``path``."""
    path = Path(path or os.environ.get("AGENTSIM_VIZ_CONFIG") or DEFAULT_CONFIG)
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

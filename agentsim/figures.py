"""Figures drawn from stored results only (never from a live model), in one house style.

Each function takes the frames read by :func:`agentsim.store.read_run` and returns a matplotlib
Figure; :func:`save_run_figures` writes PNG and PDF copies atomically.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from agentsim.store import atomic_write, read_run

#: One colour per jurisdiction, fixed across every figure.
JURISDICTION_COLOURS = {
    "US": "#1f4e9c",
    "CN": "#c0392b",
    "EU": "#f1c40f",
    "GULF": "#16a085",
    "ROW": "#7f8c8d",
}
STYLE = {
    "figure.dpi": 150,
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
COLUMN_WIDTH_IN = 3.4  # one column of a two-column paper


def _colour(code: str) -> str:
    return JURISDICTION_COLOURS.get(code, "#555555")


def capability_paths(labs: pd.DataFrame) -> Figure:
    """Deployed capability of every lab over time, coloured by jurisdiction."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN * 2, 3.0))
        for name, lab in labs.groupby("lab", sort=False):
            code = lab["jurisdiction"].iloc[0]
            ax.plot(lab["date"], lab["capability"], color=_colour(code), lw=1, alpha=0.85)
            ax.annotate(
                name,
                (lab["date"].iloc[-1], lab["capability"].iloc[-1]),
                fontsize=5,
                color=_colour(code),
                xytext=(2, 0),
                textcoords="offset points",
                va="center",
            )
        for code in labs["jurisdiction"].unique():
            ax.plot([], [], color=_colour(code), label=code)
        ax.set_xlabel("date")
        ax.set_ylabel("deployed capability (log10 effective FLOP)")
        ax.set_title("Capability of each lab")
        ax.legend(ncol=5, loc="upper left", frameon=False)
        fig.tight_layout()
    return fig


def share_panels(model: pd.DataFrame) -> Figure:
    """US shares of users, revenue, invested capital and skill-weighted talent."""
    panels = [
        ("us_user_share", "users"),
        ("us_revenue_share", "revenue"),
        ("us_capital_share", "invested capital"),
        ("us_talent_share", "talent (skill)"),
    ]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, 2, figsize=(COLUMN_WIDTH_IN * 2, 3.6), sharex=True)
        for ax, (column, label) in zip(axes.flat, panels, strict=True):
            ax.plot(model["date"], model[column], color=_colour("US"), lw=1.2)
            ax.set_ylim(0, 1)
            ax.set_title(f"US share of {label}")
            ax.set_ylabel("share (0-1)")
        for ax in axes[1]:
            ax.set_xlabel("date")
        fig.tight_layout()
    return fig


def frontier_race(model: pd.DataFrame) -> Figure:
    """Frontier capability of the US and of the rest of the world."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 2.6))
        ax.plot(model["date"], model["frontier_capability_us"], color=_colour("US"), label="US")
        ax.plot(
            model["date"],
            model["frontier_capability_non_us"],
            color=_colour("CN"),
            label="rest of world",
        )
        ax.set_xlabel("date")
        ax.set_ylabel("frontier capability (log10 effective FLOP)")
        ax.set_title("The frontier race")
        ax.legend(frameon=False)
        fig.tight_layout()
    return fig


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """Save ``fig`` as ``stem``.png and ``stem``.pdf atomically; close it."""
    paths = []
    for ext in ("png", "pdf"):
        path = stem.with_suffix(f".{ext}")
        atomic_write(path, lambda tmp, ext=ext: fig.savefig(tmp, format=ext, bbox_inches="tight"))
        paths.append(path)
    plt.close(fig)
    return paths


def save_run_figures(run_dir: Path, out: Path | None = None) -> list[Path]:
    """Draw the figures of one stored run into ``out`` (default: run_dir/figures)."""
    stored = read_run(run_dir)
    out = Path(out) if out is not None else Path(run_dir) / "figures"
    paths: list[Path] = []
    paths += save_figure(frontier_race(stored["model"]), out / "frontier")
    paths += save_figure(capability_paths(stored["labs"]), out / "capability")
    paths += save_figure(share_panels(stored["model"]), out / "shares")
    return paths

"""Events: what happened, when, to whom, and in which jurisdiction it happened.

Counts in the outputs (frontier releases by side, relocations, exits, overtakes) are sums of
events, each attributed to the jurisdiction where it happened at the time, so a cumulative
series never falls and never moves when a lab later changes its headquarters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

RELEASE = "release"  #: a model reached users (trusted users included)
RELOCATION = "relocation"  #: a lab moved its headquarters (jurisdiction = where it left)
EXIT = "exit"  #: a lab ran out of cash and left the market
OVERTAKE = "overtake"  #: a non-US lab took a strict lead of the frontier
REPEAL = "repeal"  #: a government repealed its trusted-release rule

KINDS = (RELEASE, RELOCATION, EXIT, OVERTAKE, REPEAL)

#: Columns of the events table, in order.
COLUMNS = ("step", "kind", "lab", "jurisdiction", "us", "capability", "frontier", "destination")


@dataclass(frozen=True)
class Event:
    """One event of a run."""

    step: int  #: record row in which it happened (step k covers month k - 1)
    kind: str  #: one of :data:`KINDS`
    lab: str | None  #: the lab concerned (None for a government's event)
    jurisdiction: str  #: where it happened (the lab's headquarters at the time)
    us: bool  #: whether that jurisdiction is the US
    capability: float | None = None  #: released capability (OOM), for releases and overtakes
    frontier: bool | None = None  #: a release that beat the frontier of the month before
    destination: str | None = None  #: the new headquarters, for relocations


def events_frame(events: list[Event]) -> pd.DataFrame:
    """The events as a table with :data:`COLUMNS` (one row per event, in order of occurrence)."""
    column = {name: [getattr(e, name) for e in events] for name in COLUMNS}
    return pd.DataFrame(
        {
            "step": np.array(column["step"], dtype=np.int64),
            "kind": pd.array(column["kind"], dtype="str"),
            "lab": pd.array(column["lab"], dtype="str"),
            "jurisdiction": pd.array(column["jurisdiction"], dtype="str"),
            "us": np.array(column["us"], dtype=bool),
            "capability": np.array(
                [np.nan if c is None else c for c in column["capability"]], dtype=float
            ),
            "frontier": pd.array(column["frontier"], dtype="boolean"),
            "destination": pd.array(column["destination"], dtype="str"),
        }
    )


def cumulative_count(events: pd.DataFrame, steps: int, **match: object) -> pd.Series:
    """Events matching ``match`` (column=value) counted cumulatively over steps 0..steps."""
    mask = pd.Series(True, index=events.index)
    for column, value in match.items():
        mask &= events[column] == value
    per_step = events.loc[mask, "step"].value_counts().reindex(range(steps + 1), fill_value=0)
    return per_step.sort_index().cumsum()

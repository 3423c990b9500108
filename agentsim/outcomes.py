"""Outcomes in the policy debate's units: yearly money, yearly shares, generations, launches.

The debate over trusted release argues in yearly, industry-level quantities (US private AI R&D
investment in dollars a year, the US share of the global AI market, the time until the next US
frontier model, frontier models launched a year by non-US labs), while a run records monthly
internals. The functions here turn the monthly records into those quantities; docs/ODD.md
(section 7.10, "Outcomes in the debate's units") states each formula.

Every function takes plain numpy arrays and returns numbers, so the definitions can be checked
on hand-built histories. Conventions:

- A monthly series has one entry per record row, rows 0..T (row 0 is the initial state, row
  k the month that step k covered), so its length is T + 1 for a run of T steps. Flows at
  row 0 are the initial state and are never counted.
- The *first year* is rows 1..12, the *last year* rows T-11..T. A run shorter than 12 months
  uses all its months for both, and yearly flows are annualised by 12 / T.
- Undefined values are NaN (a share of a zero total, a change from zero, a gap with fewer than
  two generations); the run summary stores them as None.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

MONTHS_PER_YEAR = 12
#: Rounding allowance of the threshold comparisons (OOM): a capability exactly at a threshold
#: counts even when float arithmetic puts it a few ulps short (10.0 - 9.7 > 0.3 in float64).
TIE_OOMS = 1e-9


class YearWindow(NamedTuple):
    """Rows of a monthly series that make up a year of the run, and the annualising factor."""

    rows: slice  #: record rows of the year (row 0, the initial state, is never among them)
    scale: float  #: 12 / months in the window (1 for a full year; NaN for a run of 0 steps)


def year_windows(steps: int) -> tuple[YearWindow, YearWindow]:
    """The first and last year of a run of ``steps`` months.

    First year: rows 1..min(12, steps); last year: rows max(1, steps - 11)..steps. With fewer
    than 12 steps both are every month of the run, annualised by 12 / steps. With 0 steps both
    are empty and their scale is NaN. Raises ``ValueError`` for negative ``steps``.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0 (got {steps})")
    months = min(steps, MONTHS_PER_YEAR)
    scale = MONTHS_PER_YEAR / months if months else math.nan
    first = YearWindow(slice(1, months + 1), scale)
    last = YearWindow(slice(steps - months + 1, steps + 1), scale)
    return first, last


def yearly_total(flow: np.ndarray, window: YearWindow) -> float:
    """A flow summed over a year window and annualised (units of the flow per year).

    ``flow``: (T + 1,) monthly amounts (e.g. USD per month). NaN for an empty window.
    """
    values = np.asarray(flow, dtype=float)[window.rows]
    return float(values.sum()) * window.scale if values.size else math.nan


def yearly_share(part: np.ndarray, total: np.ndarray, window: YearWindow) -> float:
    """The part's share of the total, both summed over a year window: sum(part) / sum(total).

    ``part`` and ``total``: (T + 1,) monthly amounts. NaN (undefined) when the total over the
    window is 0 or the window is empty. Annualising cancels in the ratio.
    """
    whole = float(np.asarray(total, dtype=float)[window.rows].sum())
    if not whole > 0:
        return math.nan
    return min(float(np.asarray(part, dtype=float)[window.rows].sum()) / whole, 1.0)


def yearly_mean(series: np.ndarray, window: YearWindow) -> float:
    """Mean of a monthly series over a year window, ignoring undefined (NaN) months.

    NaN when the window is empty or every month in it is undefined.
    """
    values = np.asarray(series, dtype=float)[window.rows]
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan


def relative_change(first: float, last: float) -> float:
    """last / first - 1: the relative change between the first and last year.

    NaN when ``first`` is 0 or either value is undefined.
    """
    if not (math.isfinite(first) and math.isfinite(last)) or first == 0:
        return math.nan
    return last / first - 1.0


def generation_steps(
    release_steps: np.ndarray,
    capabilities: np.ndarray,
    initial_reference: float,
    step_ooms: float,
) -> np.ndarray:
    """Steps of the releases that start a new frontier generation (a ratchet).

    ``release_steps`` and ``capabilities`` ((N,) each, in order of occurrence) are one side's
    releases; ``initial_reference`` is that side's best deployed capability at step 0 (OOM;
    NaN when it had none, so its first release is a generation). A release is a new
    generation when its capability >= the reference + ``step_ooms`` (to :data:`TIE_OOMS`); it
    then becomes the reference. Returns the (G,) steps of the generations, in order. Raises
    ``ValueError`` when ``step_ooms`` is not positive or the arrays differ in length.
    """
    steps = np.asarray(release_steps, dtype=np.int64)
    capability = np.asarray(capabilities, dtype=float)
    if steps.shape != capability.shape:
        raise ValueError("release_steps and capabilities must have the same length")
    if not step_ooms > 0:
        raise ValueError(f"step_ooms must be > 0 (got {step_ooms})")
    reference = initial_reference if math.isfinite(initial_reference) else -math.inf
    found = []
    for step, k in zip(steps.tolist(), capability.tolist(), strict=True):
        if k >= reference + step_ooms - TIE_OOMS:  # a handful of releases per run: a loop is cheap
            found.append(step)
            reference = k
    return np.array(found, dtype=np.int64)


def mean_months_between(steps: np.ndarray) -> float:
    """Mean difference of consecutive steps (months); NaN with fewer than two steps."""
    steps = np.asarray(steps, dtype=float)
    return float(np.diff(steps).mean()) if steps.size >= 2 else math.nan


def months_to_first(steps: np.ndarray) -> float:
    """Months from step 0 to the first of ``steps`` (its step); NaN when there is none."""
    steps = np.asarray(steps, dtype=float)
    return float(steps[0]) if steps.size else math.nan


def global_frontier(frontier_us: np.ndarray, frontier_non_us: np.ndarray) -> np.ndarray:
    """Best deployed capability of any active lab per record row ((T + 1,) OOM).

    The element-wise maximum of the two sides' frontiers, ignoring a side that has no active
    lab (NaN); NaN where neither side has one.
    """
    with np.errstate(invalid="ignore"):
        return np.fmax(np.asarray(frontier_us, dtype=float), np.asarray(frontier_non_us, float))


def frontier_class(
    release_steps: np.ndarray,
    capabilities: np.ndarray,
    frontier: np.ndarray,
    distance_ooms: float,
) -> np.ndarray:
    """Which releases are frontier-class: within ``distance_ooms`` of the global frontier.

    ``frontier`` ((T + 1,) OOM, e.g. :func:`global_frontier`) is the best deployed capability at
    the end of each month, so a release that becomes the frontier counts (it is at distance 0).
    A release at step s with capability k is frontier-class when frontier[s] - k <=
    ``distance_ooms`` (a release exactly at the distance counts, to :data:`TIE_OOMS`); where
    no lab is active at the end of the month (NaN frontier) the release counts. Returns (N,)
    bool. Raises ``ValueError`` when the arrays of releases differ in length or a step is
    outside the series.
    """
    steps = np.asarray(release_steps, dtype=np.int64)
    capability = np.asarray(capabilities, dtype=float)
    if steps.shape != capability.shape:
        raise ValueError("release_steps and capabilities must have the same length")
    series = np.asarray(frontier, dtype=float)
    if steps.size and (steps.min() < 0 or steps.max() >= series.size):
        raise ValueError("a release step lies outside the frontier series")
    reached = series[steps]
    with np.errstate(invalid="ignore"):
        within = reached - capability <= distance_ooms + TIE_OOMS
    return within | np.isnan(reached)  # no active lab left at the end of the month: it leads


def per_year(count: int, steps: int) -> float:
    """A count over a run of ``steps`` months as a yearly rate: count / (steps / 12).

    NaN for a run of 0 steps.
    """
    return count / (steps / MONTHS_PER_YEAR) if steps > 0 else math.nan

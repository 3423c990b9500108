"""The release pipeline (ODD 7.3): compliance delay, the trusted-only phase, leaks and repeal.

A lab whose internal capability runs a generation ahead of its deployed model finishes a
model. Where a trusted-release rule binds the lab, the model first waits out the compliance
delay, then serves only the trusted fraction of users for ``restricted_months``, then everyone.
Closed weights leak now and then. A repeal, or a move to a jurisdiction where no rule binds,
makes every restricted model public at once.

Functions here update a :class:`~agentsim.state.LabState` in place; no Mesa. Time is in
months: month ``now`` covers [now, now + 1), and release dates are fractional months.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from agentsim.market import served_fraction
from agentsim.state import LabState

WEEKS_PER_MONTH = 52.0 / 12.0


class ReleaseState(IntEnum):
    """Where a lab's newest model stands."""

    TRAINING = 0  #: deployed model is public; the next one is being trained
    COMPLIANCE = 1  #: a finished model waits out the compliance delay
    TRUSTED_ONLY = 2  #: the newest model serves trusted users only


@dataclass(frozen=True)
class Release:
    """A model reaching users: when, whose, how capable, and whether it beat the frontier."""

    step: int  #: the step (1-based month count) in which it happened
    lab: int  #: lab index
    jurisdiction: int  #: the lab's headquarters (jurisdiction index) when it happened
    capability: float  #: OOM
    frontier: bool  #: beat every active lab's deployed model of the month before


def weeks_to_months(weeks: float) -> float:
    """Convert weeks to (fractional) months: 52 weeks = 12 months."""
    return weeks / WEEKS_PER_MONTH


def release_timing(now: int, delay_months: float) -> float:
    """Time (in months, fractional) at which a model finished in month ``now`` reaches users.

    Equation: t_release = t + d / (52/12), with d the compliance delay in weeks.
    """
    return now + delay_months


def is_due(release_time: np.ndarray, now: int) -> np.ndarray:
    """Pending releases that happen during month [now, now + 1) (bool, same shape)."""
    return release_time < now + 1.0


def start_compliance(
    labs: LabState, binds: np.ndarray, now: int, generation_gap_ooms: float, delay_months: float
) -> None:
    """Labs a generation ahead of their deployed model finish a model and enter compliance.

    ``binds`` (L,) marks labs bound by a trusted-release rule for this model: they wait
    ``delay_months`` and the model will start in a trusted-only phase; others ship this month.
    """
    ready = (
        labs.active
        & np.isnan(labs.pending_capability)
        & (labs.internal_capability - labs.deployed_capability >= generation_gap_ooms)
    )
    delay = np.where(binds, delay_months, 0.0)
    labs.pending_capability = np.where(ready, labs.internal_capability, labs.pending_capability)
    labs.pending_time = np.where(ready, release_timing(now, delay), labs.pending_time)
    labs.pending_trusted = np.where(ready, binds, labs.pending_trusted)


def ship_due_models(
    labs: LabState, now: int, step: int, restricted_months: float
) -> tuple[np.ndarray, np.ndarray, list[Release]]:
    """Models whose compliance ends this month reach users; trusted-only phases that end open.

    Returns the share of the month each lab's newest deployed and newest public model served
    ((L,) each; 1 where nothing changed) and the releases of the month. A release beats the
    frontier when it is above every active lab's deployed model of the month before.
    """
    served_deployed = np.ones(labs.size)
    served_public = np.ones(labs.size)
    frontier = float(labs.deployed_capability[labs.active].max(initial=-np.inf))
    due = is_due(labs.pending_time, now)
    releases = []
    for i in np.flatnonzero(due):
        k, when = float(labs.pending_capability[i]), float(labs.pending_time[i])
        labs.deployed_capability[i] = k
        served_deployed[i] = served_fraction(when, now)
        beats = k > frontier
        releases.append(Release(step, int(i), int(labs.jurisdiction[i]), k, bool(beats)))
        if labs.pending_trusted[i] and restricted_months > 0:
            labs.trusted_queue[i].append((when + restricted_months, k))
        else:
            labs.public_capability[i] = k
            served_public[i] = served_deployed[i]
    labs.pending_capability[due] = np.nan
    labs.pending_time[due] = np.inf
    for i, queue in enumerate(labs.trusted_queue):
        while queue and queue[0][0] < now + 1.0:
            when, k = queue.popleft()
            labs.public_capability[i] = k
            served_public[i] = served_fraction(when, now)
    return served_deployed, served_public, releases


def leak_closed_models(labs: LabState, uniform: np.ndarray, probability: float) -> None:
    """Closed weights (models in their trusted-only phase included) leak with a monthly chance.

    ``uniform`` (L,) are each lab's U(0, 1) draws of the month. A leaked model spills over like
    open weights (see :func:`agentsim.flywheel.spillover`).
    """
    closed = labs.active & ~labs.open_weights
    leaks = closed & (uniform < probability)
    labs.leaked_capability = np.where(
        leaks,
        np.maximum(labs.leaked_capability, labs.deployed_capability),
        labs.leaked_capability,
    )


def classify(labs: LabState) -> None:
    """Set each lab's :class:`ReleaseState` from its pipeline."""
    labs.release_state = np.where(
        ~np.isnan(labs.pending_capability),
        ReleaseState.COMPLIANCE,
        np.where(
            labs.deployed_capability > labs.public_capability,
            ReleaseState.TRUSTED_ONLY,
            ReleaseState.TRAINING,
        ),
    ).astype(np.int8)


def release_models(
    labs: LabState,
    binds: np.ndarray,
    now: int,
    step: int,
    generation_gap_ooms: float,
    compliance_delay_weeks: float,
    restricted_months: float,
    leak_uniform: np.ndarray,
    leak_probability: float,
) -> tuple[np.ndarray, list[Release]]:
    """One month of the pipeline: compliance, shipping, trusted-only phases, leaks.

    Also sets ``served_deployed`` and ``served_public`` (the capability each lab served on
    average over the month, counting fractional months) for the market phase. Returns the labs
    whose public model improved this month (bool (L,)) and the month's releases.
    """
    start_compliance(labs, binds, now, generation_gap_ooms, weeks_to_months(compliance_delay_weeks))
    previous_deployed = labs.deployed_capability.copy()
    previous_public = labs.public_capability.copy()
    share_deployed, share_public, releases = ship_due_models(labs, now, step, restricted_months)
    leak_closed_models(labs, leak_uniform, leak_probability)
    classify(labs)
    labs.served_deployed = previous_deployed + share_deployed * (
        labs.deployed_capability - previous_deployed
    )
    labs.served_public = previous_public + share_public * (labs.public_capability - previous_public)
    return labs.public_capability > previous_public, releases


def lift_restrictions(labs: LabState, mask: np.ndarray, now: int) -> None:
    """Repeal for the labs in ``mask``: trusted-only models go public, pending ones ship now."""
    for i in np.flatnonzero(mask):
        labs.trusted_queue[i].clear()
    labs.public_capability = np.where(mask, labs.deployed_capability, labs.public_capability)
    labs.pending_time = np.where(
        mask & ~np.isnan(labs.pending_capability),
        np.minimum(labs.pending_time, now),
        labs.pending_time,
    )
    labs.pending_trusted[mask] = False


def escape_restrictions(labs: LabState, lab: int) -> None:
    """A lab that moved out of reach of every rule serves its newest model to everyone."""
    labs.trusted_queue[lab].clear()
    labs.public_capability[lab] = labs.deployed_capability[lab]
    labs.pending_trusted[lab] = False

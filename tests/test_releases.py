"""Tests for agentsim.releases: the compliance delay, the trusted-only phase, leaks and repeal."""

import numpy as np
import pytest

from agentsim import releases
from agentsim.config import Config
from agentsim.releases import ReleaseState
from agentsim.world import build_jurisdictions, build_labs

GAP = 0.35


def two_labs():
    """The schema's small world: LabUS (index 0) and LabCN (index 1), both closed weights."""
    config = Config()
    labs = build_labs(config, build_jurisdictions(config))
    labs.internal_capability = labs.deployed_capability + np.array([GAP, 0.0])  # US lab ready
    return labs


def month(labs, now, binds, delay_weeks=6.0, restricted=6.0, leak=0.0, seed=0):
    return releases.release_models(
        labs,
        binds,
        now,
        now + 1,
        GAP,
        delay_weeks,
        restricted,
        np.random.default_rng(seed).random(labs.size),
        leak,
    )


# --- time units ---------------------------------------------------------------------------------


def test_weeks_to_months():
    assert releases.weeks_to_months(52.0) == pytest.approx(12.0)
    # 2 weeks = 2 * 12 / 52 months ~ 0.4615.
    assert releases.weeks_to_months(2.0) == pytest.approx(24 / 52)
    assert releases.weeks_to_months(0.0) == 0.0


# --- release timing -----------------------------------------------------------------------------


def test_release_timing_and_due():
    # A 2-week delay from step 3 reaches users at 3 + 24/52 months, during month 3.
    when = releases.release_timing(3, releases.weeks_to_months(2.0))
    assert when == pytest.approx(3 + 24 / 52)
    due = releases.is_due(np.array([3.0, 3.99, 4.0, 2.5, when]), 3)
    assert due.tolist() == [True, True, False, True, True]


def test_unbound_lab_ships_at_once_to_everyone():
    labs = two_labs()
    target = float(labs.internal_capability[0])
    released, new = month(labs, 3, np.array([False, False]))
    assert released.tolist() == [True, False]
    assert labs.deployed_capability[0] == labs.public_capability[0] == target
    assert labs.served_public[0] == pytest.approx(target)  # served the whole month
    assert [(r.step, r.lab, r.frontier) for r in new] == [(4, 0, True)]
    assert labs.release_state.tolist() == [ReleaseState.TRAINING] * 2


def test_bound_lab_waits_out_compliance_then_serves_trusted_users_only():
    labs = two_labs()
    before = float(labs.deployed_capability[0])
    target = float(labs.internal_capability[0])
    bound = np.array([True, False])
    # 6 weeks = 1.385 months: finished in month 3, the model reaches users in month 4.
    released, new = month(labs, 3, bound)
    assert not released.any() and new == []
    assert labs.release_state[0] == ReleaseState.COMPLIANCE
    assert labs.pending_time[0] == pytest.approx(3 + 6 / (52 / 12))
    released, new = month(labs, 4, bound)
    assert labs.deployed_capability[0] == target
    assert labs.public_capability[0] == before  # the public still sees the old model
    assert not released[0] and len(new) == 1
    assert labs.release_state[0] == ReleaseState.TRUSTED_ONLY
    # served for the part of month 4 after the release date
    share = 4 + 1 - (3 + 6 / (52 / 12))
    assert labs.served_deployed[0] == pytest.approx(before + share * (target - before))
    # six restricted months later the public gets it, for the rest of that month
    for now in range(5, 10):
        released, _ = month(labs, now, bound)
        assert not released[0]
    released, _ = month(labs, 10, bound)
    assert released[0] and labs.public_capability[0] == target
    assert labs.release_state[0] == ReleaseState.TRAINING


def test_no_restricted_months_means_public_release_after_the_delay():
    labs = two_labs()
    bound = np.array([True, False])
    month(labs, 3, bound, restricted=0.0)
    released, _ = month(labs, 4, bound, restricted=0.0)
    assert released[0] and labs.public_capability[0] == labs.deployed_capability[0]


def test_frontier_flag_compares_with_last_months_best_model():
    labs = two_labs()
    labs.deployed_capability[1] = labs.internal_capability[0] + 1.0  # the CN lab is far ahead
    _, new = month(labs, 0, np.array([False, False]))
    assert [r.frontier for r in new] == [False]


def test_repeal_makes_restricted_models_public_and_ships_pending_ones():
    labs = two_labs()
    bound = np.array([True, False])
    month(labs, 3, bound)
    month(labs, 4, bound)
    assert labs.release_state[0] == ReleaseState.TRUSTED_ONLY
    releases.lift_restrictions(labs, np.array([True, False]), 5)
    assert labs.public_capability[0] == labs.deployed_capability[0]
    assert len(labs.trusted_queue[0]) == 0
    # a model still in compliance ships in the month of the repeal
    labs2 = two_labs()
    month(labs2, 3, bound, delay_weeks=26.0)
    releases.lift_restrictions(labs2, np.array([True, False]), 4)
    assert labs2.pending_time[0] == 4
    assert not labs2.pending_trusted[0]


def test_leaks_only_closed_weights():
    labs = two_labs()
    labs.open_weights[1] = True
    month(labs, 0, np.array([False, False]), leak=1.0)
    assert labs.leaked_capability[0] == labs.deployed_capability[0]
    assert labs.leaked_capability[1] == -np.inf
    quiet = two_labs()
    month(quiet, 0, np.array([False, False]), leak=0.0)
    assert np.all(quiet.leaked_capability == -np.inf)


def test_escape_restrictions_serves_everyone():
    labs = two_labs()
    bound = np.array([True, False])
    month(labs, 3, bound)
    month(labs, 4, bound)
    releases.escape_restrictions(labs, 0)
    assert labs.public_capability[0] == labs.deployed_capability[0]
    assert len(labs.trusted_queue[0]) == 0

"""Researchers' entry to and exit from the field, and the reach term of job utility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agentsim import talent
from agentsim.model import AIRaceModel
from agentsim.run import run
from agentsim.talent import UNEMPLOYED, LabOffers, Preferences
from agentsim.world import build_jurisdictions, draw_entrants

from .conftest import scenario

SMALL = {"talent.n_researchers": 1000, "simulation.steps": 36, "talent.entry_exit": True}


def _model(name: str = "baseline", seed: int = 0, **overrides) -> AIRaceModel:
    return AIRaceModel(scenario(name, **{**SMALL, **overrides}), rng=seed)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", ["baseline", "trusted_release"])
def test_books_balance_every_month_and_audit_passes(name, seed):
    model = _model(name, seed)
    researchers = model.researcher_state
    entrants = exits = 0
    for _ in range(36):
        before = model.snapshot()
        in_field = researchers.active_count
        model.step()
        assert model.audit(before) == []
        assert researchers.active_count == in_field + model.researcher_entrants - (
            model.researcher_exits
        )
        entrants += model.researcher_entrants
        exits += model.researcher_exits
    assert (researchers.entrants_total, researchers.exits_total) == (entrants, exits)
    # 10% a year of 1,000 for three years; exits at 5% a year of ~1,000-1,150
    assert entrants == 300
    assert 100 < exits < 220
    assert not researchers.employed[~researchers.in_field].any()
    assert np.all(researchers.salary_usd[~researchers.in_field] == 0)


def test_audit_catches_broken_books():
    model = _model()
    model.step()
    model.researcher_state.exits_total += 1
    assert any("entrants - exits" in p for p in model.audit())


@pytest.mark.parametrize(
    "off",
    [
        {"talent.entry_exit": False},
        {"talent.entry_rate_per_year": 0.0, "talent.exit_rate_per_year": 0.0},
    ],
)
def test_without_entry_and_exit_researchers_are_conserved(off):
    model = _model(seed=4, **off)
    researchers = model.researcher_state
    for _ in range(36):
        model.step()
        assert researchers.size == researchers.active_count == 1000
        assert model.researcher_entrants == model.researcher_exits == 0
        assert int(model.lab_state.headcount.sum()) == int(researchers.employed.sum())
        assert model.audit() == []


def test_switched_off_and_zero_rates_give_the_same_run():
    off = run(scenario("baseline", **{**SMALL, "talent.entry_exit": False}), seed=5)
    zero = run(
        scenario(
            "baseline",
            **{**SMALL, "talent.entry_rate_per_year": 0.0, "talent.exit_rate_per_year": 0.0},
        ),
        seed=5,
    )
    pd.testing.assert_frame_equal(off.model_frame, zero.model_frame)
    pd.testing.assert_frame_equal(off.lab_frame, zero.lab_frame)


def test_entry_exit_changes_no_other_stream():
    # the entrants' own stream: the step-0 world (labs, investors, the step-0 pool) is the same
    on, off = _model(seed=6), _model(seed=6, **{"talent.entry_exit": False})
    n = off.researcher_state.size
    for field in ("skill", "origin", "location", "employer"):
        assert np.array_equal(
            getattr(on.researcher_state, field)[:n], getattr(off.researcher_state, field)
        )
    assert np.array_equal(on.investor_state.capital_cents, off.investor_state.capital_cents)
    assert on.indicators == off.indicators


def test_same_seed_same_output_with_entry_and_exit():
    a = run(scenario("trusted_release", **SMALL), seed=8)
    b = run(scenario("trusted_release", **SMALL), seed=8)
    pd.testing.assert_frame_equal(a.model_frame, b.model_frame)
    pd.testing.assert_frame_equal(a.lab_frame, b.lab_frame)
    assert a.summary == b.summary


def test_entrants_skill_matches_the_population_distribution():
    cfg = scenario("baseline")
    juris = build_jurisdictions(cfg)
    skill, origin, location = draw_entrants(cfg, juris, np.random.default_rng(11), 200_000)
    sigma = cfg.talent.skill_sigma
    logs = np.log(skill)
    # log skill ~ N(-sigma^2/2, sigma^2): mean and sd within 5 standard errors
    se = sigma / np.sqrt(logs.size)
    assert abs(logs.mean() + 0.5 * sigma**2) < 5 * se
    assert abs(logs.std() - sigma) < 5 * sigma / np.sqrt(2 * logs.size)
    # quartiles of the step-0 rule's distribution
    step0 = _model(seed=3).researcher_state.skill[:1000]
    assert abs(np.median(skill) - np.exp(-0.5 * sigma**2)) < 0.01
    assert abs(np.median(np.log(step0)) - np.median(logs)) < 0.2
    # location by researcher share
    shares = np.bincount(location, minlength=len(juris.codes)) / location.size
    assert np.allclose(shares, juris.researcher_share / juris.researcher_share.sum(), atol=0.01)
    assert (origin != location).mean() > 0


def test_entrants_in_month_is_a_fixed_cohort():
    months = np.array([talent.entrants_in_month(t, 0.1, 1000) for t in range(60)])
    assert np.array_equal(np.cumsum(months), np.floor(np.arange(1, 61) * 100 / 12))
    assert talent.entrant_slots(60, 0.1, 1000) == months.sum() == 500
    assert talent.monthly_rate(0.0) == 0.0
    assert 1 - (1 - talent.monthly_rate(0.05)) ** 12 == pytest.approx(0.05)


def test_reserve_then_leavers_slots_are_reused():
    model = _model(**{"simulation.steps": 2})
    researchers = model.researcher_state
    assert researchers.size == 1000 + talent.entrant_slots(2, 0.1, 1000)
    for _ in range(6):  # beyond the configured horizon: the reserve runs out
        model.step()
        assert model.audit() == []
    assert researchers.next_slot == researchers.size
    reserve = talent.entrant_slots(2, 0.1, 1000)
    wanted = sum(talent.entrants_in_month(t, 0.1, 1000) for t in range(6))
    # leavers' slots took the entrants the reserve could not: capped by the free slots
    assert reserve < researchers.entrants_total <= min(wanted, reserve + researchers.exits_total)


def test_more_users_attracts_researchers_other_things_equal():
    # two labs alike in all but users (lab 1 has e^1 times lab 0's); everyone searches
    n = 2000
    offers = LabOffers(
        pay_scale_usd=np.full(2, 3e5),
        log_compute_per_researcher=np.zeros(2),
        capability_gap=np.zeros(2),
        log_reach=np.array([-0.5, 0.5]),
        jurisdiction=np.zeros(2, dtype=np.int64),
        open_for_hiring=np.ones(2, dtype=bool),
    )
    employer = np.repeat([0, 1], n // 2)
    indptr, neighbours = np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    kwargs = dict(
        skill=np.ones(n),
        origin=np.zeros(n, np.int64),
        location=np.zeros(n, np.int64),
        employer=employer,
        indptr=indptr,
        neighbours=neighbours,
        offers=offers,
        friction_into=np.zeros(1),
        search_rate=1.0,
        random_offers=3,
        hiring_budget_usd=np.full(2, 1e12),
    )
    with_reach = Preferences(1.0, 0.3, 0.5, 0.0, 0.3, 0.6, reach_weight=0.5)
    movers, target = talent.search_jobs(np.random.default_rng(1), prefs=with_reach, **kwargs)
    assert movers.size > 0 and np.all(target == 1) and np.all(employer[movers] == 0)
    blind = Preferences(1.0, 0.3, 0.5, 0.0, 0.3, 0.6, reach_weight=0.0)
    movers, _ = talent.search_jobs(np.random.default_rng(1), prefs=blind, **kwargs)
    assert movers.size == 0


def test_out_of_field_slots_never_search():
    n = 10
    offers = LabOffers(
        np.array([1e5, 2e5]),
        np.zeros(2),
        np.zeros(2),
        np.zeros(2),
        np.zeros(2, np.int64),
        np.ones(2, dtype=bool),
    )
    in_field = np.arange(n) < 4
    movers, _ = talent.search_jobs(
        np.random.default_rng(0),
        np.ones(n),
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
        np.full(n, UNEMPLOYED),
        np.zeros(n + 1, np.int64),
        np.zeros(0, np.int64),
        offers,
        Preferences(1.0, 0.0, 0.0, 0.0, 0.0, 0.5),
        np.zeros(1),
        1.0,
        2,
        np.full(2, 1e12),
        in_field,
    )
    assert set(movers.tolist()) <= set(range(4)) and movers.size == 4

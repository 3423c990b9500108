"""Accounting and conservation hold at every step, for the scenarios and for random configs."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentsim import AIRaceModel
from agentsim.config import Config
from agentsim.scenario_io import apply_overrides, config_to_dict, validate_config

from .conftest import scenario


def _step_and_audit(model: AIRaceModel, steps: int) -> None:
    n = model.researcher_state.employer.size
    for _ in range(steps):
        before = model.snapshot()
        model.step()
        assert model.audit(before) == [], f"step {model.steps}"
        assert model.researcher_state.employer.size == n
        assert np.all(model.lab_state.headcount >= 0)
        assert np.all(model.researcher_state.salary_usd[model.researcher_state.employer < 0] == 0)
        shares = [
            model.indicators[k]
            for k in ("us_user_share", "us_revenue_share", "us_capital_share", "us_talent_share")
        ]
        assert all(np.isnan(s) or 0.0 <= s <= 1.0 for s in shares)  # NaN: nothing to share


@pytest.mark.parametrize(
    "name", ["baseline", "trusted_release", "export_controls", "combined", "trusted_release_repeal"]
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scenarios_balance_every_step(name, seed):
    model = AIRaceModel(scenario(name, **{"talent.n_researchers": 1000}), rng=seed)
    _step_and_audit(model, 60)


def test_cash_crunch_lays_off_and_exits_without_breaking_accounts():
    cfg = scenario(
        "baseline",
        **{
            "talent.n_researchers": 800,
            "capital.deploy_rate_per_month": 0.0,
            "jurisdictions.CN.revenue_per_user_usd": 0.0,
            "labs.Moonshot.cash_billions": 0.01,
            "labs.Zhipu.cash_billions": 0.02,
        },
    )
    model = AIRaceModel(cfg, rng=4)
    _step_and_audit(model, 36)
    assert not model.lab_state.active.all(), "labs with no income and no cash should exit"
    gone = np.flatnonzero(~model.lab_state.active)
    assert np.all(model.lab_state.users_millions[gone] == 0)
    assert not np.isin(model.researcher_state.employer, gone).any()


def test_researchers_never_vanish_and_flows_count_moves():
    model = AIRaceModel(scenario("trusted_release", **{"talent.n_researchers": 2000}), rng=3)
    _step_and_audit(model, 48)
    employed = model.researcher_state.employer >= 0
    assert employed.sum() + (~employed).sum() == 2000
    assert model.talent_flows.sum() > 0
    assert (
        np.bincount(model.researcher_state.employer[employed], minlength=model.n_labs).tolist()
        == model.lab_state.headcount.tolist()
    )


codes = ["US", "CN", "EU", "GULF", "ROW"]


@functools.cache
def _baseline_dict() -> dict:
    return config_to_dict(scenario("baseline"))


@st.composite
def random_configs(draw) -> Config:
    base = copy.deepcopy(_baseline_dict())
    n_labs = draw(st.integers(2, 6))
    labs = {}
    for i in range(n_labs):
        code = codes[i] if i < 2 else draw(st.sampled_from(codes))
        labs[f"Lab{i}"] = {
            "jurisdiction": code,
            "cash_billions": draw(st.floats(0.0, 50.0)),
            "funding_to_date_billions": draw(st.floats(0.0, 50.0)),
            "capacity_h100e": draw(st.floats(0.0, 2e5)),
            "software_ooms": draw(st.floats(-1.0, 0.5)),
            "open_weights": draw(st.booleans()),
            "talent_weight": draw(st.floats(0.1, 3.0)),
        }
    present = sorted({lab["jurisdiction"] for lab in labs.values()})
    weights = [draw(st.floats(0.05, 1.0)) for _ in present]
    for code in codes:
        base["jurisdictions"][code]["researcher_share"] = 0.0
    for code, w in zip(present, weights, strict=True):
        base["jurisdictions"][code]["researcher_share"] = w / sum(weights)
    fix = 1.0 - sum(base["jurisdictions"][c]["researcher_share"] for c in codes)
    base["jurisdictions"][present[0]]["researcher_share"] += fix
    base["labs"] = labs
    overrides = {
        "talent.n_researchers": draw(st.integers(1, 300)),
        "capital.n_investors": draw(st.integers(1, 30)),
        "capital.deploy_rate_per_month": draw(st.floats(0.0, 0.2)),
        "capital.commitments_growth_per_year": draw(st.floats(-0.5, 2.0)),
        "talent.search_rate": draw(st.floats(0.0, 1.0)),
        "talent.collaboration_degree": draw(st.integers(0, 10)),
        "flywheel.strength": draw(st.floats(0.0, 2.0)),
        "flywheel.data_pooling": draw(st.floats(0.0, 1.0)),
        "research.leak_probability": draw(st.floats(0.0, 0.5)),
        "policy.trusted_release.enabled": draw(st.booleans()),
        "policy.trusted_release.trusted_fraction": draw(st.floats(0.001, 1.0)),
        "policy.trusted_release.restricted_months": draw(st.floats(0.0, 24.0)),
        "policy.trusted_release.compliance_delay_weeks": draw(st.floats(0.0, 52.0)),
        "policy.export_controls.enabled": draw(st.booleans()),
        "policy.export_controls.price_multiplier": draw(st.floats(1.0, 5.0)),
        "policy.export_controls.capacity_cap_h100e": draw(
            st.one_of(st.none(), st.floats(0.0, 1e5))
        ),
        "policy.outbound_investment.enabled": draw(st.booleans()),
        "policy.adaptive.repeal_trusted_release_after_months_behind": draw(
            st.one_of(st.none(), st.integers(1, 6))
        ),
        "jurisdictions.CN.revenue_per_user_usd": draw(st.floats(0.0, 5.0)),
        "jurisdictions.US.inference_cost_per_user_usd": draw(st.floats(0.0, 10.0)),
    }
    return validate_config(apply_overrides(base, overrides))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=random_configs(), seed=st.integers(0, 2**32 - 1))
def test_random_valid_configs_keep_every_invariant(cfg, seed):
    _step_and_audit(AIRaceModel(cfg, rng=seed), 18)


def test_relocation_escapes_trusted_release_and_keeps_accounts():
    cfg = scenario("trusted_release", **{"talent.n_researchers": 1000, "relocation.enabled": True})
    model = AIRaceModel(cfg, rng=1)
    _step_and_audit(model, 24)
    moved = {e.lab for e in model.events if e.kind == "relocation" and e.jurisdiction == "US"}
    assert moved, "trusted release should push some US lab abroad when moving is allowed"
    for lab in model.labs:
        if lab.name in moved:
            assert lab.jurisdiction != "US"
            assert lab.public_capability == lab.capability  # no longer bound
    staying = AIRaceModel(
        scenario("baseline", **{"talent.n_researchers": 1000, "relocation.enabled": True}), rng=1
    )
    _step_and_audit(staying, 24)
    assert not [e for e in staying.events if e.kind == "relocation"]  # nothing to escape


def test_adaptive_repeal_ends_trusted_release_once_the_us_trails():
    cfg = scenario(
        "trusted_release_repeal",
        **{
            "talent.n_researchers": 1000,
            "policy.trusted_release.compliance_delay_weeks": 26,  # the US falls behind quickly
            "policy.adaptive.repeal_trusted_release_after_months_behind": 2,
        },
    )
    model = AIRaceModel(cfg, rng=0)
    _step_and_audit(model, 24)
    us_government = model.governments["US"]
    assert us_government.repealed_at is not None
    assert not us_government.trusted_release_in_force
    us = model.lab_state.is_us
    assert (model.lab_state.public_capability[us] == model.lab_state.deployed_capability[us]).all()
    assert not model.lab_state.pending_trusted[us].any()

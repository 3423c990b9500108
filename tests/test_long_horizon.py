"""Money at the longest horizon the schema allows, and the audit's tolerance for big money.

Money is float64 whole cents: exact up to 2**53 cents, relative precision about 1e-16 beyond,
where the audit tolerates round-off in proportion to the amounts (agentsim.observe.audit).
Before, integer cents wrapped around a few hundred months into a long run.
"""

from __future__ import annotations

import numpy as np
import pytest

from agentsim import AIRaceModel
from agentsim.config import Config
from agentsim.observe import EXACT_CENTS
from agentsim.run import AuditError, run
from agentsim.scenario_io import load_config, scenario_path

from .conftest import scenario


def _longest_horizon() -> int:
    """The most monthly steps ``simulation.steps`` accepts, read from the schema."""
    steps = Config.model_fields["simulation"].annotation.model_fields["steps"]
    bounds = [m.le for m in steps.metadata if getattr(m, "le", None) is not None]
    assert bounds, "simulation.steps should have an upper bound"
    return int(bounds[0])


LONGEST = _longest_horizon()
SHARES = ("us_user_share", "us_revenue_share", "us_capital_share", "us_talent_share")


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", ["baseline", "trusted_release", "export_controls"])
def test_shipped_scenarios_keep_their_books_at_the_longest_horizon(name, seed):
    config = load_config(scenario_path(name), overrides={"simulation.steps": LONGEST})
    holdings, capital = [], []

    def watch(model: AIRaceModel) -> None:
        holdings.append(model.investor_state.holdings_cents.sum())
        capital.append(model.investor_state.capital_cents.sum())

    try:
        result = run(config, seed=seed, audit=True, on_step=watch)
    except AuditError as error:
        pytest.fail(f"{name}, seed {seed}: {error}")
    frame, labs = result.model_frame, result.lab_frame
    assert len(frame) == LONGEST + 1
    for table, columns in (
        (frame, ["us_rd_spend", "non_us_rd_spend"]),
        (labs, ["cash", "revenue"]),
    ):
        values = table[columns].to_numpy(float)
        assert np.isfinite(values).all(), f"{columns}: NaN or infinite money"
        assert (values >= 0).all(), f"{columns}: negative money"
    # money went past what integer cents could hold, and nothing wrapped around
    assert labs["cash"].max() * 100 > np.iinfo(np.int64).max
    last = labs[labs["step"] == LONGEST]
    assert result.summary["labs_exited"] < len(config.labs), "every lab exited"
    assert last["revenue"].sum() > 0 and last["users"].sum() > 0
    shares = frame[list(SHARES)].to_numpy(float)
    assert np.isfinite(shares).all() and (shares >= 0).all() and (shares <= 1).all()
    assert (shares[-1] > 0).any(), "every US share fell to zero"
    # what only accumulates does not fall: R&D spend to date and the money put into labs
    spend = (frame["us_rd_spend"] + frame["non_us_rd_spend"]).cumsum().to_numpy()
    assert (np.diff(spend) >= 0).all()
    assert (np.diff(holdings) >= 0).all()
    # capital under management grows net of deployment when commitments grow
    if config.capital.commitments_growth_per_year > 0:
        assert (np.diff(capital) >= 0).all()


def _stepped(factor: float, steps: int = 6) -> AIRaceModel:
    """A small baseline model, its money stocks times ``factor``, audited for ``steps`` months."""
    model = AIRaceModel(scenario("baseline", **{"talent.n_researchers": 300}), rng=0)
    labs, investors = model.lab_state, model.investor_state
    labs.cash_cents = np.rint(labs.cash_cents * factor)
    investors.capital_cents = np.rint(investors.capital_cents * factor)
    investors.holdings_cents = np.rint(investors.holdings_cents * factor)
    for _ in range(steps):
        before = model.snapshot()
        model.step()
        assert model.audit(before) == [], f"step {model.steps}"
    return model


def _one_more_step(model: AIRaceModel) -> dict:
    before = model.snapshot()
    model.step()
    assert model.audit(before) == []
    return before


CASH = "lab cash changed by other than revenue + investment - costs"
CAPITAL = "investor capital changed by other than commitments - investment"


def test_audit_tolerates_round_off_of_big_money_but_not_a_relative_error_of_1e_6():
    model = _stepped(1.3e8)  # cash about 1e20 cents, holdings more: float64 rounds here
    labs, investors = model.lab_state, model.investor_state
    assert labs.cash_cents.min() > EXACT_CENTS and labs.cash_cents.max() > 1e19
    before = _one_more_step(model)
    labs.cash_cents[0] *= 1.0 + 1e-6
    assert model.audit(before) == [CASH]
    labs.cash_cents[0] /= 1.0 + 1e-6
    investors.capital_cents[-1] *= 1.0 - 1e-6
    assert model.audit(before) == [CAPITAL]


def test_audit_is_exact_to_the_cent_for_ordinary_money():
    model = _stepped(1.0, steps=2)
    labs, investors = model.lab_state, model.investor_state
    assert labs.cash_cents.max() < EXACT_CENTS
    before = _one_more_step(model)
    labs.cash_cents[0] += 1.0
    assert model.audit(before) == [CASH]
    labs.cash_cents[0] -= 1.0
    investors.holdings_cents[0, 0] += 1.0  # a cent invested from nowhere, received by no lab
    assert model.audit(before) == [CAPITAL, "money invested differs from money received by labs"]


def test_audit_reports_money_that_is_not_a_number():
    model = _stepped(1.0, steps=1)
    model.lab_state.revenue_history_cents[0, 0] = np.nan
    model.investor_state.commitments_cents[0] = np.inf
    assert model.audit() == [
        "revenue_history_cents has entries that are NaN or infinite",
        "commitments_cents has entries that are NaN or infinite",
    ]
    model.lab_state.revenue_history_cents[0, 0] = 0.0
    model.investor_state.commitments_cents[0] = 0.0
    before = _one_more_step(model)
    model.lab_state.cash_cents[1] = -np.inf
    assert model.audit(before) == [
        "cash_cents has negative entries",
        "cash_cents has entries that are NaN or infinite",
        CASH,
    ]
    before["lab_state"]["cash_cents"][1] = -np.inf  # inf - inf: NaN, off, and no warning
    assert model.audit(before)[-1] == CASH


def test_money_is_float64_whole_cents():
    model = _stepped(1.0, steps=3)
    for state in (model.lab_state, model.investor_state):
        for name in state.MONEY:
            values = getattr(state, name)
            assert values.dtype == np.float64, name
            assert (values == np.rint(values)).all(), f"{name} holds fractions of a cent"
    assert model.lab_state.headcount.dtype == np.int64

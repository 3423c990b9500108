"""Tests for the agent views: Lab, Investor and Researcher read the state arrays, created lazily."""

import numpy as np
import pytest

from agentsim import AIRaceModel
from agentsim.agents import Government, Investor, Lab, Researcher
from agentsim.config import LEVERS, ConfigError
from agentsim.market import CENTS_PER_USD


@pytest.fixture(scope="module")
def model():
    m = AIRaceModel(rng=3, n_researchers=600)
    for _ in range(4):
        m.step()
    return m


def test_default_model_is_the_calibrated_baseline():
    m = AIRaceModel()
    assert m.config.name == "baseline"
    assert len(m.labs) > 2  # not the schema's two-lab test world


def test_researcher_and_investor_views_are_created_on_first_request():
    m = AIRaceModel(rng=0, n_researchers=300)
    registered = m._agents_by_type  # Mesa's registry, before anyone asks for agents
    assert Researcher not in registered and Investor not in registered
    assert set(registered) == {Lab, Government}
    assert len(m.researchers) == 300
    assert len(m.investors) == m.investor_state.size
    assert len(m.agents) == 300 + m.investor_state.size + len(m.labs) + len(m.governments)
    assert len(m.agents_by_type[Researcher]) == 300  # asking again creates no duplicates


def test_lab_views_read_the_lab_state(model):
    labs, codes = model.lab_state, model.jurisdictions.codes
    for lab in model.labs:
        i = lab.index
        assert lab.name == labs.names[i]
        assert lab.jurisdiction == codes[labs.jurisdiction[i]]
        assert lab.capability == labs.deployed_capability[i]
        assert lab.public_capability == labs.public_capability[i]
        assert lab.internal_capability == labs.internal_capability[i]
        assert lab.cash == labs.cash_cents[i] / CENTS_PER_USD
        assert lab.capacity == labs.capacity_h100e[i] * model.config.compute.flops_per_h100e
        assert lab.users == pytest.approx(labs.users_millions[i].sum() * 1e6)
        assert lab.revenue == labs.revenue_cents[i] / CENTS_PER_USD
        assert lab.researchers == labs.headcount[i]
        assert lab.release_state == labs.release_state[i]
        assert lab.open_weights == labs.open_weights[i]
        assert lab.active == labs.active[i]


def test_researcher_views_read_the_researcher_state(model):
    state, codes = model.researcher_state, model.jurisdictions.codes
    for researcher in list(model.researchers)[::37]:
        i = researcher.index
        assert researcher.skill == state.skill[i]
        assert researcher.origin == codes[state.origin[i]]
        assert researcher.location == codes[state.location[i]]
        assert researcher.salary == state.salary_usd[i]
        employer = researcher.employer
        if state.employer[i] < 0:
            assert employer is None
        else:
            assert employer is model.labs[state.employer[i]]


def test_investor_views_read_the_investor_state(model):
    state, codes = model.investor_state, model.jurisdictions.codes
    for investor in model.investors:
        i = investor.index
        assert investor.home == codes[state.home[i]]
        assert investor.capital == state.capital_cents[i] / CENTS_PER_USD
        portfolio = investor.portfolio
        assert len(portfolio) == np.count_nonzero(state.weights[i])
        if portfolio:
            assert sum(portfolio.values()) == pytest.approx(1.0)
        for name, weight in portfolio.items():
            assert weight == state.weights[i, model.lab_state.names.index(name)]


def test_views_follow_the_state_as_the_model_steps():
    m = AIRaceModel(rng=1, n_researchers=300)
    lab = m.labs[0]
    before = lab.cash
    m.step()
    assert lab.cash == m.lab_state.cash_cents[0] / CENTS_PER_USD
    assert lab.cash != before


def test_levers_are_the_constructor_keywords():
    m = AIRaceModel(rng=0, trusted_release=True, trusted_fraction=0.05, n_researchers=200)
    assert m.config.policy.trusted_release.enabled
    assert m.config.policy.trusted_release.trusted_fraction == 0.05
    assert m.researcher_state.size == 200
    with pytest.raises(TypeError, match="unknown lever"):
        AIRaceModel(rng=0, trusted_fracton=0.05)
    with pytest.raises(ConfigError, match="trusted_fraction"):
        AIRaceModel(rng=0, trusted_fraction=2.0)
    assert set(LEVERS) >= {"trusted_release", "n_researchers"}


def test_network_graph_has_every_agent(model):
    graph = model.network
    assert graph.number_of_nodes() == len(model.agents) - len(model.governments)
    kinds = {data["kind"] for _, _, data in graph.edges(data=True)}
    assert {"employment", "collaboration", "investment"} <= kinds
    assert np.all(np.isfinite([d.get("weight", 1.0) for _, _, d in graph.edges(data=True)]))


def test_views_cannot_be_removed_behind_the_states_back(model):
    researcher = next(iter(model.researchers))
    with pytest.raises(NotImplementedError, match="views of the model's state"):
        researcher.remove()
    assert researcher in model.agents


def test_seed_keyword_points_to_rng():
    with pytest.raises(TypeError, match="rng="):
        AIRaceModel(seed=0)

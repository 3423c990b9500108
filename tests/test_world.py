"""Tests for agentsim.world: the population drawn at step 0 is the one the config describes."""

import numpy as np
import pytest

from agentsim import AIRaceModel
from agentsim.scenario_io import load_config
from agentsim.world import split_integer


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_foreign_born_shares_are_the_configured_ones(seed):
    model = AIRaceModel(load_config(None, overrides={"talent.n_researchers": 20_000}), rng=seed)
    state, juris = model.researcher_state, model.jurisdictions
    for j, code in enumerate(juris.codes):
        here = state.location == j
        n, share = int(here.sum()), float(juris.foreign_born_share[j])
        observed = float((state.origin[here] != j).mean())
        assert abs(observed - share) < 4 * np.sqrt(share * (1 - share) / n) + 1e-9, code


def test_foreign_born_come_from_every_other_jurisdiction_by_its_researcher_share():
    model = AIRaceModel(load_config(None, overrides={"talent.n_researchers": 20_000}), rng=0)
    state, juris = model.researcher_state, model.jurisdictions
    us = juris.index["US"]
    cn = juris.index["CN"]
    abroad_cn = (state.location == cn) & (state.origin != cn)
    # the US holds half the researchers outside China, so about half of China's foreign-born
    share_us = juris.researcher_share[us] / (1 - juris.researcher_share[cn])
    observed = float((state.origin[abroad_cn] == us).mean())
    assert abs(observed - share_us) < 4 * np.sqrt(share_us * (1 - share_us) / abroad_cn.sum())


def test_split_integer_keeps_the_total_and_the_proportions():
    counts = split_integer(10, np.array([1.0, 1.0, 2.0]))
    assert counts.sum() == 10 and counts[2] == 5 and sorted(counts[:2].tolist()) == [2, 3]
    assert split_integer(0, np.array([1.0])).tolist() == [0]
    assert split_integer(5, np.zeros(3)).tolist() == [0, 0, 0]

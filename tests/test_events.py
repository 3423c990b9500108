"""Events and order: counts are sums of events, ties are not leads, listing order is irrelevant."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentsim import AIRaceModel
from agentsim.events import cumulative_count
from agentsim.observe import leader, non_us_leads
from agentsim.run import run
from agentsim.scenario_io import apply_overrides, config_to_dict, load_config, validate_config
from agentsim.streams import LabTape

from .test_invariants import random_configs

CUMULATIVE = {
    "us_frontier_releases": {"kind": "release", "frontier": True, "us": True},
    "non_us_frontier_releases": {"kind": "release", "frontier": True, "us": False},
}


def check_series_are_sums_of_events(result) -> None:
    frame, events = result.model_frame, result.events
    steps = int(frame["step"].iloc[-1])
    for column, match in CUMULATIVE.items():
        series = frame[column].to_numpy()
        assert np.all(np.diff(series) >= 0), f"{column} fell"
        counted = cumulative_count(events, steps, **match).to_numpy()
        assert series.tolist() == counted.tolist(), column
    summary = result.summary
    assert summary["lab_relocations"] == int((events["kind"] == "relocation").sum())
    assert summary["labs_exited"] == int((events["kind"] == "exit").sum())
    assert summary["us_frontier_releases"] == int(frame["us_frontier_releases"].iloc[-1])
    overtakes = events.loc[events["kind"] == "overtake", "step"]
    if summary["overtake_month"] is None:
        assert overtakes.empty
    else:
        assert int(overtakes.iloc[0]) == summary["overtake_month"]


def test_relocation_does_not_rewrite_release_history():
    """A US lab moving abroad keeps its US releases in the US count."""
    cfg = load_config("trusted_release", overrides={"relocation.enabled": True})
    for seed in (0, 1, 2):
        result = run(cfg, seed=seed)
        assert result.summary["lab_relocations"] > 0
        check_series_are_sums_of_events(result)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=random_configs(), seed=st.integers(0, 2**32 - 1), relocate=st.booleans())
def test_cumulative_columns_never_fall_and_count_events(cfg, seed, relocate):
    data = apply_overrides(
        config_to_dict(cfg),
        {
            "relocation.enabled": relocate,
            "relocation.review_every_months": 2,
            "relocation.cost_billions": 0.5,
            "simulation.steps": 24,
        },
    )
    check_series_are_sums_of_events(run(validate_config(data), seed=seed))


def symmetric_world(first: str):
    """One US lab and one CN lab with the same parameters; ``first`` is listed first."""
    data = config_to_dict(load_config(None))
    template = data["labs"]["OpenAI"]
    labs = {
        "LabUS": {**template, "jurisdiction": "US"},
        "LabCN": {**template, "jurisdiction": "CN"},
    }
    data["labs"] = labs if first == "US" else {"LabCN": labs["LabCN"], "LabUS": labs["LabUS"]}
    for code, juris in data["jurisdictions"].items():
        juris["researcher_share"] = 0.5 if code in ("US", "CN") else 0.0
    data["talent"]["n_researchers"] = 400
    data["simulation"]["steps"] = 12
    data["market"]["closed"] = []
    return validate_config(data)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_tie_is_not_an_overtake_whatever_the_listing_order(seed):
    for first in ("US", "CN"):
        result = run(symmetric_world(first), seed=seed)
        frame = result.model_frame
        assert (
            frame["frontier_capability_us"].iloc[0] == frame["frontier_capability_non_us"].iloc[0]
        )
        assert frame["leader_jurisdiction"].iloc[0] == "US"
        assert result.summary["overtake_month"] != 0


def reordered(name: str):
    """A shipped scenario with its labs and jurisdictions listed in reverse order."""
    data = config_to_dict(load_config(name))
    data["labs"] = dict(reversed(list(data["labs"].items())))
    data["jurisdictions"] = dict(reversed(list(data["jurisdictions"].items())))
    data["capital"]["capital_billions"] = dict(
        reversed(list(data["capital"]["capital_billions"].items()))
    )
    return validate_config(data)


@pytest.mark.parametrize("name", ["baseline", "trusted_release"])
def test_listing_order_changes_no_output(name):
    small = {"talent.n_researchers": 800, "simulation.steps": 24}
    a = run(load_config(name, overrides=small), seed=5)
    b = run(validate_config(apply_overrides(config_to_dict(reordered(name)), small)), seed=5)
    pd.testing.assert_frame_equal(a.model_frame, b.model_frame)
    pd.testing.assert_frame_equal(a.lab_frame, b.lab_frame)
    pd.testing.assert_frame_equal(a.flows, b.flows)
    assert a.summary == b.summary


def test_a_labs_own_draws_do_not_depend_on_the_other_labs():
    ab, bc = LabTape(11, ["A", "B"]), LabTape(11, ["B", "C", "D"])
    for month in (0, 59, 60, 130):
        x, y = ab.month(month), bc.month(month)
        assert x.shock_normal[1] == y.shock_normal[0]
        assert x.leak_uniform[1] == y.leak_uniform[0]
        assert x.shock_normal[0] != y.shock_normal[1]
    with pytest.raises(ValueError, match="before"):
        ab.month(3)


def test_leader_and_lead_are_undefined_without_labs():
    codes = ["CN", "US"]
    assert leader(np.array([-np.inf, -np.inf]), np.array([0, 1]), codes) is None
    assert leader(np.array([30.0, 30.0]), np.array([0, 1]), codes) == "US"
    assert leader(np.array([30.0, 29.0]), np.array([0, 1]), codes) == "CN"
    nan = np.nan
    leads = non_us_leads(
        np.array([30.0, 30.0, nan, nan, 30.0]), np.array([30.0, 31.0, 29.0, nan, nan])
    )
    assert leads.tolist() == [False, True, True, False, False]


def test_a_world_without_non_us_labs_has_an_undefined_lead():
    data = config_to_dict(load_config(None, overrides={"talent.n_researchers": 300}))
    data["labs"] = {k: v for k, v in data["labs"].items() if v["jurisdiction"] == "US"}
    for code, juris in data["jurisdictions"].items():
        juris["researcher_share"] = 1.0 if code == "US" else 0.0
    data["simulation"]["steps"] = 6
    result = run(validate_config(data), seed=0)
    assert result.model_frame["frontier_capability_non_us"].isna().all()
    assert result.summary["final_us_lead_ooms"] is None
    assert result.summary["overtaken"] is False
    model = AIRaceModel(validate_config(data), rng=0)
    assert np.isnan(model.lead_of("US"))

"""Tests for agentsim.flywheel: capability, data flywheel, spillovers and research shocks."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from agentsim import flywheel

# --- internal_capability ------------------------------------------------------------------------


def test_seconds_per_month():
    # 365.25 days * 86400 s / 12 = 2,629,800 s.
    assert flywheel.SECONDS_PER_MONTH == pytest.approx(2_629_800.0)


def test_internal_capability_hand_case():
    # C = 1e19 FLOP/s, a 4-month run at 50% utilization, S = 0.5:
    # K = log10(1e19 * 4 * 2,629,800 * 0.5) + 0.5 = 19 + log10(5,259,600) + 0.5.
    k = flywheel.internal_capability(np.array([1e19]), np.array([0.5]), 4.0, 0.5)
    assert k[0] == pytest.approx(19 + math.log10(5_259_600.0) + 0.5)


def test_internal_capability_ten_times_compute_is_one_oom():
    k = flywheel.internal_capability(np.array([1e18, 1e19]), np.zeros(2), 3.0, 0.4)
    assert k[1] - k[0] == pytest.approx(1.0)


def test_internal_capability_floors_capacity_at_one_flop_per_second():
    k = flywheel.internal_capability(np.array([0.0, 1.0]), np.zeros(2), 1.0, 1.0)
    assert np.all(np.isfinite(k))
    assert k[0] == pytest.approx(k[1])
    assert k[0] == pytest.approx(math.log10(flywheel.SECONDS_PER_MONTH))


# --- data_factor --------------------------------------------------------------------------------


@pytest.mark.parametrize(("strength", "ceiling"), [(0.5, 3.0), (1.0, 2.0), (2.0, 10.0)])
def test_data_factor_is_one_at_reference_stock(strength, ceiling):
    assert flywheel.data_factor(np.array([250.0]), 250.0, strength, ceiling)[0] == pytest.approx(1)


def test_data_factor_hand_case():
    # D = 4 D_ref, gamma = 0.5, M = 3: x^gamma = 2, f = 3 * 2 / (3 - 1 + 2) = 1.5.
    assert flywheel.data_factor(np.array([400.0]), 100.0, 0.5, 3.0)[0] == pytest.approx(1.5)
    # D = D_ref / 4: x^gamma = 1/2, f = 3 * 0.5 / (2 + 0.5) = 0.6.
    assert flywheel.data_factor(np.array([25.0]), 100.0, 0.5, 3.0)[0] == pytest.approx(0.6)


def test_data_factor_zero_strength_switches_flywheel_off():
    data = np.array([0.0, 1.0, 1e3, 1e9])
    factor = flywheel.data_factor(data, 100.0, 0.0, 3.0)
    assert factor.dtype == float
    assert factor.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_data_factor_saturates_toward_ceiling_and_vanishes_without_data():
    data = np.array([0.0, 1e6, 1e12, 1e24])
    factor = flywheel.data_factor(data, 1.0, 0.5, 3.0)
    assert factor[0] == 0.0
    assert np.all(factor < 3.0)
    assert factor[2] == pytest.approx(3.0, rel=1e-5)
    assert factor[3] == pytest.approx(3.0, rel=1e-11)


def test_data_factor_negative_stock_treated_as_zero():
    assert flywheel.data_factor(np.array([-5.0]), 1.0, 0.5, 3.0)[0] == 0.0


@settings(max_examples=50, deadline=None)
@given(
    data=hnp.arrays(np.float64, st.integers(2, 8), elements=st.floats(0.0, 1e8, allow_nan=False)),
    strength=st.floats(0.05, 3.0),
    ceiling=st.floats(1.1, 100.0),
)
def test_data_factor_monotone_in_data_and_bounded(data, strength, ceiling):
    data = np.sort(data)
    factor = flywheel.data_factor(data, 1000.0, strength, ceiling)
    assert np.all(np.diff(factor) >= -1e-12 * ceiling)
    assert np.all(factor >= 0.0)
    assert np.all(factor <= ceiling * (1 + 1e-12))


# --- software_progress --------------------------------------------------------------------------


def _progress(human_capital, data=100.0, talent_elasticity=0.5, strength=0.5, shocks=None):
    human_capital = np.atleast_1d(np.asarray(human_capital, dtype=float))
    data = np.broadcast_to(np.asarray(data, dtype=float), human_capital.shape)
    if shocks is None:
        shocks = np.ones(human_capital.shape)
    return flywheel.software_progress(
        human_capital,
        data,
        base_rate=0.1,
        reference_human_capital=50.0,
        talent_elasticity=talent_elasticity,
        reference_stock=100.0,
        strength=strength,
        ceiling=3.0,
        productivity=2.0,
        shocks=shocks,
    )


def test_software_progress_hand_case():
    # s_0 = 0.1, r = 2, H = 4 H_ref, beta = 0.5 -> (4)^0.5 = 2, D = D_ref -> f = 1, eps = 1.5:
    # dS = 0.1 * 2 * 2 * 1 * 1.5 = 0.6.
    assert _progress(200.0, shocks=np.array([1.5]))[0] == pytest.approx(0.6)


@pytest.mark.parametrize("beta", [0.0, 0.3, 0.5, 1.0])
def test_software_progress_scales_as_talent_ratio_to_the_beta(beta):
    h = np.array([50.0, 100.0, 400.0, 12.5])
    gain = _progress(h, talent_elasticity=beta)
    # At H = H_ref the talent term is 1: dS = 0.1 * 2 = 0.2.
    assert gain[0] == pytest.approx(0.2)
    assert gain / gain[0] == pytest.approx((h / 50.0) ** beta)


def test_software_progress_multiplies_by_data_factor_and_shocks():
    data = np.array([25.0, 100.0, 400.0])
    shocks = np.array([1.0, 0.5, 2.0])
    gain = _progress(np.full(3, 50.0), data=data, shocks=shocks)
    factor = flywheel.data_factor(data, 100.0, 0.5, 3.0)
    assert gain == pytest.approx(0.2 * factor * shocks)
    # Hand values of f: 0.6, 1, 1.5 (see test_data_factor_hand_case).
    assert gain == pytest.approx([0.2 * 0.6, 0.2 * 0.5, 0.2 * 1.5 * 2.0])


def test_software_progress_no_researchers_no_progress():
    assert _progress([0.0, -3.0]).tolist() == [0.0, 0.0]


# --- update_data_stock --------------------------------------------------------------------------


def test_update_data_stock_hand_case_with_pooling():
    # D = (10, 0), u = (4, 0), delta = 0.1, rho = 0.5: shared = 0.5 * (4, 0) + 0.5 * 2 = (3, 1);
    # D' = (0.9 * 10 + 3, 0 + 1) = (12, 1).
    new = flywheel.update_data_stock(np.array([10.0, 0.0]), np.array([4.0, 0.0]), 0.1, 0.5)
    assert new == pytest.approx([12.0, 1.0])


def test_update_data_stock_no_pooling_keeps_own_usage():
    new = flywheel.update_data_stock(np.array([10.0, 20.0]), np.array([4.0, 1.0]), 0.05, 0.0)
    assert new == pytest.approx([9.5 + 4.0, 19.0 + 1.0])


def test_update_data_stock_full_pooling_shares_usage_equally():
    new = flywheel.update_data_stock(np.zeros(3), np.array([9.0, 0.0, 3.0]), 0.2, 1.0)
    assert new == pytest.approx([4.0, 4.0, 4.0])


@settings(max_examples=50, deadline=None)
@given(
    usage=hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(0.0, 1e4)),
    pooling=st.floats(0.0, 1.0),
    decay=st.floats(0.0, 1.0),
)
def test_update_data_stock_pooling_conserves_total_usage(usage, pooling, decay):
    stock = np.linspace(0.0, 100.0, usage.size)
    new = flywheel.update_data_stock(stock, usage, decay, pooling)
    # Pooling moves feedback between labs; it neither creates nor destroys any.
    added = new - (1.0 - decay) * stock
    assert added.sum() == pytest.approx(usage.sum(), rel=1e-9, abs=1e-9)
    assert np.all(added >= -1e-9)


# --- spillover ----------------------------------------------------------------------------------


def test_spillover_hand_case():
    # phi_o = 0.1, phi_p = 0.02, K_open = 6, K_partner = (7, 7), K_int = (5, 8):
    # lab 0: 0.1 * (6 - 5) + 0.02 * (7 - 5) = 0.14; lab 1 is ahead of both: 0.
    gain = flywheel.spillover(np.array([5.0, 8.0]), 6.0, np.array([7.0, 7.0]), 0.1, 0.02)
    assert gain == pytest.approx([0.14, 0.0])


def test_spillover_zero_when_ahead_or_level():
    internal = np.array([10.0, 9.0, 12.0])
    gain = flywheel.spillover(internal, 9.0, np.array([10.0, 9.0, -np.inf]), 0.5, 0.5)
    assert gain.tolist() == [0.0, 0.0, 0.0]


# --- shocks and breakthroughs -------------------------------------------------------------------


def _uniform_exponential(seed, n):
    rng = np.random.default_rng(seed)
    return rng.random(n), rng.standard_exponential(n)


@pytest.mark.parametrize("sigma", [0.1, 0.5, 1.0])
def test_shocks_have_mean_one(sigma):
    draws = flywheel.shocks(np.random.default_rng(0).standard_normal(200_000), sigma)
    assert draws.shape == (200_000,)
    assert np.all(draws > 0)
    assert draws.mean() == pytest.approx(1.0, abs=0.02)
    # Log-normal: log eps ~ N(-sigma^2 / 2, sigma^2).
    assert np.log(draws).mean() == pytest.approx(-0.5 * sigma**2, abs=0.01)
    assert np.log(draws).std() == pytest.approx(sigma, rel=0.02)


def test_shocks_zero_sigma_are_exactly_one():
    assert flywheel.shocks(np.random.default_rng(0).standard_normal(4), 0.0).tolist() == [1.0] * 4


def test_shocks_reproducible_with_seed():
    a = flywheel.shocks(np.random.default_rng(42).standard_normal(10), 0.3)
    b = flywheel.shocks(np.random.default_rng(42).standard_normal(10), 0.3)
    assert np.array_equal(a, b)


def test_breakthroughs_zero_when_probability_zero():
    jumps = flywheel.breakthroughs(*_uniform_exponential(0, 1000), 0.0, 0.5)
    assert jumps.shape == (1000,)
    assert np.all(jumps == 0.0)


def test_breakthroughs_zero_when_mean_size_zero():
    jumps = flywheel.breakthroughs(*_uniform_exponential(0, 100), 1.0, 0.0)
    assert np.all(np.asarray(jumps) == 0.0)


def test_breakthroughs_certain_hit_has_exponential_mean():
    jumps = flywheel.breakthroughs(*_uniform_exponential(0, 100_000), 1.0, 0.3)
    assert np.all(jumps > 0)
    assert jumps.mean() == pytest.approx(0.3, rel=0.02)


def test_breakthroughs_hit_rate_matches_probability():
    jumps = flywheel.breakthroughs(*_uniform_exponential(1, 100_000), 0.05, 0.3)
    assert np.all(jumps >= 0)
    assert (jumps > 0).mean() == pytest.approx(0.05, abs=0.005)

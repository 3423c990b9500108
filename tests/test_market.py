"""Tests for agentsim.market: logit shares, price power, revenue and the profit window."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from agentsim import market
from agentsim.releases import WEEKS_PER_MONTH

E = math.e


# --- logit_shares -------------------------------------------------------------------------------


def test_logit_shares_hand_case_three_labs_one_market():
    # Three labs, one market, lambda = 1, outside option K_0 = 0, K = (0, 1, 0):
    # denominator e^0 (outside) + e^0 + e^1 + e^0 = 3 + e.
    shares = market.logit_shares(
        np.array([0.0, 1.0, 0.0]),
        np.ones((3, 1), dtype=bool),
        sensitivity=1.0,
        outside_capability=0.0,
    )
    assert shares.shape == (3, 1)
    assert shares[:, 0] == pytest.approx([1 / (3 + E), E / (3 + E), 1 / (3 + E)])
    # The outside option keeps 1 / (3 + e) of the market.
    assert 1.0 - shares.sum() == pytest.approx(1 / (3 + E))


def test_logit_shares_closed_access_gives_zero_and_rest_share_the_market():
    # Two labs, two markets, lambda = 1, K_0 = 0, K = (1, 2); lab 1 is shut out of market 1.
    # Market 0: shares e/(1 + e + e^2), e^2/(1 + e + e^2).  Market 1: lab 0 alone: e/(1 + e).
    access = np.array([[True, True], [True, False]])
    shares = market.logit_shares(np.array([1.0, 2.0]), access, 1.0, 0.0)
    d0 = 1 + E + E**2
    assert shares[:, 0] == pytest.approx([E / d0, E**2 / d0])
    assert shares[0, 1] == pytest.approx(E / (1 + E))
    assert shares[1, 1] == 0.0


def test_logit_shares_accepts_capability_per_market():
    # K given per market (L x M): lab 0 offers 0 in market 0 and 2 in market 1, lab 1 the reverse.
    # lambda = 0.5, K_0 = 0: market 0 shares 1/(1 + 1 + e), e/(1 + 1 + e); market 1 mirrored.
    capability = np.array([[0.0, 2.0], [2.0, 0.0]])
    shares = market.logit_shares(capability, np.ones((2, 2), dtype=bool), 0.5, 0.0)
    d = 2 + E
    assert shares == pytest.approx(np.array([[1 / d, E / d], [E / d, 1 / d]]))


def test_logit_shares_zero_sensitivity_splits_evenly_with_outside_option():
    # lambda = 0: every option has weight 1; three labs plus the outside option -> 1/4 each.
    shares = market.logit_shares(
        np.array([5.0, 30.0, 12.0]), np.ones((3, 2), dtype=bool), 0.0, 25.0
    )
    assert shares == pytest.approx(np.full((3, 2), 0.25))


def test_logit_shares_stable_for_large_capabilities():
    # Capabilities in OOM of FLOP (~ 25-30) with a large lambda must not overflow.
    shares = market.logit_shares(np.array([29.0, 28.0]), np.ones((2, 1), dtype=bool), 20.0, 25.5)
    assert np.all(np.isfinite(shares))
    # Lab 0 leads by 1 OOM: ratio of shares e^20.
    assert shares[0, 0] / shares[1, 0] == pytest.approx(math.exp(20.0))


@settings(max_examples=50, deadline=None)
@given(
    capability=hnp.arrays(
        np.float64, st.integers(1, 5), elements=st.floats(-10, 10, allow_nan=False)
    ),
    n_markets=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    sensitivity=st.floats(0.0, 5.0),
    outside=st.floats(-10, 10),
)
def test_logit_shares_properties(capability, n_markets, seed, sensitivity, outside):
    rng = np.random.default_rng(seed)
    access = rng.random((capability.size, n_markets)) < 0.7
    shares = market.logit_shares(capability, access, sensitivity, outside)
    assert shares.shape == access.shape
    assert np.all(np.isfinite(shares))
    assert np.all(shares >= 0.0)
    assert np.all(shares <= 1.0)
    # With the outside option every market's shares sum to at most 1.
    assert np.all(shares.sum(axis=0) <= 1.0 + 1e-12)
    assert np.all(shares[~access] == 0.0)


@settings(max_examples=50, deadline=None)
@given(
    capability=hnp.arrays(
        np.float64, st.integers(2, 5), elements=st.floats(-5, 5, allow_nan=False)
    ),
    bump=st.floats(0.1, 3.0),
    sensitivity=st.floats(0.1, 3.0),
)
def test_logit_shares_higher_capability_gives_higher_share(capability, bump, sensitivity):
    access = np.ones((capability.size, 1), dtype=bool)
    before = market.logit_shares(capability, access, sensitivity, 0.0)[:, 0]
    raised = capability.copy()
    raised[0] += bump
    after = market.logit_shares(raised, access, sensitivity, 0.0)[:, 0]
    assert after[0] > before[0]
    # Every rival (and so the outside option) loses share.
    assert np.all(after[1:] < before[1:])
    # Among labs, the more capable one has the larger share.
    order = np.argsort(capability)
    assert np.all(np.diff(before[order]) >= -1e-15)


# --- segmented_users ----------------------------------------------------------------------------


def test_segmented_users_mixes_trusted_and_public_shares():
    # One market of 100 users, lambda = 1, K_0 = 0, tau = 0.5.
    # Trusted users see K = (1, 0): shares e/(e + 2), 1/(e + 2).
    # The public sees K = (0, 0): shares 1/3, 1/3.
    # U = 100 [0.5 trusted + 0.5 public].
    users = market.segmented_users(
        np.array([1.0, 0.0]),
        np.array([0.0, 0.0]),
        np.ones((2, 1), dtype=bool),
        np.array([100.0]),
        0.5,
        1.0,
        0.0,
    )
    expected = 100 * np.array([0.5 * E / (E + 2) + 0.5 / 3, 0.5 / (E + 2) + 0.5 / 3])
    assert users[:, 0] == pytest.approx(expected)


def test_segmented_users_no_trusted_segment_uses_public_capability():
    access = np.ones((2, 2), dtype=bool)
    market_users = np.array([100.0, 40.0])
    public = np.array([0.0, 0.0])
    users = market.segmented_users(
        np.array([3.0, 0.0]), public, access, market_users, 0.0, 1.0, 0.0
    )
    # Equal public capabilities with K_0 = K: three options share each market equally.
    assert users == pytest.approx(np.array([[100 / 3, 40 / 3], [100 / 3, 40 / 3]]))


def test_segmented_users_same_capability_scales_shares_by_market_size():
    capability = np.array([2.0, 1.0])
    access = np.array([[True, False], [True, True]])
    market_users = np.array([50.0, 10.0])
    users = market.segmented_users(
        capability, capability.copy(), access, market_users, 0.3, 1.5, 0.5
    )
    shares = market.logit_shares(capability, access, 1.5, 0.5)
    assert users == pytest.approx(shares * market_users[None, :])


# --- erode_price_power --------------------------------------------------------------------------


def test_erode_price_power_hand_case():
    # epsilon = 0.25, p_min = 0.35.
    # Lab 0 (K = 5, p = 1) shares markets with everyone; lab 1 releases at K = 6 (above lab 0),
    # lab 2 releases at K = 4 (below lab 0): n_0 = 1 -> 0.35 + 0.65 * 0.75 = 0.8375.
    # Labs 1 and 2 released: reset to 1.  Lab 3 serves no common market: unchanged at 0.8.
    price = np.array([1.0, 0.6, 0.5, 0.8])
    released = np.array([False, True, True, False])
    capability = np.array([5.0, 6.0, 4.0, 3.0])
    overlap = np.array([[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 1]], dtype=bool)
    new = market.erode_price_power(price, released, capability, overlap, 0.25, 0.35)
    assert new == pytest.approx([0.8375, 1.0, 1.0, 0.8])


def test_erode_price_power_counts_each_matching_rival_including_ties():
    # Two rivals release at K equal to and above lab 0's: n_0 = 2 ->
    # 0.35 + (0.9 - 0.35) * 0.75^2 = 0.35 + 0.55 * 0.5625 = 0.659375.
    price = np.array([0.9, 1.0, 1.0])
    released = np.array([False, True, True])
    capability = np.array([5.0, 5.0, 7.0])
    overlap = np.ones((3, 3), dtype=bool)
    new = market.erode_price_power(price, released, capability, overlap, 0.25, 0.35)
    assert new[0] == pytest.approx(0.659375)


def test_erode_price_power_never_below_floor():
    price = np.array([1.0, 1.0])
    released = np.array([False, True])
    capability = np.array([1.0, 2.0])
    overlap = np.ones((2, 2), dtype=bool)
    for _ in range(50):
        price = market.erode_price_power(price, released, capability, overlap, 0.5, 0.35)
    assert price[0] == pytest.approx(0.35)
    assert price[0] >= 0.35


# --- revenue and inference cost ------------------------------------------------------------------


def test_revenue_cents_hand_case():
    # Lab 0: 1.0 * (10 * 1.5 + 20 * 2.0) = 55 USD = 5500 cents.
    # Lab 1: 0.5 * (0 * 1.5 + 5 * 2.0) = 5 USD = 500 cents.
    users = np.array([[10.0, 20.0], [0.0, 5.0]])
    revenue = market.revenue_cents(users, np.array([1.5, 2.0]), np.array([1.0, 0.5]))
    assert revenue.dtype == np.float64  # whole cents
    assert revenue.tolist() == [5500, 500]


def test_revenue_cents_rounds_to_nearest_cent():
    # 1 user at 0.016 USD -> 1.6 cents -> 2; 1 user at 0.014 USD -> 1.4 cents -> 1.
    revenue = market.revenue_cents(
        np.array([[1.0], [1.0]]), np.array([0.016]), np.array([1.0, 0.875])
    )
    assert revenue.tolist() == [2, 1]


def test_inference_cost_cents_hand_case():
    # Lab 0: 10 * 0.2 + 20 * 0.05 = 3 USD = 300 cents; lab 1: 5 * 0.05 = 0.25 USD = 25 cents.
    cost = market.inference_cost_cents(np.array([[10.0, 20.0], [0.0, 5.0]]), np.array([0.2, 0.05]))
    assert cost.dtype == np.float64
    assert cost.tolist() == [300, 25]


# --- served fraction and profit window -----------------------------------------------------------


@pytest.mark.parametrize(
    ("release_time", "month_start", "expected"),
    [
        (3.0, 3.0, 1.0),  # released at the start of the month: serves all of it
        (2.5, 3.0, 1.0),  # released last month: serves all of this one
        (3.25, 3.0, 0.75),  # a quarter into the month: serves the remaining three quarters
        (3.9, 3.0, 0.1),
        (4.0, 3.0, 0.0),  # released at the start of next month: none of this one
        (5.5, 3.0, 0.0),
    ],
)
def test_served_fraction(release_time, month_start, expected):
    assert market.served_fraction(release_time, month_start) == pytest.approx(expected)


def test_served_fraction_two_weeks_into_month():
    # A 2-week delay from the start of month 7: release at 7 + 2 / (52 / 12) months,
    # serving 1 - 24/52 = 28/52 of month 7.
    release = 7.0 + 2.0 / WEEKS_PER_MONTH
    assert market.served_fraction(release, 7.0) == pytest.approx(28 / 52)


def test_window_revenue_flat_hand_case():
    # 1000 USD a week over a 26-week window, 2-week delay: 1000 * 24 = 24000.
    assert market.window_revenue(1000.0, 26.0, 2.0) == pytest.approx(24_000.0)
    assert market.window_revenue(1000.0, 26.0, 0.0) == pytest.approx(26_000.0)
    # Delay as long as (or longer than) the window: nothing earned, never negative.
    assert market.window_revenue(1000.0, 26.0, 26.0) == 0.0
    assert market.window_revenue(1000.0, 26.0, 40.0) == 0.0


def test_profit_window_lone_lab_loses_two_of_26_weeks():
    # A lab alone in its market: with lambda = 1, K = K_0 + 1 it keeps e/(1 + e) of the market,
    # whatever the month, so its weekly revenue is flat.
    shares = market.logit_shares(np.array([26.5]), np.ones((1, 1), dtype=bool), 1.0, 25.5)
    assert shares[0, 0] == pytest.approx(E / (1 + E))
    users = shares * np.array([100.0])  # 100 users (the unit does not matter)
    monthly = market.revenue_cents(users, np.array([20.0]), np.array([1.0]))[0] / 100.0
    weekly = monthly / WEEKS_PER_MONTH
    full = market.window_revenue(weekly, 26.0, 0.0)
    delayed = market.window_revenue(weekly, 26.0, 2.0)
    # Loss = 2 weeks of revenue = 2/26 ~ 7.7% of the window's revenue.
    assert (full - delayed) / full == pytest.approx(2 / 26)
    assert full - delayed == pytest.approx(2 * weekly)
    assert market.window_loss_share(26.0, 2.0) == pytest.approx(2 / 26)
    assert market.window_loss_share(26.0, 2.0) == pytest.approx(0.0769, abs=1e-4)


@pytest.mark.parametrize(
    ("window", "delay", "expected"),
    [(26.0, 0.0, 0.0), (26.0, 13.0, 0.5), (10.0, 2.5, 0.25), (26.0, 26.0, 1.0), (4.0, 9.0, 1.0)],
)
def test_window_loss_share_is_min_delay_over_window(window, delay, expected):
    assert market.window_loss_share(window, delay) == pytest.approx(expected)


@pytest.mark.parametrize("window", [0.0, -3.0])
def test_window_loss_share_rejects_non_positive_window(window):
    with pytest.raises(ValueError, match="window_weeks"):
        market.window_loss_share(window, 1.0)

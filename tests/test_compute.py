"""Tests for agentsim.compute: compute prices, capex and depreciation (hand-computed cases)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentsim import compute

# --- compute_price ------------------------------------------------------------------------------


def test_compute_price_falls_30_percent_after_twelve_steps():
    ones = np.ones(2)
    start = compute.compute_price(0, 30_000.0, 0.3, ones, ones)
    year = compute.compute_price(12, 30_000.0, 0.3, ones, ones)
    assert start == pytest.approx([30_000.0, 30_000.0])
    # 30,000 * 0.7 = 21,000.
    assert year == pytest.approx([21_000.0, 21_000.0])
    # Two years: 30,000 * 0.49 = 14,700; six months: 30,000 * sqrt(0.7).
    assert compute.compute_price(24, 30_000.0, 0.3, ones, ones)[0] == pytest.approx(14_700.0)
    assert compute.compute_price(6, 30_000.0, 0.3, ones, ones)[0] == pytest.approx(
        30_000.0 * 0.7**0.5
    )


def test_compute_price_scales_with_local_and_export_multipliers():
    # Step 12, P_0 = 10,000, pi = 0.3: base 7,000; lab 1 pays 1.2 locally and 2x under controls:
    # 7,000 * 2.4 = 16,800.
    price = compute.compute_price(
        12, 10_000.0, 0.3, np.array([1.0, 1.2, 0.9]), np.array([1.0, 2.0, 1.0])
    )
    assert price == pytest.approx([7_000.0, 16_800.0, 6_300.0])


# --- capex_plan and depreciate ------------------------------------------------------------------

NO_CAP = np.array([np.inf])


def test_capex_plan_target_growth_with_ample_cash():
    # C = 1200, monthly growth 1.01^12^(1/12) - 1 = 0.01, no depreciation -> want 12 H100e.
    # Price 1000 USD -> cost 12 * 1000 * 100 = 1,200,000 cents.
    bought, cost = compute.capex_plan(
        np.array([1200.0]),
        np.array([1000.0]),
        np.array([1e10]),
        1.01**12,
        0.0,
        0.5,
        NO_CAP,
    )
    assert bought[0] == pytest.approx(12.0)
    assert cost.dtype == np.float64  # whole cents
    assert cost.tolist() == [1_200_000]


def test_capex_plan_limited_by_cash_share():
    # Cash 500,000 cents, share 0.5 -> 250,000 cents = 2,500 USD -> 2.5 H100e at 1000 USD.
    bought, cost = compute.capex_plan(
        np.array([1200.0]),
        np.array([1000.0]),
        np.array([500_000.0]),
        1.01**12,
        0.0,
        0.5,
        NO_CAP,
    )
    assert bought[0] == pytest.approx(2.5)
    assert cost.tolist() == [250_000]


def test_capex_plan_limited_by_cap():
    # Wants 12 but the cap is 1205 with nothing retired: room for 5.
    bought, cost = compute.capex_plan(
        np.array([1200.0]),
        np.array([1000.0]),
        np.array([1e10]),
        1.01**12,
        0.0,
        0.5,
        np.array([1205.0]),
    )
    assert bought[0] == pytest.approx(5.0)
    assert cost.tolist() == [500_000]


def test_capex_plan_replaces_depreciation_and_cap_at_capacity():
    # Depreciation chosen so that a month keeps 0.99 of capacity: 1 - 0.99^12 per year.
    # C = 1200 retires 12; target growth 1 (flat) -> wants 12 to replace it.
    # Cap = C: room = 1200 - (1200 - 12) = 12, so replacement is allowed, not growth.
    dep = 1.0 - 0.99**12
    cash = np.array([1e10])
    bought, _ = compute.capex_plan(
        np.array([1200.0]), np.array([1000.0]), cash, 1.0, dep, 0.5, np.array([1200.0])
    )
    assert bought[0] == pytest.approx(12.0)
    bought, _ = compute.capex_plan(
        np.array([1200.0]), np.array([1000.0]), cash, 2.0, dep, 0.5, np.array([1200.0])
    )
    assert bought[0] == pytest.approx(12.0)
    # Capacity above the cap (cap imposed later): nothing bought.
    bought, cost = compute.capex_plan(
        np.array([1200.0]), np.array([1000.0]), cash, 2.0, dep, 0.5, np.array([500.0])
    )
    assert bought[0] == 0.0
    assert cost.tolist() == [0]


def test_capex_plan_no_growth_no_depreciation_buys_nothing():
    bought, cost = compute.capex_plan(
        np.array([1200.0, 5.0]),
        np.array([1000.0, 900.0]),
        np.array([1e10, 1e10]),
        1.0,
        0.0,
        0.5,
        np.full(2, np.inf),
    )
    assert bought.tolist() == [0.0, 0.0]
    assert cost.tolist() == [0, 0]


@settings(max_examples=50, deadline=None)
@given(
    capacity=st.floats(0.0, 1e6),
    price=st.floats(100.0, 1e5),
    cash=st.integers(0, 10**13),
    growth=st.floats(1.0, 5.0),
    dep=st.floats(0.0, 0.5),
    share=st.floats(0.0, 1.0),
    cap=st.floats(0.0, 2e6),
)
def test_capex_plan_respects_cash_share_target_and_cap(
    capacity, price, cash, growth, dep, share, cap
):
    c = np.array([capacity])
    bought, cost = compute.capex_plan(
        c, np.array([price]), np.array([float(cash)]), growth, dep, share, np.array([cap])
    )
    retired = capacity * (1.0 - (1.0 - dep) ** (1.0 / 12.0))
    wanted = capacity * (growth ** (1.0 / 12.0) - 1.0) + retired
    tol = 1e-9 * max(1.0, capacity)
    assert bought[0] >= 0.0
    assert bought[0] <= wanted + tol
    assert bought[0] <= share * cash / 100.0 / price * (1 + 1e-12) + 1e-12
    # Capacity after the month never exceeds the cap unless it already did.
    assert compute.depreciate(c, dep)[0] + bought[0] <= max(cap, capacity - retired) + tol
    assert 0 <= cost[0] <= cash


def test_depreciate():
    # A year of monthly depreciation at 20%/year leaves 80%.
    c = np.array([1000.0])
    for _ in range(12):
        c = compute.depreciate(c, 0.2)
    assert c[0] == pytest.approx(800.0)
    assert compute.depreciate(np.array([5.0]), 0.0)[0] == 5.0

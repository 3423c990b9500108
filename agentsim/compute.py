"""Compute: the price of compute, what labs buy each month, and depreciation (ODD 7.1).

Plain functions on numpy arrays; no Mesa. Shapes: ``L`` labs. Capacity is in H100 equivalents
(H100e), prices in USD per H100e, spending in whole cents (float64).
"""

from __future__ import annotations

import numpy as np


def compute_price(
    step: int,
    base_price_usd: float,
    decline_per_year: float,
    local_multiplier: np.ndarray,
    export_multiplier: np.ndarray,
) -> np.ndarray:
    """Price per H100 equivalent that each lab pays this month (USD).

    Equation: P_i(t) = P_0 (1 - pi)^(t/12) m_j(i) m_X,i, with m_X the export-control multiplier
    (1 for labs not targeted).
    """
    return (
        base_price_usd
        * (1.0 - decline_per_year) ** (step / 12.0)
        * local_multiplier
        * export_multiplier
    )


def capex_plan(
    capacity: np.ndarray,
    price_usd: np.ndarray,
    cash_cents: np.ndarray,
    target_growth_per_year: float,
    depreciation_per_year: float,
    max_capex_share: float,
    cap: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Compute purchases this month: (H100e bought, cost in cents).

    Equation: B = min(C g_m + C delta_m, x Cash / P, cap - C (1 - delta_m)), with g_m and delta_m
    the monthly target growth and depreciation rates and x the largest capex share of cash.

    A lab aims to grow capacity by the target factor per year net of depreciation, spends at most
    ``max_capex_share`` of its cash, and holds no more than ``cap`` (inf where no cap binds).
    """
    monthly_growth = target_growth_per_year ** (1.0 / 12.0) - 1.0
    retired = capacity * (1.0 - (1.0 - depreciation_per_year) ** (1.0 / 12.0))
    wanted = np.maximum(capacity * monthly_growth + retired, 0.0)
    room = np.maximum(cap - (capacity - retired), 0.0)
    affordable = max_capex_share * cash_cents / 100.0 / price_usd
    bought = np.minimum(np.minimum(wanted, affordable), room)
    cost = np.rint(bought * price_usd * 100.0)
    cost = np.minimum(cost, cash_cents)
    return bought, cost


def depreciate(capacity: np.ndarray, depreciation_per_year: float) -> np.ndarray:
    """Capacity left after a month of depreciation.

    Equation: C' = C (1 - delta_C)^(1/12).
    """
    return capacity * (1.0 - depreciation_per_year) ** (1.0 / 12.0)


def export_multiplier(targeted: np.ndarray, in_force: bool, multiplier: float) -> np.ndarray:
    """Export-control price multiplier each lab pays (1 where no control binds), shape (L,).

    Equation: m_X,i = m_X for labs headquartered in a targeted jurisdiction while controls are
    in force, else 1.
    """
    if not in_force:
        return np.ones(targeted.size)
    return np.where(targeted, multiplier, 1.0)


def capacity_cap(targeted: np.ndarray, in_force: bool, cap_h100e: float | None) -> np.ndarray:
    """Largest capacity each lab may hold (H100e; inf where no cap binds), shape (L,)."""
    cap = np.full(targeted.size, np.inf)
    if in_force and cap_h100e is not None:
        cap[targeted] = cap_h100e
    return cap

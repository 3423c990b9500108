"""Policy arithmetic: trusted release, export controls, outbound investment and market access.

Plain functions on numpy arrays; no Mesa. The government agents (see :mod:`agentsim.agents`)
decide *whether* an instrument binds; these functions say *what it does* when it binds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

WEEKS_PER_MONTH = 52.0 / 12.0


def weeks_to_months(weeks: float) -> float:
    """Convert weeks to (fractional) months: 52 weeks = 12 months."""
    return weeks / WEEKS_PER_MONTH


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
    cost = np.rint(bought * price_usd * 100.0).astype(np.int64)
    cost = np.minimum(cost, cash_cents)
    return bought, cost


def depreciate(capacity: np.ndarray, depreciation_per_year: float) -> np.ndarray:
    """Capacity left after a month of depreciation.

    Equation: C' = C (1 - delta_C)^(1/12).
    """
    return capacity * (1.0 - depreciation_per_year) ** (1.0 / 12.0)


def access_matrix(
    lab_jurisdiction: np.ndarray, codes: Sequence[str], closed: Iterable[tuple[str, str]]
) -> np.ndarray:
    """Which labs may serve which markets (L x M booleans); ``closed`` lists (lab home, market)."""
    index = {code: i for i, code in enumerate(codes)}
    blocked = np.zeros((len(codes), len(codes)), dtype=bool)
    for home, market in closed:
        blocked[index[home], index[market]] = True
    return ~blocked[lab_jurisdiction]


def allowed_investments(
    investor_home: np.ndarray,
    lab_jurisdiction: np.ndarray,
    codes: Sequence[str],
    banned: Iterable[tuple[str, str]],
) -> np.ndarray:
    """Which investors may fund which labs (I x L booleans) under outbound-investment rules."""
    index = {code: i for i, code in enumerate(codes)}
    blocked = np.zeros((len(codes), len(codes)), dtype=bool)
    for home, target in banned:
        blocked[index[home], index[target]] = True
    return ~blocked[investor_home[:, None], lab_jurisdiction[None, :]]


def release_timing(now: int, delay_months: float) -> float:
    """Time (in months, fractional) at which a model finished at step ``now`` reaches users."""
    return now + delay_months


def is_due(release_time: np.ndarray, now: int) -> np.ndarray:
    """Pending releases that happen during month [now, now + 1)."""
    return release_time < now + 1.0


def months_behind_update(counter: int, us_behind: bool) -> int:
    """Consecutive months the US has trailed the frontier, updated with this month's state."""
    return counter + 1 if us_behind else 0

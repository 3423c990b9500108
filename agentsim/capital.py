"""Capital allocation: investors' expected returns, target portfolios and monthly flows.

Plain functions on numpy arrays; no Mesa. Shapes: ``I`` investors, ``L`` labs.
"""

from __future__ import annotations

import numpy as np


def capability_rank(capability: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Capability rank of each active lab in [0, 1]: 1 leads, 0 trails, ties share a rank.

    rank_j = (#active labs below j + (#active labs tied with j) / 2) / (#active - 1); a lone
    active lab ranks 1; inactive labs rank 0.
    """
    others = int(active.sum()) - 1
    if others <= 0:
        return active.astype(float)
    ranked = np.sort(capability[active])
    below = np.searchsorted(ranked, capability, side="left")
    tied = np.searchsorted(ranked, capability, side="right") - below  # j itself included
    rank = (below + 0.5 * (tied - 1)) / others
    return np.where(active, rank, 0.0)


def expected_return(
    revenue_growth: np.ndarray,
    rank: np.ndarray,
    reach: np.ndarray,
    revenue_growth_weight: float,
    capability_weight: float,
    reach_weight: float,
) -> np.ndarray:
    """Common part of every investor's score of each lab (L,).

    Equation: v_j = w_g g_j + w_K rank_j + w_r log(reach_j), with g_j the log growth of revenue
    over the last quarter, rank_j the capability rank in [0, 1] and reach_j the share of world
    users the lab may serve.
    """
    return (
        revenue_growth_weight * revenue_growth
        + capability_weight * rank
        + reach_weight * np.log(np.maximum(reach, 1e-6))
    )


def target_portfolio(
    common_score: np.ndarray,
    home_match: np.ndarray,
    home_bias: np.ndarray,
    restricted: np.ndarray,
    policy_risk_aversion: np.ndarray,
    eligible: np.ndarray,
    sensitivity: float,
) -> np.ndarray:
    """Target portfolio weights (I x L): softmax over eligible labs.

    Equation: w*_ij = exp(theta u_ij) / sum_k exp(theta u_ik) over eligible k, with
    u_ij = v_j + b_i [home_i = j's home] - a_i [j restricted].

    ``eligible`` (I x L) excludes labs an investor does not know, may not fund, or that exited.
    Rows with no eligible lab are all zero.
    """
    score = common_score[None, :] + home_bias[:, None] * home_match
    score = score - policy_risk_aversion[:, None] * restricted[None, :]
    score = np.where(eligible, sensitivity * score, -np.inf)
    top = score.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    weight = np.where(eligible, np.exp(score - top), 0.0)
    total = weight.sum(axis=1, keepdims=True)
    return np.divide(weight, total, out=np.zeros_like(weight), where=total > 0)


def adjust_portfolio(
    current: np.ndarray, target: np.ndarray, speed: float, eligible: np.ndarray
) -> np.ndarray:
    """Partial adjustment towards the target, renormalised over eligible labs.

    Equation: w' = (1 - kappa) w + kappa w*, then ineligible weights dropped and rows rescaled.
    """
    weights = np.where(eligible, (1.0 - speed) * current + speed * target, 0.0)
    total = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)


def investment_flows(
    capital_cents: np.ndarray, weights: np.ndarray, deploy_rate: float
) -> np.ndarray:
    """Cents each investor puts into each lab this month (I x L, whole cents).

    Equation: F_ij = floor(d K_i w_ij); rounding down keeps every investor's outflow within its
    capital.
    """
    return np.floor(deploy_rate * capital_cents[:, None] * weights)


def commitments_cents(
    capital_cents: np.ndarray, deploy_rate: float, growth_per_year: float
) -> np.ndarray:
    """New money committed to each investor this month (whole cents).

    Sized so that capital under management grows by ``growth_per_year`` net of deployment.
    """
    monthly = (1.0 + growth_per_year) ** (1.0 / 12.0) - 1.0
    return np.rint(np.maximum(capital_cents * (monthly + deploy_rate), 0.0))

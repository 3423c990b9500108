"""Capability and the data flywheel: users -> feedback data -> software progress.

Plain functions on numpy arrays; no Mesa. Capability is in orders of magnitude (OOM) of
effective training compute, log10 FLOP with algorithmic progress included.
"""

from __future__ import annotations

import numpy as np

SECONDS_PER_MONTH = 365.25 * 24 * 3600 / 12


def internal_capability(
    capacity_flops: np.ndarray,
    software_ooms: np.ndarray,
    run_length_months: float,
    utilization: float,
) -> np.ndarray:
    """Capability a lab could train now.

    Equation: K_int = log10(C * T_run * u) + S.
    """
    compute = np.maximum(capacity_flops, 1.0) * run_length_months * SECONDS_PER_MONTH * utilization
    return np.log10(compute) + software_ooms


def data_factor(
    data_stock: np.ndarray, reference_stock: float, strength: float, ceiling: float
) -> np.ndarray:
    """Multiplier of software progress from the feedback-data stock (saturating flywheel).

    Equation: f(D) = M x^gamma / (M - 1 + x^gamma), x = D / D_ref, M = ceiling.

    f(D_ref) = 1, f -> M as data grows, f -> 0 as data vanishes, and gamma = 0 gives f = 1 (no
    flywheel). In log data f is logistic: increasing returns early, diminishing later.
    """
    if strength == 0:
        return np.ones_like(data_stock, dtype=float)
    x = np.power(np.maximum(data_stock, 0.0) / reference_stock, strength)
    return ceiling * x / (ceiling - 1.0 + x)


def software_progress(
    human_capital: np.ndarray,
    data_stock: np.ndarray,
    base_rate: float,
    reference_human_capital: float,
    talent_elasticity: float,
    reference_stock: float,
    strength: float,
    ceiling: float,
    productivity: float,
    shocks: np.ndarray,
) -> np.ndarray:
    """Monthly growth of software efficiency S per lab.

    Equation: dS = s_0 * r(t) * (H / H_ref)^beta * f(D) * eps, with r(t) the research
    productivity index and eps a mean-one log-normal shock.
    """
    talent = np.power(np.maximum(human_capital, 0.0) / reference_human_capital, talent_elasticity)
    return (
        base_rate
        * productivity
        * talent
        * data_factor(data_stock, reference_stock, strength, ceiling)
        * shocks
    )


def update_data_stock(
    data_stock: np.ndarray, usage: np.ndarray, decay: float, pooling: float
) -> np.ndarray:
    """Decayed stock of user feedback after this month's usage.

    Equation: D' = (1 - delta_D) D + (1 - rho) u_i + rho mean(u), with u_i the lab's users
    (millions) and rho the pooled (shared) share of feedback.
    """
    shared = (1.0 - pooling) * usage + pooling * usage.mean()
    return (1.0 - decay) * data_stock + shared


def spillover(
    internal: np.ndarray,
    best_open: float,
    partner_best: np.ndarray,
    open_rate: float,
    partner_rate: float,
) -> np.ndarray:
    """Software gain from catching up on open (or leaked) weights and partners' models.

    Equation: dS_spill = phi_o max(0, K_open - K_int) + phi_p max(0, K_partner - K_int).
    """
    gain = open_rate * np.maximum(best_open - internal, 0.0)
    return gain + partner_rate * np.maximum(partner_best - internal, 0.0)


def shocks(standard_normal: np.ndarray, sigma: float) -> np.ndarray:
    """Mean-one log-normal research shocks from standard normal draws (same shape).

    Equation: eps = exp(sigma_S z - sigma_S^2 / 2), z ~ N(0, 1).
    """
    if sigma == 0:
        return np.ones(standard_normal.shape)
    return np.exp(sigma * standard_normal - 0.5 * sigma * sigma)


def breakthroughs(
    uniform: np.ndarray, standard_exponential: np.ndarray, probability: float, mean_size: float
) -> np.ndarray:
    """Rare jumps in software efficiency (OOM) from U(0, 1) and Exp(1) draws (same shape).

    Equation: dS_b = J with probability p_b, J ~ Exponential(mean b); otherwise 0.
    """
    return np.where(uniform < probability, mean_size * standard_exponential, 0.0)

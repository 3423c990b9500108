"""User markets and money: logit choice among deployed models, price power, the profit window.

Plain functions on numpy arrays; no Mesa. Shapes: ``L`` labs, ``M`` markets (jurisdictions).
"""

from __future__ import annotations

import numpy as np

CENTS_PER_USD = 100


def logit_shares(
    capability: np.ndarray, access: np.ndarray, sensitivity: float, outside_capability: float
) -> np.ndarray:
    """Share of each market's users choosing each lab's model (L x M).

    Equation: s_im = A_im exp(lambda K_i) / (exp(lambda K_0) + sum_j A_jm exp(lambda K_j)).

    ``capability`` is (L,) or (L, M) capability offered in each market; ``access`` is the (L, M)
    boolean access matrix; the outside option (no model) has capability ``outside_capability``.
    """
    k = np.asarray(capability, dtype=float)
    if k.ndim == 1:
        k = k[:, None]  # the same capability in every market
    # scale each market by its own best option so exp() never underflows to 0/0
    top = np.maximum(np.where(access, k, -np.inf).max(axis=0), outside_capability)
    weight = np.where(access, np.exp(sensitivity * (k - top[None, :])), 0.0)
    outside = np.exp(sensitivity * (outside_capability - top))[None, :]
    return weight / (outside + weight.sum(axis=0, keepdims=True))


def segmented_users(
    capability_trusted: np.ndarray,
    capability_public: np.ndarray,
    access: np.ndarray,
    market_users: np.ndarray,
    trusted_fraction: float,
    sensitivity: float,
    outside_capability: float,
) -> np.ndarray:
    """Users of each lab in each market (L x M) when markets split into trusted and public users.

    Equation: U_im = N_m [tau s_im(K^trusted) + (1 - tau) s_im(K^public)].

    Trusted users see every lab's newest model; the public sees each lab's newest model that
    has left its trusted-only phase. With no restriction the two capabilities coincide.
    """
    public = logit_shares(capability_public, access, sensitivity, outside_capability)
    if trusted_fraction <= 0 or np.array_equal(capability_trusted, capability_public):
        return public * market_users[None, :]
    trusted = logit_shares(capability_trusted, access, sensitivity, outside_capability)
    shares = trusted_fraction * trusted + (1.0 - trusted_fraction) * public
    return shares * market_users[None, :]


def erode_price_power(
    price_power: np.ndarray,
    released: np.ndarray,
    capability: np.ndarray,
    overlap: np.ndarray,
    erosion: float,
    floor: float,
) -> np.ndarray:
    """Price power after this month's releases (the profit window closing).

    Equation: p_i <- p_min + (p_i - p_min) (1 - epsilon)^{n_i}, where n_i counts rival releases
    this month at or above lab i's deployed capability in a market both serve (``overlap`` is the
    L x L boolean "serve a common market" matrix). A lab's own release resets p_i to 1.
    """
    rival = released[None, :] & overlap & (capability[None, :] >= capability[:, None])
    np.fill_diagonal(rival, False)
    n_rivals = rival.sum(axis=1)
    eroded = floor + (price_power - floor) * (1.0 - erosion) ** n_rivals
    return np.where(released, 1.0, eroded)


def revenue_cents(
    users: np.ndarray, revenue_per_user_usd: np.ndarray, price_power: np.ndarray
) -> np.ndarray:
    """Monthly revenue per lab in whole cents (float64).

    Equation: Rev_i = p_i sum_m U_im a_m.
    """
    usd = price_power * (users @ revenue_per_user_usd)
    return np.rint(usd * CENTS_PER_USD)


def inference_cost_cents(users: np.ndarray, cost_per_user_usd: np.ndarray) -> np.ndarray:
    """Monthly inference cost per lab in whole cents (float64): sum_m U_im c_m."""
    return np.rint((users @ cost_per_user_usd) * CENTS_PER_USD)


def served_fraction(release_time: float, month_start: float) -> float:
    """Share of the month from ``month_start`` that a model released at ``release_time`` serves.

    Fractional months count: a release 2 weeks into a 4.35-week month serves the rest of it.
    """
    return min(max(month_start + 1.0 - release_time, 0.0), 1.0)


def window_revenue(weekly_revenue: float, window_weeks: float, delay_weeks: float) -> float:
    """Revenue a model earns in its profit window when its release is delayed.

    The window ends when rivals catch up, at a date the delay does not move, so each week of
    delay is a week of lost sales: revenue = r (W - d) for flat weekly revenue r, window W and
    delay d (zero once d >= W).
    """
    return weekly_revenue * max(window_weeks - delay_weeks, 0.0)


def window_loss_share(window_weeks: float, delay_weeks: float) -> float:
    """Share of a flat profit window's revenue lost to a compliance delay: min(d / W, 1)."""
    if window_weeks <= 0:
        raise ValueError("window_weeks must be positive")
    full = window_revenue(1.0, window_weeks, 0.0)
    return 1.0 - window_revenue(1.0, window_weeks, delay_weeks) / full

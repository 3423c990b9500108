"""Talent: researchers' job search, offers and hiring; entry to and exit from the field.

Plain functions on numpy arrays; no Mesa. Shapes: ``R`` researcher slots, ``L`` labs, ``J``
jurisdictions. An employer of -1 means unemployed (after a layoff, on entry, or for a slot not
in the field: see :class:`~agentsim.state.ResearcherState`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNEMPLOYED = -1


@dataclass(frozen=True)
class LabOffers:
    """What each lab offers a researcher this month (all arrays of shape (L,))."""

    pay_scale_usd: np.ndarray  #: annual pay of a skill-1 researcher
    log_compute_per_researcher: np.ndarray  #: log(C_j / n_j) relative to the median lab
    capability_gap: np.ndarray  #: K_dep - best K_dep of active labs (OOM, <= 0)
    log_reach: np.ndarray  #: log(users_j) relative to the median active lab
    jurisdiction: np.ndarray
    open_for_hiring: np.ndarray  #: bool: active labs


@dataclass(frozen=True)
class Preferences:
    """Weights of researchers' job utility."""

    pay_weight: float
    compute_weight: float
    frontier_weight: float
    home_preference: float
    switching_cost: float
    pay_elasticity: float
    reach_weight: float = 0.0


def pay(pay_scale_usd: np.ndarray, skill: np.ndarray, elasticity: float) -> np.ndarray:
    """Annual pay of a researcher at a lab.

    Equation: w_rj = W_j q_r^eta, with W_j the lab's pay scale and q_r the researcher's skill.
    """
    return pay_scale_usd * np.power(skill, elasticity)


def median(values: np.ndarray) -> float:
    """Median of a 1-D array without NaNs (the same number as ``np.median``, faster for few labs).

    Raises ValueError on an empty array.
    """
    if values.size == 0:
        raise ValueError("median of an empty array")
    ordered = np.sort(values)
    half = ordered.size // 2
    if ordered.size % 2:
        return float(ordered[half])
    return float((ordered[half - 1] + ordered[half]) / 2)


def pay_scale(
    base_salary_usd: np.ndarray,
    pay_premium: np.ndarray,
    cash_cents: np.ndarray,
    headcount: np.ndarray,
    active: np.ndarray,
    finance_elasticity: float,
    finance_floor: float,
    finance_cap: float,
) -> np.ndarray:
    """Annual pay of a skill-1 researcher at each lab (USD, (L,)): home norm x premium x finances.

    Equation: W_j = w_home(j) x premium_j x clip((c_j / median_k c_k)^e_f, f_min, f_max), with
    c_j the lab's cash per researcher and the median over active labs. ``base_salary_usd`` is
    the pay norm of each lab's jurisdiction.
    """
    cash_per_head = np.maximum(cash_cents, 0) / np.maximum(headcount, 1)
    typical = median(cash_per_head[active]) if active.any() else 1.0
    relative = (cash_per_head / max(typical, 1.0)) ** finance_elasticity
    finances = np.minimum(np.maximum(relative, finance_floor), finance_cap)
    return base_salary_usd * pay_premium * finances


def job_utility(
    labs: np.ndarray,
    skill: np.ndarray,
    origin: np.ndarray,
    location: np.ndarray,
    employer: np.ndarray,
    offers: LabOffers,
    prefs: Preferences,
    friction_into: np.ndarray,
) -> np.ndarray:
    """Utility of working at ``labs`` for each researcher (element-wise over equal shapes).

    Equation: U_rj = a_w log w_rj + a_c log(C_j / n_j) + a_K (K_j - K_front) + a_u log(U_j)
    + h [home(j) = origin_r] - m_{home(j)} [home(j) not in {location_r, origin_r}]
    - s [j != employer_r], with compute per researcher and users relative to the median lab
    and K the deployed capability (what the field sees of a lab).
    """
    home = offers.jurisdiction[labs]
    utility = prefs.pay_weight * np.log(
        pay(offers.pay_scale_usd[labs], skill, prefs.pay_elasticity)
    )
    utility += prefs.compute_weight * offers.log_compute_per_researcher[labs]
    utility += prefs.frontier_weight * offers.capability_gap[labs]
    if prefs.reach_weight:
        utility += prefs.reach_weight * offers.log_reach[labs]
    utility += prefs.home_preference * (home == origin)
    migrating = (home != location) & (home != origin)
    utility -= friction_into[home] * migrating
    utility -= prefs.switching_cost * (labs != employer)
    return utility


def candidate_labs(
    rng: np.random.Generator,
    searchers: np.ndarray,
    indptr: np.ndarray,
    neighbours: np.ndarray,
    employer: np.ndarray,
    n_labs: int,
    random_offers: int,
) -> np.ndarray:
    """Labs each searcher hears of (S x (1 + random_offers)): a collaborator's employer + random.

    The collaborator is drawn uniformly from the searcher's ties (CSR arrays ``indptr`` and
    ``neighbours``); a searcher without ties, or whose collaborator is unemployed, hears of a
    random lab instead.
    """
    n = searchers.size
    degree = indptr[searchers + 1] - indptr[searchers]
    pick = indptr[searchers] + np.floor(rng.random(n) * np.maximum(degree, 1)).astype(np.int64)
    has_tie = degree > 0
    via_network = np.full(n, UNEMPLOYED, dtype=np.int64)
    via_network[has_tie] = employer[neighbours[pick[has_tie]]]
    fallback = rng.integers(0, n_labs, size=n)
    via_network = np.where(via_network == UNEMPLOYED, fallback, via_network)
    labs = np.empty((n, 1 + random_offers), dtype=np.int64)
    labs[:, 0] = via_network
    labs[:, 1:] = rng.integers(0, n_labs, size=(n, random_offers))
    return labs


def hire_within_budget(
    target: np.ndarray, skill: np.ndarray, annual_pay: np.ndarray, budget_usd: np.ndarray
) -> np.ndarray:
    """Which proposed moves labs can afford (bool, one per proposal).

    Each lab takes its applicants best-skilled first while the sum of their annual pay stays
    within its hiring budget.
    """
    if target.size == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((-skill, target))
    sorted_target = target[order]
    cost = annual_pay[order]
    cumulative = np.cumsum(cost)
    starts = np.searchsorted(sorted_target, sorted_target, side="left")
    before = np.where(starts > 0, cumulative[starts - 1], 0.0)
    within = (cumulative - before) <= budget_usd[sorted_target]
    accepted = np.empty_like(within)
    accepted[order] = within
    return accepted


def search_jobs(
    rng: np.random.Generator,
    skill: np.ndarray,
    origin: np.ndarray,
    location: np.ndarray,
    employer: np.ndarray,
    indptr: np.ndarray,
    neighbours: np.ndarray,
    offers: LabOffers,
    prefs: Preferences,
    friction_into: np.ndarray,
    search_rate: float,
    random_offers: int,
    hiring_budget_usd: np.ndarray,
    in_field: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One month of job search. Returns (movers, new employer of each mover).

    A share ``search_rate`` of employed researchers (and every unemployed one) compare their
    current job with the labs they hear of; each moves to the best offer if it beats staying and
    the lab can afford the hire. ``in_field`` ((R,) bool; None: all) masks the slots of
    researchers in the field: the others never search.
    """
    n_labs = offers.pay_scale_usd.size
    looking = (rng.random(skill.size) < search_rate) | (employer == UNEMPLOYED)
    if in_field is not None:
        looking &= in_field
    searchers = np.flatnonzero(looking)
    if searchers.size == 0 or n_labs == 0:
        return searchers[:0], searchers[:0]
    labs = candidate_labs(rng, searchers, indptr, neighbours, employer, n_labs, random_offers)
    s_skill, s_origin = skill[searchers, None], origin[searchers, None]
    s_loc, s_emp = location[searchers, None], employer[searchers, None]
    utility = job_utility(labs, s_skill, s_origin, s_loc, s_emp, offers, prefs, friction_into)
    utility = np.where(offers.open_for_hiring[labs] & (labs != s_emp), utility, -np.inf)
    best = np.argmax(utility, axis=1)
    best_lab = labs[np.arange(searchers.size), best]
    best_utility = utility[np.arange(searchers.size), best]
    current = employer[searchers]
    employed = current != UNEMPLOYED
    stay = np.full(searchers.size, -np.inf)
    if employed.any():
        e = searchers[employed]
        stay[employed] = job_utility(
            current[employed],
            skill[e],
            origin[e],
            location[e],
            current[employed],
            offers,
            prefs,
            friction_into,
        )
    wants = np.isfinite(best_utility) & (best_utility > stay)
    movers, target = searchers[wants], best_lab[wants]
    annual = pay(offers.pay_scale_usd[target], skill[movers], prefs.pay_elasticity)
    hired = hire_within_budget(target, skill[movers], annual, hiring_budget_usd)
    return movers[hired], target[hired]


def monthly_rate(rate_per_year: float) -> float:
    """Monthly probability of an event with annual probability ``rate_per_year``.

    Equation: p = 1 - (1 - x)^(1/12).
    """
    return 1.0 - (1.0 - rate_per_year) ** (1.0 / 12.0)


def entrants_in_month(month: int, rate_per_year: float, pool0: int) -> int:
    """New researchers entering the field in ``month`` (0-based): a fixed yearly cohort.

    Equation: E_t = floor((t + 1) e) - floor(t e), with e = x_in n_0 / 12 the expected
    entrants per month (``pool0`` = n_0, the step-0 pool); the count is deterministic and
    carries fractions from month to month, so the first t months bring floor(t e) entrants.
    """
    per_month = rate_per_year * pool0 / 12.0
    return int(np.floor((month + 1) * per_month) - np.floor(month * per_month))


def entrant_slots(months: int, rate_per_year: float, pool0: int) -> int:
    """Reserve slots for ``months`` months of entrants: floor(months x_in n_0 / 12)."""
    return int(np.floor(months * rate_per_year * pool0 / 12.0))


def exits(rng: np.random.Generator, in_field: np.ndarray, rate_per_year: float) -> np.ndarray:
    """Indices of researchers who leave the field this month (each with ``monthly_rate``).

    Draws one uniform per slot (R,), in the field or not, so the draws of a month do not
    depend on who is in the field.
    """
    leaving = rng.random(in_field.size) < monthly_rate(rate_per_year)
    return np.flatnonzero(leaving & in_field)

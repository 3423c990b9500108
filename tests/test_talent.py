"""Tests for agentsim.talent: pay, job utility, offers via the network, hiring and job search."""

import math

import numpy as np
import pytest

from agentsim import talent
from agentsim.talent import UNEMPLOYED, LabOffers, Preferences


def _offers(
    pay_scale, open_for_hiring=None, jurisdiction=None, log_compute=None, gap=None, reach=None
):
    pay_scale = np.asarray(pay_scale, dtype=float)
    n = pay_scale.size
    return LabOffers(
        pay_scale_usd=pay_scale,
        log_compute_per_researcher=np.zeros(n) if log_compute is None else np.asarray(log_compute),
        capability_gap=np.zeros(n) if gap is None else np.asarray(gap, dtype=float),
        log_reach=np.zeros(n) if reach is None else np.asarray(reach, dtype=float),
        jurisdiction=np.zeros(n, dtype=np.int64)
        if jurisdiction is None
        else np.asarray(jurisdiction),
        open_for_hiring=np.ones(n, dtype=bool)
        if open_for_hiring is None
        else np.asarray(open_for_hiring, dtype=bool),
    )


PAY_ONLY = Preferences(
    pay_weight=1.0,
    compute_weight=0.0,
    frontier_weight=0.0,
    home_preference=0.0,
    switching_cost=0.1,
    pay_elasticity=0.5,
)


def _csr(neighbour_lists):
    indptr = np.concatenate([[0], np.cumsum([len(n) for n in neighbour_lists])]).astype(np.int64)
    flat = [j for n in neighbour_lists for j in n]
    return indptr, np.asarray(flat, dtype=np.int64)


# --- pay and job utility ------------------------------------------------------------------------


def test_pay_hand_case():
    # w = 100,000 * 4^0.5 = 200,000; skill 1 earns the scale.
    assert talent.pay(np.array([100_000.0, 50_000.0]), np.array([4.0, 1.0]), 0.5) == pytest.approx(
        [200_000.0, 50_000.0]
    )


def test_job_utility_hand_case():
    # Labs: pay scale (1e5, 2e5), log compute per researcher (1, 2), gap (0, -0.5), homes (0, 1).
    # Weights: a_w 1, a_c 0.3, a_K 1, h 0.5, s 0.2, eta 0.5; friction into (0.4, 0.7).
    offers = _offers([1e5, 2e5], jurisdiction=[0, 1], log_compute=[1.0, 2.0], gap=[0.0, -0.5])
    prefs = Preferences(1.0, 0.3, 1.0, 0.5, 0.2, 0.5)
    friction = np.array([0.4, 0.7])
    labs = np.array([0, 1, 0, 1])
    skill = np.array([4.0, 4.0, 4.0, 4.0])  # pay = scale * 2
    # Researchers A (rows 0, 1): origin 0, lives in 0, works at lab 0.
    # Researcher B (rows 2, 3): origin 1, lives in 0, works at lab 1.
    origin = np.array([0, 0, 1, 1])
    location = np.array([0, 0, 0, 0])
    employer = np.array([0, 0, 1, 1])
    u = talent.job_utility(labs, skill, origin, location, employer, offers, prefs, friction)
    expected = [
        # A at lab 0: log 2e5 + 0.3 * 1 + 0 + home 0.5; no migration, no switch.
        math.log(2e5) + 0.3 + 0.5,
        # A at lab 1: log 4e5 + 0.6 - 0.5; home 1 is neither A's location nor origin: - 0.7;
        # switching - 0.2.
        math.log(4e5) + 0.6 - 0.5 - 0.7 - 0.2,
        # B at lab 0: log 2e5 + 0.3; lab 0 is where B lives (no friction); switching - 0.2.
        math.log(2e5) + 0.3 - 0.2,
        # B at lab 1: log 4e5 + 0.6 - 0.5 + home 0.5 (B's origin); no friction, no switch.
        math.log(4e5) + 0.6 - 0.5 + 0.5,
    ]
    assert u == pytest.approx(expected)


# --- hire_within_budget -------------------------------------------------------------------------


def test_hire_within_budget_best_skilled_first():
    # Lab 0 (budget 500) gets applicants with skill 1, 3, 2 and pay 100, 300, 200:
    # by skill 3 (300), 2 (running 500 <= 500), 1 (running 600 > 500) -> hires the 3 and the 2.
    # Lab 1 (budget 400) gets one applicant costing 500 -> none.
    hired = talent.hire_within_budget(
        np.array([0, 0, 0, 1]),
        np.array([1.0, 3.0, 2.0, 5.0]),
        np.array([100.0, 300.0, 200.0, 500.0]),
        np.array([500.0, 400.0]),
    )
    assert hired.dtype == bool
    assert hired.tolist() == [False, True, True, False]


def test_hire_within_budget_interleaved_proposals_keep_their_order():
    # Same as above with lab 1 able to afford its applicant and proposals shuffled.
    target = np.array([1, 0, 0, 0, 1])
    skill = np.array([5.0, 1.0, 3.0, 2.0, 0.5])
    annual = np.array([500.0, 100.0, 300.0, 200.0, 50.0])
    hired = talent.hire_within_budget(target, skill, annual, np.array([500.0, 520.0]))
    # Lab 1: skill 5 (500 <= 520), then skill 0.5 (550 > 520) -> only the first.
    assert hired.tolist() == [True, False, True, True, False]


def test_hire_within_budget_stops_at_first_applicant_that_does_not_fit():
    # "Best-skilled first while the pay stays within budget": once the running total passes the
    # budget, cheaper applicants further down the list are not taken either.
    hired = talent.hire_within_budget(
        np.array([0, 0, 0]),
        np.array([3.0, 2.0, 1.0]),
        np.array([300.0, 200.0, 100.0]),
        np.array([450.0]),
    )
    assert hired.tolist() == [True, False, False]


def test_hire_within_budget_zero_budget_and_empty():
    hired = talent.hire_within_budget(
        np.array([0, 1]), np.array([1.0, 2.0]), np.array([10.0, 10.0]), np.array([0.0, 10.0])
    )
    assert hired.tolist() == [False, True]
    empty = talent.hire_within_budget(
        np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.array([1.0])
    )
    assert empty.shape == (0,)
    assert empty.dtype == bool


# --- candidate_labs -----------------------------------------------------------------------------


def test_candidate_labs_draws_collaborators_employer():
    # Researcher 0 ties to 1 and 2, who both work at lab 2; researcher 1 ties to 0 (lab 0).
    indptr, neighbours = _csr([[1, 2], [0], [0], []])
    employer = np.array([0, 2, 2, 1])
    for seed in range(20):
        labs = talent.candidate_labs(
            np.random.default_rng(seed),
            np.array([0, 1]),
            indptr,
            neighbours,
            employer,
            n_labs=3,
            random_offers=0,
        )
        assert labs.shape == (2, 1)
        assert labs[:, 0].tolist() == [2, 0]


def test_candidate_labs_without_ties_or_with_unemployed_collaborator_falls_back_to_random():
    # Researcher 3 has no ties; researcher 1's only collaborator (0) is unemployed.
    indptr, neighbours = _csr([[1, 2], [0], [0], []])
    employer = np.array([UNEMPLOYED, 2, 2, 1])
    seen = set()
    for seed in range(50):
        labs = talent.candidate_labs(
            np.random.default_rng(seed),
            np.array([1, 3]),
            indptr,
            neighbours,
            employer,
            n_labs=4,
            random_offers=0,
        )
        assert np.all((labs >= 0) & (labs < 4))
        seen.update(labs.ravel().tolist())
    assert seen == {0, 1, 2, 3}


def test_candidate_labs_adds_random_offers():
    indptr, neighbours = _csr([[1], [0]])
    employer = np.array([1, 3])
    labs = talent.candidate_labs(
        np.random.default_rng(0),
        np.array([0, 1, 0]),
        indptr,
        neighbours,
        employer,
        n_labs=5,
        random_offers=3,
    )
    assert labs.shape == (3, 4)
    assert labs[:, 0].tolist() == [3, 1, 3]
    assert np.all((labs[:, 1:] >= 0) & (labs[:, 1:] < 5))


# --- search_jobs --------------------------------------------------------------------------------


def _search(
    employer,
    ties,
    offers,
    prefs=PAY_ONLY,
    search_rate=1.0,
    random_offers=0,
    budget=None,
    skill=None,
    seed=0,
):
    employer = np.asarray(employer, dtype=np.int64)
    n = employer.size
    indptr, neighbours = _csr(ties)
    n_labs = offers.pay_scale_usd.size
    return talent.search_jobs(
        np.random.default_rng(seed),
        np.ones(n) if skill is None else np.asarray(skill, float),
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
        employer,
        indptr,
        neighbours,
        offers,
        prefs,
        np.zeros(1),
        search_rate,
        random_offers,
        np.full(n_labs, 1e12) if budget is None else np.asarray(budget, float),
    )


def test_search_jobs_moves_to_strictly_better_lab_not_worse():
    # Lab 1 pays 10x lab 0: log(10) = 2.3 beats the 0.1 switching cost.
    # Researchers 0 (lab 0) and 1 (lab 1) collaborate; with no random offers each hears only of
    # the other's lab. 0 moves up to lab 1; 1 does not move down to lab 0.
    movers, target = _search([0, 1], [[1], [0]], _offers([1e5, 1e6]))
    assert movers.tolist() == [0]
    assert target.tolist() == [1]


def test_search_jobs_equal_labs_no_move():
    # Identical labs and no switching cost: the offer only ties with staying, so nobody moves.
    prefs = Preferences(1.0, 0.0, 0.0, 0.0, 0.0, 0.5)
    movers, target = _search([0, 1], [[1], [0]], _offers([1e5, 1e5]), prefs=prefs)
    assert movers.size == 0
    assert target.size == 0


def test_search_jobs_switching_cost_can_outweigh_pay():
    # Lab 1 pays 10% more (log 1.1 = 0.095) but switching costs 0.1: stay.
    movers, _ = _search([0, 1], [[1], [0]], _offers([1e5, 1.1e5]))
    assert movers.size == 0


def test_search_jobs_unemployed_always_search():
    # search_rate 0: the employed never look; unemployed researcher 2 hears of lab 1 through
    # researcher 1 and is hired even though lab 1 pays less than lab 0.
    movers, target = _search(
        [0, 1, UNEMPLOYED], [[], [2], [1]], _offers([1e6, 1e5]), search_rate=0.0
    )
    assert movers.tolist() == [2]
    assert target.tolist() == [1]


def test_search_jobs_nobody_searching():
    movers, target = _search([0, 1], [[1], [0]], _offers([1e5, 1e6]), search_rate=0.0)
    assert movers.size == 0
    assert target.size == 0


def test_search_jobs_respects_hiring_budget():
    # Researcher 0 would move to lab 1 (pay 1e6 * 1^0.5) but lab 1 can spend only 5e5.
    movers, _ = _search([0, 1], [[1], [0]], _offers([1e5, 1e6]), budget=[1e12, 5e5])
    assert movers.size == 0
    movers, _ = _search([0, 1], [[1], [0]], _offers([1e5, 1e6]), budget=[1e12, 1e6])
    assert movers.tolist() == [0]


def test_search_jobs_closed_lab_not_chosen():
    offers = _offers([1e5, 1e6], open_for_hiring=[True, False])
    movers, _ = _search([0, 1], [[1], [0]], offers)
    assert movers.size == 0


def test_search_jobs_moves_are_always_improvements():
    # Random population: every move goes to an open lab other than the current one, with
    # strictly higher utility than staying, within each lab's budget.
    rng = np.random.default_rng(3)
    n, n_labs = 300, 6
    skill = rng.lognormal(0.0, 0.5, n)
    origin = rng.integers(0, 3, n)
    location = rng.integers(0, 3, n)
    employer = rng.integers(-1, n_labs, n)
    indptr, neighbours = _csr([rng.choice(n, 3, replace=False).tolist() for _ in range(n)])
    offers = _offers(
        rng.uniform(1e5, 1e6, n_labs),
        open_for_hiring=rng.random(n_labs) < 0.8,
        jurisdiction=rng.integers(0, 3, n_labs),
        log_compute=rng.normal(0, 1, n_labs),
        gap=-rng.random(n_labs),
    )
    prefs = Preferences(1.0, 0.3, 1.0, 0.5, 0.2, 0.5)
    friction = np.array([0.3, 0.6, 0.9])
    budget = rng.uniform(0.0, 3e6, n_labs)
    movers, target = talent.search_jobs(
        rng,
        skill,
        origin,
        location,
        employer,
        indptr,
        neighbours,
        offers,
        prefs,
        friction,
        0.5,
        2,
        budget,
    )
    assert movers.size > 0
    assert np.unique(movers).size == movers.size
    assert np.all(offers.open_for_hiring[target])
    assert np.all(target != employer[movers])
    employed = employer[movers] != UNEMPLOYED
    e = movers[employed]
    new = talent.job_utility(
        target[employed], skill[e], origin[e], location[e], employer[e], offers, prefs, friction
    )
    old = talent.job_utility(
        employer[e], skill[e], origin[e], location[e], employer[e], offers, prefs, friction
    )
    assert np.all(new > old)
    spent = np.bincount(
        target,
        weights=talent.pay(offers.pay_scale_usd[target], skill[movers], prefs.pay_elasticity),
        minlength=n_labs,
    )
    assert np.all(spent <= budget + 1e-6)


def test_job_utility_reach_term_hand_case():
    # a_u 0.2: a lab with e^1 times the median lab's users is worth 0.2 more.
    offers = _offers([1e5, 1e5], reach=[0.0, 1.0])
    prefs = Preferences(1.0, 0.0, 0.0, 0.0, 0.0, 0.5, reach_weight=0.2)
    labs = np.array([0, 1])
    u = talent.job_utility(
        labs,
        np.ones(2),
        np.zeros(2, np.int64),
        np.zeros(2, np.int64),
        np.full(2, UNEMPLOYED),
        offers,
        prefs,
        np.zeros(1),
    )
    assert u[1] - u[0] == pytest.approx(0.2)

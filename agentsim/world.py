"""Initialisation (ODD section 5): jurisdictions, labs, researchers, investors and their ties.

Each builder turns the validated :class:`~agentsim.config.Config` into one state object of
:mod:`agentsim.state`, drawing from the random stream it is given, in a fixed order, so the
same config and seed always build the same world. No Mesa: agents are created later, as views.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from agentsim import flywheel, market, talent
from agentsim.config import Config
from agentsim.market import CENTS_PER_USD
from agentsim.network import small_world
from agentsim.releases import ReleaseState
from agentsim.state import InvestorState, JurisdictionState, LabState, ResearcherState


def split_integer(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total in proportion to weights (largest remainder; int64, same shape).

    All zeros when the total or the weights are zero.
    """
    weights = np.asarray(weights, dtype=float)
    if total == 0 or weights.sum() <= 0:
        return np.zeros(weights.size, dtype=np.int64)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    remainder = total - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:remainder]] += 1
    return counts


def build_jurisdictions(config: Config) -> JurisdictionState:
    """The jurisdictions of the config, in canonical (alphabetical) order of their codes."""
    codes = sorted(config.jurisdictions)  # canonical order: listing order changes nothing
    juris = [config.jurisdictions[c] for c in codes]

    def column(name: str) -> np.ndarray:
        return np.array([getattr(j, name) for j in juris], dtype=float)

    users0 = column("users_millions")
    return JurisdictionState(
        codes=codes,
        users0_millions=users0,
        user_growth_per_year=column("user_growth_per_year"),
        revenue_per_user_usd=column("revenue_per_user_usd"),
        inference_per_user_usd=column("inference_cost_per_user_usd"),
        base_salary_usd=column("salary_usd_thousands") * 1e3,
        compute_price_multiplier=column("compute_price_multiplier"),
        immigration_friction=column("immigration_friction"),
        researcher_share=column("researcher_share"),
        foreign_born_share=column("foreign_born_share"),
        users_millions=users0.copy(),
    )


def build_labs(config: Config, juris: JurisdictionState) -> LabState:
    """Labs at step 0: cash, capacity, software and the model each has deployed.

    Deployed capability starts ``deployed_lag_ooms`` below what the lab could train now; the
    public sees the same model (no rule has bound yet). Users, data and revenue are filled in
    by :func:`open_markets`.
    """
    names = sorted(config.labs)  # canonical order: listing order changes nothing
    labs = [config.labs[name] for name in names]
    n = len(labs)
    index = juris.index
    jurisdiction = np.array([index[lab.jurisdiction] for lab in labs], dtype=np.int64)
    capacity = np.array([lab.capacity_h100e for lab in labs], dtype=float)
    software = np.array([lab.software_ooms for lab in labs], dtype=float)
    c = config.compute
    internal = flywheel.internal_capability(
        capacity * c.flops_per_h100e, software, c.run_length_months, c.utilization
    )
    deployed = internal - np.array([lab.deployed_lag_ooms for lab in labs])
    state = LabState(
        names=names,
        jurisdiction=jurisdiction,
        origin=jurisdiction.copy(),
        is_us=juris.is_us[jurisdiction],
        partners=np.zeros((n, n), dtype=bool),
        open_weights=np.array([lab.open_weights for lab in labs], dtype=bool),
        active=np.ones(n, dtype=bool),
        pay_premium=np.array([lab.pay_premium for lab in labs], dtype=float),
        cash_cents=np.array(
            [round(lab.cash_billions * 1e9 * CENTS_PER_USD) for lab in labs], dtype=float
        ),
        capacity_h100e=capacity,
        software_ooms=software,
        internal_capability=internal,
        deployed_capability=deployed,
        public_capability=deployed.copy(),
        leaked_capability=np.full(n, -np.inf),
        served_deployed=deployed,
        served_public=deployed.copy(),
        release_state=np.full(n, ReleaseState.TRAINING, dtype=np.int8),
        pending_capability=np.full(n, np.nan),
        pending_time=np.full(n, np.inf),
        pending_trusted=np.zeros(n, dtype=bool),
        trusted_queue=[deque() for _ in labs],
        price_power=np.ones(n),
        headcount=np.zeros(n, dtype=np.int64),
        human_capital=np.zeros(n),
        users_millions=np.zeros((n, len(juris.codes))),
        data_stock=np.zeros(n),
        revenue_history_cents=np.zeros((n, config.capital.revenue_history_months)),
        revenue_cents=np.zeros(n),
        investment_cents=np.zeros(n),
        salaries_cents=np.zeros(n),
        inference_cents=np.zeros(n),
        capex_cents=np.zeros(n),
        relocation_cents=np.zeros(n),
    )
    state.move_headquarters(jurisdiction, juris.is_us)
    return state


def build_researchers(
    config: Config,
    juris: JurisdictionState,
    labs: LabState,
    population_rng: np.random.Generator,
    network_rng: np.random.Generator,
    demography_rng: np.random.Generator | None = None,
) -> ResearcherState:
    """Researchers at step 0: employers, skills, origins and collaboration ties.

    Each jurisdiction's researchers (``researcher_share`` of the total) are split over its labs
    by ``talent_weight``; skills are log-normal with mean 1; a ``foreign_born_share`` of those
    working in a jurisdiction come from elsewhere, drawn in proportion to the other
    jurisdictions' researcher shares; collaboration is a small world over a ring on which
    colleagues sit next to each other.

    With ``talent.entry_exit`` on, reserve slots for the run's entrants
    (:func:`agentsim.talent.entrant_slots`) follow the step-0 pool, out of the field; each
    sits on the ring next to a step-0 researcher drawn at random from ``demography_rng``, so
    an entrant starts with collaborators like anyone else. With it off (or no entrants) the
    world is the same, draw for draw, as without the mechanism.
    """
    t = config.talent
    n = t.n_researchers
    reserve = 0
    if t.entry_exit and demography_rng is not None:
        reserve = talent.entrant_slots(config.simulation.steps, t.entry_rate_per_year, n)
    per_code = split_integer(n, juris.researcher_share)
    employer = []
    for code_i, count in enumerate(per_code):
        mine = np.flatnonzero(labs.jurisdiction == code_i)
        weights = np.array([config.labs[labs.names[j]].talent_weight for j in mine])
        employer.append(np.repeat(mine, split_integer(int(count), weights)))
    employer_arr = np.concatenate(employer).astype(np.int64)
    location = labs.jurisdiction[employer_arr]
    sigma = t.skill_sigma
    skill = np.exp(sigma * population_rng.standard_normal(n) - 0.5 * sigma * sigma)
    origin = _draw_origins(population_rng, location, juris)
    order = np.argsort(employer_arr, kind="stable")
    if reserve:
        assert demography_rng is not None
        # ring positions: step-0 researchers at 0..n-1, each reserve slot just after a random one
        after = demography_rng.integers(0, n, size=reserve) + 0.5
        keys = np.concatenate([np.arange(n, dtype=float), after])
        slots = np.concatenate([order, np.arange(n, n + reserve)])
        order = slots[np.argsort(keys, kind="stable")]
    collaboration = small_world(network_rng, order, t.collaboration_degree, t.rewiring)
    size = n + reserve

    def padded(values: np.ndarray, fill: float | int) -> np.ndarray:
        return np.concatenate([values, np.full(reserve, fill, dtype=values.dtype)])

    return ResearcherState(
        skill=padded(skill, 0.0),
        pay_factor=padded(np.power(skill, t.pay_elasticity), 0.0),
        origin=padded(origin, 0),
        location=padded(location, 0),
        employer=padded(employer_arr, -1),
        salary_usd=np.zeros(size),
        in_field=np.arange(size) < n,
        collaboration=collaboration,
        initial=n,
        next_slot=n,
    )


def draw_entrants(
    config: Config, juris: JurisdictionState, rng: np.random.Generator, count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Skill, origin and location ((count,) each) of new researchers entering the field.

    Skill comes from the step-0 distribution (log-normal, mean 1, ``skill_sigma``); the
    location (where the PhD was done, and the entrant's home labour market) is drawn in
    proportion to the jurisdictions' ``researcher_share``; origins follow the step-0 rule
    (a ``foreign_born_share`` of each location's entrants come from elsewhere).
    """
    sigma = config.talent.skill_sigma
    skill = np.exp(sigma * rng.standard_normal(count) - 0.5 * sigma * sigma)
    shares = juris.researcher_share
    location = rng.choice(len(juris.codes), size=count, p=shares / shares.sum())
    return skill, _draw_origins(rng, location.astype(np.int64), juris), location.astype(np.int64)


def _draw_origins(
    rng: np.random.Generator, location: np.ndarray, juris: JurisdictionState
) -> np.ndarray:
    """Origins: a ``foreign_born_share`` of each jurisdiction's researchers come from elsewhere."""
    origin = location.copy()
    shares = juris.researcher_share
    foreign = rng.random(origin.size) < juris.foreign_born_share[location]
    for code_i in range(len(juris.codes)):
        pick = foreign & (location == code_i)  # by where they work: origins change in the loop
        weights = shares.copy()
        weights[code_i] = 0
        if pick.any() and weights.sum() > 0:
            origin[pick] = rng.choice(
                len(juris.codes), size=int(pick.sum()), p=weights / weights.sum()
            )
    return origin


def build_investors(
    config: Config, juris: JurisdictionState, labs: LabState, rng: np.random.Generator
) -> InvestorState:
    """Investors at step 0: homes, capital, preferences and the labs they know.

    Every home with capital gets at least one investor when there are enough; the rest are
    split in proportion to capital. Within a home, sizes are 1 + Lomax(``investor_size_shape``)
    and each investor's home bias and policy-risk aversion are the configured means times a
    mean-one-in-log log-normal factor of dispersion ``preference_dispersion``. Each investor
    knows the labs at home plus ``initial_ties`` labs drawn at random.
    """
    c = config.capital
    codes = juris.codes
    amounts = np.array([c.capital_billions.get(code, 0.0) for code in codes])
    funded = (amounts > 0).astype(np.int64)
    if c.n_investors >= funded.sum():
        per_code = funded + split_integer(c.n_investors - int(funded.sum()), amounts)
    else:
        per_code = split_integer(c.n_investors, amounts)
    home = np.repeat(np.arange(len(codes)), per_code)
    size = rng.pareto(c.investor_size_shape, home.size) + 1.0
    capital = np.zeros(home.size)
    for code_i in range(len(codes)):
        mine = home == code_i
        if mine.any():
            capital[mine] = amounts[code_i] * 1e9 * size[mine] / size[mine].sum()
    jitter = rng.lognormal(0.0, c.preference_dispersion, size=(2, home.size))
    home_match = home[:, None] == labs.jurisdiction[None, :]
    random_ties = np.zeros_like(home_match)
    if c.initial_ties:
        picks = rng.integers(0, labs.size, size=(home.size, c.initial_ties))
        np.put_along_axis(random_ties, picks, True, axis=1)
    return InvestorState(
        home=home,
        capital_cents=np.rint(capital * CENTS_PER_USD),
        home_bias=c.home_bias * jitter[0],
        risk_aversion=c.policy_risk_aversion * jitter[1],
        home_match=home_match.astype(float),
        known=home_match | random_ties,
        weights=np.zeros((home.size, labs.size)),
        holdings_cents=np.zeros((home.size, labs.size)),
        commitments_cents=np.zeros(home.size),
    )


def open_markets(
    config: Config, juris: JurisdictionState, labs: LabState, access: np.ndarray
) -> None:
    """Users, feedback data and revenue at step 0 (before any month is simulated).

    The data stock starts at its steady state for today's users, D = U / delta_D, and the
    revenue history is filled with today's revenue (no growth yet).
    """
    labs.users_millions = market.segmented_users(
        labs.served_deployed,
        labs.served_public,
        access & labs.active[:, None],
        juris.users_millions,
        config.policy.trusted_release.trusted_fraction,
        config.market.capability_sensitivity,
        config.market.outside_option_capability,
    )
    labs.data_stock = labs.users_millions.sum(axis=1) / config.flywheel.data_decay_per_month
    labs.revenue_cents = market.revenue_cents(
        labs.users_millions * 1e6, juris.revenue_per_user_usd, labs.price_power
    )
    window = labs.revenue_history_cents.shape[1]
    labs.revenue_history_cents = np.repeat(labs.revenue_cents[:, None], window, 1)


def opening_holdings(
    config: Config, labs: LabState, investors: InvestorState, weights: np.ndarray
) -> np.ndarray:
    """Holdings at step 0 (I x L whole cents): each lab's funding to date split by weight."""
    funding = np.array([config.labs[n].funding_to_date_billions for n in labs.names])
    column = weights * investors.capital_cents[:, None]
    total = column.sum(axis=0, keepdims=True)
    share = np.divide(column, total, out=np.zeros_like(column), where=total > 0)
    return np.rint(share * funding * 1e9 * CENTS_PER_USD)

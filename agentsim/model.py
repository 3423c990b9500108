"""AIRaceModel: builds the world from a Config and steps the monthly phases in a fixed order.

The model owns the state (numpy arrays over labs, investors and researchers, read by the agent
views in :mod:`agentsim.agents`) and the order of phases; the arithmetic of each phase lives in
:mod:`agentsim.flywheel`, :mod:`agentsim.market`, :mod:`agentsim.capital`, :mod:`agentsim.talent`
and :mod:`agentsim.policy`. It does no file I/O.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import mesa
import networkx as nx
import numpy as np
import pandas as pd

from agentsim import capital, flywheel, market, policy, talent
from agentsim.agents import Government, Investor, Lab, ReleaseState, Researcher
from agentsim.config import Config
from agentsim.market import CENTS_PER_USD
from agentsim.network import Ties, build_graph, small_world
from agentsim.scenario_io import apply_overrides, config_to_dict, load_config, validate_config

#: Constructor keywords (the app's sliders) and the config paths they set.
LEVERS: dict[str, str] = {
    "trusted_release": "policy.trusted_release.enabled",
    "trusted_fraction": "policy.trusted_release.trusted_fraction",
    "restricted_months": "policy.trusted_release.restricted_months",
    "compliance_delay_weeks": "policy.trusted_release.compliance_delay_weeks",
    "export_controls": "policy.export_controls.enabled",
    "export_price_multiplier": "policy.export_controls.price_multiplier",
    "flywheel_strength": "flywheel.strength",
    "n_researchers": "talent.n_researchers",
}

#: Model-level columns recorded every step (a contract: see docs/ODD.md, section Outputs).
MODEL_COLUMNS = (
    "frontier_capability_us",
    "frontier_capability_non_us",
    "leader_jurisdiction",
    "us_user_share",
    "us_revenue_share",
    "us_capital_share",
    "us_talent_share",
    "us_rd_spend",
    "non_us_rd_spend",
    "us_frontier_releases",
    "non_us_frontier_releases",
)
#: Per-lab columns recorded every step.
LAB_COLUMNS = (
    "capability",
    "cash",
    "capacity",
    "users",
    "revenue",
    "researchers",
    "jurisdiction",
    "internal_capability",
    "public_capability",
)


def _split(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total in proportion to weights (largest remainder)."""
    weights = np.asarray(weights, dtype=float)
    if total == 0 or weights.sum() <= 0:
        return np.zeros(weights.size, dtype=np.int64)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    remainder = total - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:remainder]] += 1
    return counts


class AIRaceModel(mesa.Model):
    """The frontier-AI race: labs, investors, researchers and governments on a network.

    Args:
        config: a :class:`Config`, a path to a scenario YAML, or None for the built-in defaults.
        rng: root seed (non-negative int); every random stream derives from it.
        trusted_release ... n_researchers: policy levers (see :data:`LEVERS`; None keeps the
            config's value). The constructor's keywords are what the app's controls set.
    """

    def __init__(
        self,
        config: Config | str | Path | None = None,
        rng: int = 0,
        *,
        trusted_release: bool | None = None,
        trusted_fraction: float | None = None,
        restricted_months: float | None = None,
        compliance_delay_weeks: float | None = None,
        export_controls: bool | None = None,
        export_price_multiplier: float | None = None,
        flywheel_strength: float | None = None,
        n_researchers: int | None = None,
    ) -> None:
        levers = {name: value for name, value in locals().items() if name in LEVERS}
        if isinstance(rng, str) and rng.strip().isdigit():  # from a text box in the app
            rng = int(rng)
        if isinstance(rng, bool) or not isinstance(rng, int | np.integer) or rng < 0:
            raise ValueError(f"rng: must be a non-negative integer seed (got {rng!r})")
        if config is None or isinstance(config, str | Path):
            config = load_config(config)
        overrides = {LEVERS[k]: v for k, v in levers.items() if v is not None}
        if overrides:
            config = validate_config(apply_overrides(config_to_dict(config), overrides))
        self.config: Config = config
        self.seed = int(rng)
        streams = np.random.SeedSequence(self.seed).spawn(4)
        super().__init__(rng=np.random.default_rng(streams[0]))
        self._population_rng = np.random.default_rng(streams[1])
        self._network_rng = np.random.default_rng(streams[2])
        self._dynamics_rng = np.random.default_rng(streams[3])

        self.codes: list[str] = config.jurisdiction_codes
        self._code_index = {c: i for i, c in enumerate(self.codes)}
        self._build_jurisdictions()
        self._build_labs()
        self._build_researchers()
        self._build_investors()
        self.governments: dict[str, Government] = {c: Government(self, c) for c in self.codes}
        self.labs: list[Lab] = sorted(self.agents_by_type[Lab], key=lambda a: a.index)
        self._graph: nx.Graph | None = None
        self._graph_step = -1

        self._serve_markets(self._market_size(0), released=np.zeros(self.n_labs, bool))
        self.lab_data = self.lab_users.sum(axis=1) / config.flywheel.data_decay_per_month
        self.lab_revenue = market.revenue_cents(
            self.lab_users * 1e6, self.revenue_per_user, self.lab_price_power
        )
        self.lab_revenue_history = np.repeat(self.lab_revenue[:, None].astype(float), 6, axis=1)
        self._init_portfolios()
        self.indicators: dict[str, Any] = {}
        self._measure()
        self.datacollector = mesa.DataCollector(
            model_reporters={name: _indicator(name) for name in MODEL_COLUMNS},
            agenttype_reporters={Lab: {name: name for name in LAB_COLUMNS}},
        )
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ build

    def _build_jurisdictions(self) -> None:
        cfg = self.config
        juris = [cfg.jurisdictions[c] for c in self.codes]
        self.market_users0 = np.array([j.users_millions for j in juris])
        self.market_growth = np.array([j.user_growth_per_year for j in juris])
        self.revenue_per_user = np.array([j.revenue_per_user_usd for j in juris])
        self.inference_per_user = np.array([j.inference_cost_per_user_usd for j in juris])
        self.base_salary = np.array([j.salary_usd_thousands * 1e3 for j in juris])
        self.local_price = np.array([j.compute_price_multiplier for j in juris])
        self.friction_into = np.array([j.immigration_friction for j in juris])
        self.is_us_code = np.array([c == "US" for c in self.codes])

    def _build_labs(self) -> None:
        cfg = self.config
        labs = [cfg.labs[name] for name in cfg.lab_names]
        self.n_labs = len(labs)
        self.lab_names = cfg.lab_names
        self.lab_jurisdiction = np.array([self._code_index[lab.jurisdiction] for lab in labs])
        self.lab_origin = self.lab_jurisdiction.copy()  # market closures follow a lab's origin
        self.access = policy.access_matrix(self.lab_origin, self.codes, cfg.market.closed)
        self.overlap = (self.access.astype(int) @ self.access.T.astype(int)) > 0
        self.lab_open = np.array([lab.open_weights for lab in labs])
        self.lab_active = np.ones(self.n_labs, dtype=bool)
        self.lab_cash = np.array(
            [round(lab.cash_billions * 1e9 * CENTS_PER_USD) for lab in labs], dtype=np.int64
        )
        self.lab_capacity = np.array([lab.capacity_h100e for lab in labs], dtype=float)
        self.lab_software = np.array([lab.software_ooms for lab in labs], dtype=float)
        self.lab_pay_premium = np.array([lab.pay_premium for lab in labs])
        self.lab_internal = self._internal_capability()
        self.lab_deployed = self.lab_internal - np.array([lab.deployed_lag_ooms for lab in labs])
        self.lab_public = self.lab_deployed.copy()
        self._month_deployed, self._month_public = self.lab_deployed, self.lab_public
        self.lab_leaked = np.full(self.n_labs, -np.inf)
        self.lab_release_state = np.full(self.n_labs, ReleaseState.TRAINING, dtype=np.int8)
        self.lab_pending_capability = np.full(self.n_labs, np.nan)
        self.lab_pending_time = np.full(self.n_labs, np.inf)
        self.lab_pending_trusted = np.zeros(self.n_labs, dtype=bool)
        self.lab_trusted_queue: list[deque[tuple[float, float]]] = [deque() for _ in labs]
        self.lab_price_power = np.ones(self.n_labs)
        self.lab_frontier_releases = np.zeros(self.n_labs, dtype=np.int64)
        self.release_log: list[tuple[int, int, float, bool]] = []  # step, lab, capability, frontier
        self.lab_headcount = np.zeros(self.n_labs, dtype=np.int64)
        for flow in ("revenue", "investment", "salaries", "inference", "capex", "relocation"):
            setattr(self, f"lab_{flow}", np.zeros(self.n_labs, dtype=np.int64))
        self.relocations: list[tuple[int, str, str, str]] = []  # step, lab, from, to
        self._set_headquarters(self.lab_jurisdiction)
        for i, name in enumerate(self.lab_names):
            Lab(self, i, name)

    def _set_headquarters(self, jurisdiction: np.ndarray) -> None:
        """Place labs' headquarters and derive what follows: which side they count for, partners."""
        self.lab_jurisdiction = jurisdiction
        self.lab_is_us = self.is_us_code[jurisdiction]
        same_home = jurisdiction[:, None] == jurisdiction[None, :]
        self.partners = same_home & ~np.eye(self.n_labs, dtype=bool)

    def _build_researchers(self) -> None:
        cfg, rng = self.config, self._population_rng
        n = cfg.talent.n_researchers
        shares = np.array([cfg.jurisdictions[c].researcher_share for c in self.codes])
        per_code = _split(n, shares)
        employer = []
        for code_i, count in enumerate(per_code):
            labs = np.flatnonzero(self.lab_jurisdiction == code_i)
            weights = np.array([cfg.labs[self.lab_names[j]].talent_weight for j in labs])
            employer.append(np.repeat(labs, _split(int(count), weights)))
        self.researcher_employer = np.concatenate(employer).astype(np.int64)
        self.researcher_location = self.lab_jurisdiction[self.researcher_employer]
        sigma = cfg.talent.skill_sigma
        self.researcher_skill = np.exp(sigma * rng.standard_normal(n) - 0.5 * sigma * sigma)
        self.researcher_origin = self._draw_origins(rng)
        self.researcher_salary = np.zeros(n)
        self._reprice_salaries()
        self.collaboration: Ties = small_world(
            self._network_rng,
            np.argsort(self.researcher_employer, kind="stable"),
            cfg.talent.collaboration_degree,
            cfg.talent.rewiring,
        )
        self.talent_flows = np.zeros((len(self.codes), len(self.codes)), dtype=np.int64)
        for i in range(n):
            Researcher(self, i)
        self.researchers = self.agents_by_type[Researcher]

    def _draw_origins(self, rng: np.random.Generator) -> np.ndarray:
        """Origins: most researchers come from where they work; US labs draw more from abroad."""
        origin = self.researcher_location.copy()
        shares = np.array([self.config.jurisdictions[c].researcher_share for c in self.codes])
        foreign_share = np.where(self.is_us_code, 0.35, 0.08)[origin]
        foreign = rng.random(origin.size) < foreign_share
        for code_i in range(len(self.codes)):
            pick = foreign & (origin == code_i)
            weights = shares.copy()
            weights[code_i] = 0
            if pick.any() and weights.sum() > 0:
                origin[pick] = rng.choice(
                    len(self.codes), size=int(pick.sum()), p=weights / weights.sum()
                )
        return origin

    def _build_investors(self) -> None:
        cfg, rng = self.config.capital, self._population_rng
        amounts = np.array([cfg.capital_billions.get(c, 0.0) for c in self.codes])
        funded = (amounts > 0).astype(np.int64)  # every funded home gets an investor if it can
        if cfg.n_investors >= funded.sum():
            per_code = funded + _split(cfg.n_investors - int(funded.sum()), amounts)
        else:
            per_code = _split(cfg.n_investors, amounts)
        self.investor_home = np.repeat(np.arange(len(self.codes)), per_code)
        size = rng.pareto(1.5, self.investor_home.size) + 1.0
        capital = np.zeros(self.investor_home.size)
        for code_i in range(len(self.codes)):
            mine = self.investor_home == code_i
            if mine.any():
                capital[mine] = amounts[code_i] * 1e9 * size[mine] / size[mine].sum()
        self.investor_capital = np.rint(capital * CENTS_PER_USD).astype(np.int64)
        jitter = rng.lognormal(0.0, 0.3, size=(2, self.investor_home.size))
        self.investor_home_bias = cfg.home_bias * jitter[0]
        self.investor_risk_aversion = cfg.policy_risk_aversion * jitter[1]
        home_match = self.investor_home[:, None] == self.lab_jurisdiction[None, :]
        random_ties = np.zeros_like(home_match)
        if cfg.initial_ties:
            picks = rng.integers(0, self.n_labs, size=(self.investor_home.size, cfg.initial_ties))
            np.put_along_axis(random_ties, picks, True, axis=1)
        self.investor_known = home_match | random_ties
        self.investor_home_match = home_match.astype(float)
        self.investor_weights = np.zeros((self.investor_home.size, self.n_labs))
        self.investor_holdings = np.zeros((self.investor_home.size, self.n_labs), dtype=np.int64)
        self.investor_commitments = np.zeros(self.investor_home.size, dtype=np.int64)
        for i in range(self.investor_home.size):
            Investor(self, i)

    def _init_portfolios(self) -> None:
        """Opening portfolios: today's targets; funding to date split by those weights."""
        eligible = self._eligible_investments()
        # opening portfolios are the pre-policy allocation: the rule has not yet been observed
        self.investor_weights = self._target_portfolios(eligible, np.zeros(self.n_labs))
        funding = np.array([self.config.labs[n].funding_to_date_billions for n in self.lab_names])
        column = self.investor_weights * self.investor_capital[:, None].astype(float)
        total = column.sum(axis=0, keepdims=True)
        share = np.divide(column, total, out=np.zeros_like(column), where=total > 0)
        self.investor_holdings = np.rint(share * funding * 1e9 * CENTS_PER_USD).astype(np.int64)

    # ------------------------------------------------------------------ step

    def step(self) -> None:
        """One month, phase by phase (the order is part of the model; see docs/ODD.md)."""
        for code in self.codes:
            self.governments[code].review()
        self.lab_investment[:] = 0
        self.lab_relocation[:] = 0
        self._buy_compute()
        self._advance_software()
        released = self._release_models()
        self._serve_markets(self._market_size(self.steps), released)
        self._allocate_capital()
        self._settle_accounts()
        relocation = self.config.relocation
        if relocation.enabled and self.steps % relocation.review_every_months == 0:
            self._consider_relocation()
        if self.config.policy.channels.talent_mobility:
            self._search_jobs()
        self._reprice_salaries()
        self._measure()
        self.datacollector.collect(self)

    def _market_size(self, step: int) -> np.ndarray:
        """Potential users per market this month (millions)."""
        return self.market_users0 * (1.0 + self.market_growth) ** (step / 12.0)

    def _internal_capability(self) -> np.ndarray:
        c = self.config.compute
        return flywheel.internal_capability(
            self.lab_capacity * c.flops_per_h100e,
            self.lab_software,
            c.run_length_months,
            c.utilization,
        )

    def _export_multiplier(self) -> np.ndarray:
        """Export-control price multiplier each lab pays now (1 where no control binds)."""
        ec = self.config.policy.export_controls
        issuer = self.governments["US"] if "US" in self.governments else None
        if issuer is None or not issuer.issues_export_controls or self.steps < ec.start_month:
            return np.ones(self.n_labs)
        targeted = np.isin(self.lab_jurisdiction, [self._code_index[c] for c in ec.targets])
        return np.where(targeted, issuer.export_price_multiplier, 1.0)

    def _capacity_cap(self) -> np.ndarray:
        ec = self.config.policy.export_controls
        cap = np.full(self.n_labs, np.inf)
        if ec.enabled and ec.capacity_cap_h100e is not None and self.steps >= ec.start_month:
            targeted = np.isin(self.lab_jurisdiction, [self._code_index[c] for c in ec.targets])
            cap[targeted] = ec.capacity_cap_h100e
        return cap

    def _buy_compute(self) -> None:
        """Capex: buy capacity at this month's (export-controlled) price; capacity depreciates."""
        c = self.config.compute
        price = policy.compute_price(
            self.steps - 1,
            c.price_per_h100e_usd,
            c.price_decline_per_year,
            self.local_price[self.lab_jurisdiction],
            self._export_multiplier(),
        )
        bought, cost = policy.capex_plan(
            self.lab_capacity,
            price,
            self.lab_cash,
            c.target_growth_per_year,
            c.depreciation_per_year,
            c.max_capex_share,
            self._capacity_cap(),
        )
        bought = np.where(self.lab_active, bought, 0.0)
        cost = np.where(self.lab_active, cost, 0)
        self.lab_capex = cost
        self.lab_cash = self.lab_cash - cost
        self.lab_capacity = policy.depreciate(self.lab_capacity, c.depreciation_per_year) + bought

    def _advance_software(self) -> None:
        """Software progress with the data flywheel, then spillovers from open and leaked models."""
        cfg = self.config
        r, f = cfg.research, cfg.flywheel
        human_capital = self._human_capital()
        strength = f.strength if cfg.policy.channels.flywheel else 0.0
        productivity = (1.0 - r.productivity_decline_per_year) ** ((self.steps - 1) / 12.0)
        gain = flywheel.software_progress(
            human_capital,
            self.lab_data,
            r.base_rate_ooms_per_month,
            r.reference_human_capital,
            r.talent_elasticity,
            f.reference_users_millions / f.data_decay_per_month,
            strength,
            f.data_ceiling,
            productivity,
            flywheel.shocks(self._dynamics_rng, self.n_labs, r.noise),
        )
        gain = gain + flywheel.breakthroughs(
            self._dynamics_rng, self.n_labs, r.breakthrough_probability, r.breakthrough_size_ooms
        )
        internal = self._internal_capability()
        open_models = np.where(self.lab_open & self.lab_active, self.lab_public, -np.inf)
        best_open = float(max(open_models.max(initial=-np.inf), self.lab_leaked.max()))
        partner_best = np.where(self.partners, self.lab_public[None, :], -np.inf).max(axis=1)
        spill = flywheel.spillover(
            internal, best_open, partner_best, r.open_spillover_rate, r.partner_spillover_rate
        )
        self.lab_software = self.lab_software + np.where(self.lab_active, gain + spill, 0.0)
        self.lab_internal = self._internal_capability()

    def _trusted_release_binds(self) -> np.ndarray:
        tr = self.config.policy.trusted_release
        binds = np.zeros(self.n_labs, dtype=bool)
        if self.steps < tr.start_month:
            return binds
        for code, gov in self.governments.items():
            if gov.trusted_release_in_force:
                binds |= self.lab_jurisdiction == self._code_index[code]
        return binds

    def _release_models(self) -> np.ndarray:
        """Start compliance for finished models, release those due, open trusted-only models.

        Returns the labs whose model reached the public this month. Sets ``_served`` (share of
        the month each new model served) for the market phase.
        """
        cfg = self.config
        tr, now = cfg.policy.trusted_release, self.steps - 1
        binds = self._trusted_release_binds() & (self.lab_internal >= tr.capability_threshold)
        ready = (
            self.lab_active
            & np.isnan(self.lab_pending_capability)
            & (self.lab_internal - self.lab_deployed >= cfg.research.generation_gap_ooms)
        )
        delay = np.where(binds, policy.weeks_to_months(tr.compliance_delay_weeks), 0.0)
        self.lab_pending_capability = np.where(
            ready, self.lab_internal, self.lab_pending_capability
        )
        self.lab_pending_time = np.where(
            ready, policy.release_timing(now, delay), self.lab_pending_time
        )
        self.lab_pending_trusted = np.where(ready, binds, self.lab_pending_trusted)

        previous_deployed, previous_public = self.lab_deployed.copy(), self.lab_public.copy()
        served_deployed = np.ones(self.n_labs)
        served_public = np.ones(self.n_labs)
        frontier = float(previous_deployed[self.lab_active].max(initial=-np.inf))
        due = policy.is_due(self.lab_pending_time, now)
        for i in np.flatnonzero(due):
            k, when = float(self.lab_pending_capability[i]), float(self.lab_pending_time[i])
            self.lab_deployed[i] = k
            served_deployed[i] = market.served_fraction(when, now)
            is_frontier = k > frontier
            self.lab_frontier_releases[i] += is_frontier
            self.release_log.append((self.steps, int(i), k, bool(is_frontier)))
            if self.lab_pending_trusted[i] and tr.restricted_months > 0:
                self.lab_trusted_queue[i].append((when + tr.restricted_months, k))
            else:
                self.lab_public[i] = k
                served_public[i] = served_deployed[i]
        self.lab_pending_capability[due] = np.nan
        self.lab_pending_time[due] = np.inf
        for i, queue in enumerate(self.lab_trusted_queue):
            while queue and queue[0][0] < now + 1.0:
                when, k = queue.popleft()
                self.lab_public[i] = k
                served_public[i] = market.served_fraction(when, now)
        self._leak_restricted_models()
        self.lab_release_state = np.where(
            ~np.isnan(self.lab_pending_capability),
            ReleaseState.COMPLIANCE,
            np.where(
                self.lab_deployed > self.lab_public,
                ReleaseState.TRUSTED_ONLY,
                ReleaseState.TRAINING,
            ),
        ).astype(np.int8)
        self._month_deployed = previous_deployed + served_deployed * (
            self.lab_deployed - previous_deployed
        )
        self._month_public = previous_public + served_public * (self.lab_public - previous_public)
        return self.lab_public > previous_public

    def _leak_restricted_models(self) -> None:
        """Closed weights (including models in their trusted-only phase) leak now and then."""
        closed = self.lab_active & ~self.lab_open
        leaks = closed & (
            self._dynamics_rng.random(self.n_labs) < self.config.research.leak_probability
        )
        self.lab_leaked = np.where(
            leaks, np.maximum(self.lab_leaked, self.lab_deployed), self.lab_leaked
        )

    def release_restricted_models(self, code: str) -> None:
        """Make every trusted-only model of labs in ``code`` public and ship pending ones now."""
        mine = self.lab_jurisdiction == self._code_index[code]
        for i in np.flatnonzero(mine):
            self.lab_trusted_queue[i].clear()
        self.lab_public = np.where(mine, self.lab_deployed, self.lab_public)
        self.lab_pending_time = np.where(
            mine & ~np.isnan(self.lab_pending_capability),
            np.minimum(self.lab_pending_time, self.steps - 1),
            self.lab_pending_time,
        )
        self.lab_pending_trusted[mine] = False

    def _serve_markets(self, market_users: np.ndarray, released: np.ndarray) -> None:
        """Users choose among models they may access; feedback data accrues; price power erodes."""
        cfg = self.config
        tau = cfg.policy.trusted_release.trusted_fraction
        deployed, public = self._month_deployed, self._month_public
        access = self.access & self.lab_active[:, None]
        self.lab_users = market.segmented_users(
            deployed,
            public,
            access,
            market_users,
            tau,
            cfg.market.capability_sensitivity,
            cfg.market.outside_option_capability,
        )
        self.market_users = market_users
        if self.steps > 0:
            f = cfg.flywheel
            self.lab_data = flywheel.update_data_stock(
                self.lab_data, self.lab_users.sum(axis=1), f.data_decay_per_month, f.data_pooling
            )
        self.lab_price_power = market.erode_price_power(
            self.lab_price_power,
            released,
            self.lab_public,
            self.overlap,
            cfg.market.price_erosion,
            cfg.market.price_floor,
        )

    def _eligible_investments(self) -> np.ndarray:
        banned = (
            self.config.policy.outbound_investment.banned
            if self.config.policy.outbound_investment.enabled
            else []
        )
        allowed = policy.allowed_investments(
            self.investor_home, self.lab_jurisdiction, self.codes, banned
        )
        return self.investor_known & allowed & self.lab_active[None, :]

    def _target_portfolios(
        self, eligible: np.ndarray, restricted: np.ndarray | None = None
    ) -> np.ndarray:
        c = self.config.capital
        history = self.lab_revenue_history
        recent, before = history[:, -3:].sum(axis=1), history[:, :3].sum(axis=1)
        growth = np.log((recent + 1.0) / (before + 1.0))
        world = self.market_users.sum()
        reach = (self.access * self.market_users[None, :]).sum(axis=1) / world
        if restricted is None:
            restricted = self._trusted_release_binds().astype(float)
        rank = capital.capability_rank(self.lab_deployed, self.lab_active)
        score = capital.expected_return(
            growth, rank, reach, c.revenue_growth_weight, c.capability_weight, c.reach_weight
        )
        return capital.target_portfolio(
            score,
            self.investor_home_match,
            self.investor_home_bias,
            restricted,
            self.investor_risk_aversion,
            eligible,
            c.return_sensitivity,
        )

    def _allocate_capital(self) -> None:
        """Investors learn of labs, re-weight portfolios and put this month's flow into labs."""
        c = self.config.capital
        rng = self._dynamics_rng
        discovering = np.flatnonzero(rng.random(self.investor_home.size) < c.discovery_rate)
        if discovering.size:
            known = self.investor_known[discovering]
            via = np.argmax(rng.random(known.shape) * known, axis=1)
            partner_rows = self.partners[via]
            learned = np.argmax(rng.random(partner_rows.shape) * partner_rows, axis=1)
            has_partner = partner_rows.any(axis=1)
            self.investor_known[discovering[has_partner], learned[has_partner]] = True
        eligible = self._eligible_investments()
        if c.adjustment_speed > 0 and self.config.policy.channels.capital_mobility:
            target = self._target_portfolios(eligible)
            self.investor_weights = capital.adjust_portfolio(
                self.investor_weights, target, c.adjustment_speed, eligible
            )
        else:
            self.investor_weights = capital.adjust_portfolio(
                self.investor_weights, self.investor_weights, 0.0, eligible
            )
        flows = capital.investment_flows(
            self.investor_capital, self.investor_weights, c.deploy_rate_per_month
        )
        self.investor_commitments = capital.commitments_cents(
            self.investor_capital, c.deploy_rate_per_month, c.commitments_growth_per_year
        )
        self.investor_capital = (
            self.investor_capital - flows.sum(axis=1) + self.investor_commitments
        )
        self.investor_holdings = self.investor_holdings + flows
        self.lab_investment = flows.sum(axis=0)

    def _settle_accounts(self) -> None:
        """Revenue and investment in; inference and salaries out; layoffs and exit when short."""
        users_people = self.lab_users * 1e6
        self.lab_revenue = np.where(
            self.lab_active,
            market.revenue_cents(users_people, self.revenue_per_user, self.lab_price_power),
            0,
        )
        inference = np.where(
            self.lab_active, market.inference_cost_cents(users_people, self.inference_per_user), 0
        )
        self.lab_cash = self.lab_cash + self.lab_revenue + self.lab_investment
        self.lab_inference = np.minimum(inference, self.lab_cash)
        self.lab_cash = self.lab_cash - self.lab_inference
        monthly_pay = self._monthly_pay_cents()
        self.lab_salaries = self._wage_bill(monthly_pay)
        short = np.flatnonzero(
            (self.lab_salaries > self.lab_cash) | (self.lab_inference < inference)
        )
        for i in short:
            self._lay_off(int(i), int(self.lab_cash[i]), monthly_pay)
            if self.lab_inference[i] < inference[i] or self.lab_headcount[i] == 0:
                self._exit_lab(int(i))
        if short.size:  # staff changed: pay the staff that is left
            self.lab_salaries = self._wage_bill(monthly_pay)
        self.lab_cash = self.lab_cash - self.lab_salaries
        self.lab_revenue_history = np.roll(self.lab_revenue_history, -1, axis=1)
        self.lab_revenue_history[:, -1] = self.lab_revenue

    def _wage_bill(self, monthly_pay: np.ndarray) -> np.ndarray:
        """Monthly pay of each lab's staff (integer cents)."""
        employed = self._employed()
        return np.bincount(
            self.researcher_employer[employed], weights=monthly_pay[employed], minlength=self.n_labs
        ).astype(np.int64)

    def _dismiss(self, lab: int, researchers: np.ndarray) -> None:
        """Researchers leave ``lab`` for unemployment (pay stops)."""
        self.researcher_employer[researchers] = talent.UNEMPLOYED
        self.researcher_salary[researchers] = 0.0
        self.lab_headcount[lab] = int((self.researcher_employer == lab).sum())

    def _lay_off(self, lab: int, budget_cents: int, monthly_pay: np.ndarray) -> None:
        """Keep the best-skilled staff whose pay fits the budget; the rest become unemployed."""
        staff = np.flatnonzero(self.researcher_employer == lab)
        staff = staff[np.argsort(-self.researcher_skill[staff], kind="stable")]
        keep = np.cumsum(monthly_pay[staff]) <= budget_cents
        self._dismiss(lab, staff[~keep])

    def _exit_lab(self, lab: int) -> None:
        """A lab out of cash leaves the market: staff laid off, no users, no new releases."""
        self.lab_active[lab] = False
        self._dismiss(lab, np.flatnonzero(self.researcher_employer == lab))
        self.lab_pending_capability[lab] = np.nan
        self.lab_pending_time[lab] = np.inf

    def _consider_relocation(self) -> None:
        """Labs move headquarters when the expected profit gain abroad beats the moving cost.

        A lab compares, for each other jurisdiction, its monthly revenue there (under that
        jurisdiction's trusted-release rule) less the export-control premium on its compute
        spending, over the configured horizon, with the moving cost: the base cost times one
        plus the destination's immigration friction (its staff move with it). Market closures
        follow a lab's origin, so moving buys escape from rules, not new markets.
        """
        cfg = self.config
        binds_here = self._trusted_release_binds()
        bound_codes = {c for c, g in self.governments.items() if g.trusted_release_in_force}
        multiplier = self._export_multiplier()
        ec = cfg.policy.export_controls
        us = self.governments.get("US")
        targeted = (
            {c for c in ec.targets} if us is not None and us.issues_export_controls else set()
        )
        base_cost = cfg.relocation.cost_billions * 1e9 * CENTS_PER_USD
        for i in np.flatnonzero(self.lab_active):
            here = int(self.lab_jurisdiction[i])
            staying = self._revenue_if(bool(binds_here[i]), i)
            best_gain, best_code, best_cost = 0.0, here, 0
            for code_j, code in enumerate(self.codes):
                cost = round(base_cost * (1.0 + self.friction_into[code_j]))
                if code_j == here or cost > self.lab_cash[i]:
                    continue
                mult_there = us.export_price_multiplier if code in targeted else 1.0
                premium = self.lab_capex[i] * (mult_there / multiplier[i] - 1.0)
                revenue = self._revenue_if(code in bound_codes, i)
                gain = (revenue - staying - premium) * cfg.relocation.horizon_months - cost
                if gain > best_gain:
                    best_gain, best_code, best_cost = gain, code_j, cost
            if best_code != here:
                self._relocate(int(i), best_code, best_cost)

    def _revenue_if(self, bound: bool, lab: int) -> float:
        """Monthly revenue (cents) the lab would earn now with or without trusted release."""
        cfg = self.config
        access = self.access & self.lab_active[:, None]
        public = self.lab_public.copy()
        if not bound:
            public[lab] = self.lab_deployed[lab]
        users = market.segmented_users(
            self.lab_deployed,
            public,
            access,
            self.market_users,
            cfg.policy.trusted_release.trusted_fraction,
            cfg.market.capability_sensitivity,
            cfg.market.outside_option_capability,
        )
        return float(
            self.lab_price_power[lab] * (users[lab] * 1e6) @ self.revenue_per_user * CENTS_PER_USD
        )

    def _relocate(self, lab: int, code: int, cost: int) -> None:
        staff = self.researcher_employer == lab
        np.add.at(self.talent_flows, (self.researcher_location[staff], code), 1)
        self.researcher_location[staff] = code
        self.relocations.append(
            (
                self.steps,
                self.lab_names[lab],
                self.codes[self.lab_jurisdiction[lab]],
                self.codes[code],
            )
        )
        jurisdiction = self.lab_jurisdiction.copy()
        jurisdiction[lab] = code
        self._set_headquarters(jurisdiction)
        self.lab_cash[lab] -= cost
        self.lab_relocation[lab] += cost
        if not self._trusted_release_binds()[lab]:
            self.lab_trusted_queue[lab].clear()
            self.lab_public[lab] = self.lab_deployed[lab]
            self.lab_pending_trusted[lab] = False

    def _search_jobs(self) -> None:
        """Researchers look for jobs through collaborators and at random; some move."""
        t = self.config.talent
        headcount = np.maximum(self.lab_headcount, 1)
        compute_per_head = self.lab_capacity / headcount
        reference = (
            max(float(np.median(compute_per_head[self.lab_active])), 1e-9)
            if self.lab_active.any()
            else 1.0
        )
        offers = talent.LabOffers(
            pay_scale_usd=self._pay_scale(),
            log_compute_per_researcher=np.log(np.maximum(compute_per_head, 1e-9) / reference),
            capability_gap=self.lab_internal - self.lab_internal[self.lab_active].max(initial=0.0),
            jurisdiction=self.lab_jurisdiction,
            open_for_hiring=self.lab_active,
        )
        prefs = talent.Preferences(
            t.pay_weight,
            t.compute_weight,
            t.frontier_weight,
            t.home_preference,
            t.switching_cost,
            t.pay_elasticity,
        )
        budget = t.hiring_budget_share * np.maximum(self.lab_cash, 0) / CENTS_PER_USD
        movers, target = talent.search_jobs(
            self._dynamics_rng,
            self.researcher_skill,
            self.researcher_origin,
            self.researcher_location,
            self.researcher_employer,
            self.collaboration.indptr,
            self.collaboration.neighbours,
            offers,
            prefs,
            self.friction_into,
            t.search_rate,
            t.random_offers,
            budget,
        )
        new_location = self.lab_jurisdiction[target]
        np.add.at(self.talent_flows, (self.researcher_location[movers], new_location), 1)
        self.researcher_employer[movers] = target
        self.researcher_location[movers] = new_location

    def _pay_scale(self) -> np.ndarray:
        """Annual pay of a skill-1 researcher at each lab: home norm x premium x finances."""
        headcount = np.maximum(self.lab_headcount, 1)
        cash_per_head = np.maximum(self.lab_cash, 0) / headcount
        median = np.median(cash_per_head[self.lab_active]) if self.lab_active.any() else 1.0
        finances = np.clip((cash_per_head / max(median, 1.0)) ** 0.2, 0.67, 1.5)
        return self.base_salary[self.lab_jurisdiction] * self.lab_pay_premium * finances

    def _reprice_salaries(self) -> None:
        """Pay every employed researcher their lab's current offer; refresh headcounts."""
        employed = self._employed()
        self.lab_headcount = np.bincount(
            self.researcher_employer[employed], minlength=self.n_labs
        ).astype(np.int64)
        scale = self._pay_scale()[self.researcher_employer[employed]]
        self.researcher_salary = np.zeros(self.researcher_skill.size)
        self.researcher_salary[employed] = talent.pay(
            scale, self.researcher_skill[employed], self.config.talent.pay_elasticity
        )

    def _monthly_pay_cents(self) -> np.ndarray:
        return np.rint(self.researcher_salary / 12.0 * CENTS_PER_USD)

    def _employed(self) -> np.ndarray:
        return self.researcher_employer >= 0

    def _human_capital(self) -> np.ndarray:
        employed = self._employed()
        return np.bincount(
            self.researcher_employer[employed],
            weights=self.researcher_skill[employed],
            minlength=self.n_labs,
        )

    # ------------------------------------------------------------------ measure

    @property
    def us_lead(self) -> float:
        """US frontier capability minus the rest's (OOM; negative when the US trails)."""
        return (
            self.indicators["frontier_capability_us"]
            - self.indicators["frontier_capability_non_us"]
        )

    def _measure(self) -> None:
        """Compute this month's model-level indicators (the MODEL_COLUMNS)."""
        us, active = self.lab_is_us, self.lab_active
        deployed = np.where(active, self.lab_deployed, -np.inf)
        users = self.lab_users.sum(axis=1)
        employed = self._employed()
        skill_at = np.bincount(
            self.researcher_employer[employed],
            weights=self.researcher_skill[employed],
            minlength=self.n_labs,
        )
        holdings = self.investor_holdings.sum(axis=0)
        rd = (self.lab_salaries + self.lab_capex) / CENTS_PER_USD
        leader = int(np.argmax(deployed))
        self.indicators = {
            "frontier_capability_us": _best(deployed[us]),
            "frontier_capability_non_us": _best(deployed[~us]),
            "leader_jurisdiction": self.codes[self.lab_jurisdiction[leader]],
            "us_user_share": _share(users, us),
            "us_revenue_share": _share(self.lab_revenue.astype(float), us),
            "us_capital_share": _share(holdings.astype(float), us),
            "us_talent_share": _share(skill_at, us),
            "us_rd_spend": float(rd[us].sum()),
            "non_us_rd_spend": float(rd[~us].sum()),
            "us_frontier_releases": int(self.lab_frontier_releases[us].sum()),
            "non_us_frontier_releases": int(self.lab_frontier_releases[~us].sum()),
        }

    @property
    def network(self) -> nx.Graph:
        """networkx graph of every agent and tie, rebuilt from the model's arrays when stale."""
        if self._graph is None or self._graph_step != self.steps:
            self._graph = build_graph(
                [lab.unique_id for lab in self.labs],
                [a.unique_id for a in sorted(self.agents_by_type[Investor], key=_index)],
                [a.unique_id for a in sorted(self.researchers, key=_index)],
                self.researcher_employer,
                self.collaboration,
                self.investor_holdings / CENTS_PER_USD,
                self.partners,
            )
            self._graph_step = self.steps
        return self._graph

    def network_snapshot(self) -> pd.DataFrame:
        """Aggregated ties now: source, target, kind, weight (one row per aggregated edge).

        Researchers are pooled by origin (``researchers:CODE`` -> lab, weight = headcount),
        investors by home (``investors:CODE`` -> lab, weight = holdings in USD); lab-lab
        partnerships have weight 1. Readable at 5,000 or 100,000 researchers alike.
        """
        rows = []
        employed = self.researcher_employer >= 0
        staff = np.zeros((len(self.codes), self.n_labs), dtype=np.int64)
        np.add.at(staff, (self.researcher_origin[employed], self.researcher_employer[employed]), 1)
        holdings = np.zeros((len(self.codes), self.n_labs))
        np.add.at(holdings, self.investor_home, self.investor_holdings / CENTS_PER_USD)
        for c, code in enumerate(self.codes):
            for j, lab in enumerate(self.lab_names):
                if staff[c, j]:
                    rows.append((f"researchers:{code}", lab, "employment", float(staff[c, j])))
                if holdings[c, j] > 0:
                    rows.append((f"investors:{code}", lab, "investment", float(holdings[c, j])))
        for a, b in zip(*np.nonzero(np.triu(self.partners, 1)), strict=True):
            rows.append((self.lab_names[a], self.lab_names[b], "partnership", 1.0))
        return pd.DataFrame(rows, columns=["source", "target", "kind", "weight"])

    def audit(self, before: dict[str, np.ndarray] | None = None) -> list[str]:
        """Accounting and conservation checks; returns the violations (empty when all hold).

        With ``before`` (a :meth:`snapshot` taken before the step) also checks that each lab's
        cash and each investor's capital changed by exactly their recorded flows.
        """
        problems: list[str] = []
        for name in (
            "lab_cash",
            "lab_capacity",
            "lab_data",
            "lab_users",
            "investor_capital",
            "investor_holdings",
            "lab_revenue",
            "lab_capex",
            "lab_relocation",
            "lab_salaries",
            "lab_inference",
            "lab_investment",
        ):
            value = getattr(self, name)
            if np.any(value < 0):
                problems.append(f"{name} has negative entries")
        if self.researcher_employer.size != self.config.talent.n_researchers:
            problems.append("researchers are not conserved")
        if int(self.lab_headcount.sum()) != int(self._employed().sum()):
            problems.append("lab headcounts do not add up to employed researchers")
        if before is not None:
            inflow = self.lab_revenue + self.lab_investment
            outflow = self.lab_salaries + self.lab_inference + self.lab_capex + self.lab_relocation
            if np.any(self.lab_cash - before["lab_cash"] != inflow - outflow):
                problems.append("lab cash changed by other than revenue + investment - costs")
            invested = self.investor_holdings.sum(axis=1) - before["investor_holdings"].sum(axis=1)
            expected = before["investor_capital"] + self.investor_commitments - invested
            if np.any(self.investor_capital != expected):
                problems.append("investor capital changed by other than commitments - investment")
            if int(invested.sum()) != int(self.lab_investment.sum()):
                problems.append("money invested differs from money received by labs")
        return problems

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the stocks :meth:`audit` compares across a step."""
        return {
            name: getattr(self, name).copy()
            for name in ("lab_cash", "investor_capital", "investor_holdings")
        }


def _best(capability: np.ndarray) -> float:
    """Best capability among labs (NaN when there is no active lab on that side)."""
    best = capability.max(initial=-np.inf)
    return float(best) if np.isfinite(best) else float("nan")


def _share(values: np.ndarray, mask: np.ndarray) -> float:
    total = float(values.sum())
    return min(float(values[mask].sum()) / total, 1.0) if total > 0 else 0.0


def _index(agent: Any) -> int:
    return agent.index


def _indicator(name: str):
    def report(model: AIRaceModel) -> Any:
        return model.indicators[name]

    report.__name__ = name
    return report

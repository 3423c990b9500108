"""AIRaceModel: a month clock and the list of monthly phases, in the order of docs/ODD.md.

The model builds its world from a :class:`~agentsim.config.Config` (:mod:`agentsim.world`),
holds the state (:mod:`agentsim.state`) and steps the phases; the arithmetic of each phase
lives in a rule module (:mod:`agentsim.compute`, :mod:`agentsim.flywheel`,
:mod:`agentsim.releases`, :mod:`agentsim.market`, :mod:`agentsim.capital`,
:mod:`agentsim.talent`, :mod:`agentsim.policy`) and what is recorded in
:mod:`agentsim.observe`. It does no file I/O.

The clock: Mesa counts a step before calling :meth:`AIRaceModel.step`, so during step ``k``
(``model.steps == k``, 1-based) the model simulates month ``model.month == k - 1``, the month
[k - 1, k) counted from ``simulation.start``; its results are the record of step ``k``.
Record 0 is the world before the first month.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mesa
import networkx as nx
import numpy as np
import pandas as pd

from agentsim import capital, compute, flywheel, market, observe, policy, releases, streams, talent
from agentsim.agents import Government, Investor, Lab, RelocationOutlook, Researcher
from agentsim.config import LEVERS, Config, quote
from agentsim.events import EXIT, RELEASE, RELOCATION, REPEAL, Event
from agentsim.market import CENTS_PER_USD
from agentsim.network import build_graph
from agentsim.scenario_io import apply_overrides, config_to_dict, load_config, validate_config
from agentsim.world import (
    build_investors,
    build_jurisdictions,
    build_labs,
    build_researchers,
    draw_entrants,
    open_markets,
    opening_holdings,
)

#: spawn key of the researchers' entry-and-exit stream: a child of the dynamics key
DEMOGRAPHY_KEY = (streams.DYNAMICS, 1)


class AIRaceModel(mesa.Model):
    """The frontier-AI race: labs, investors, researchers and governments on a network.

    Args:
        config: a :class:`Config`, a path to a scenario YAML, or None for the calibrated
            baseline scenario shipped with the package.
        rng: root seed (non-negative int); every random stream derives from it.
        **levers: policy levers by their keyword in :data:`agentsim.config.LEVERS` (the app's
            controls); each overrides the config's value.

    Raises:
        ConfigError: a lever value the schema rejects, or a bad scenario.
        TypeError: an unknown lever.
        ValueError: a seed that is not a non-negative integer.
    """

    def __init__(self, config: Config | str | Path | None = None, rng: int = 0, **levers: Any):
        if "seed" in levers:
            raise TypeError("seed: the root seed is rng= (Mesa 3.5 convention), e.g. rng=7")
        unknown = sorted(set(levers) - set(LEVERS))
        if unknown:
            raise TypeError(f"{unknown[0]}: unknown lever; known levers: {sorted(LEVERS)}")
        if isinstance(rng, str) and rng.strip().isdigit():  # from a text box in the app
            rng = int(rng)
        if isinstance(rng, bool) or not isinstance(rng, int | np.integer) or rng < 0:
            raise ValueError(f"rng: must be a non-negative integer seed (got {quote(rng)})")
        if not isinstance(config, Config):
            config = load_config(config)
        overrides = {LEVERS[k]: v for k, v in levers.items() if v is not None}
        if overrides:
            config = validate_config(apply_overrides(config_to_dict(config), overrides))
        self.config: Config = config
        self.seed = int(rng)
        rngs = streams.model_streams(self.seed)
        super().__init__(rng=rngs[streams.MESA])
        population_rng, network_rng = rngs[streams.POPULATION], rngs[streams.NETWORK]
        self._dynamics_rng = rngs[streams.DYNAMICS]
        # researchers' entry and exit draw from their own stream (a child of the dynamics
        # key), so switching the mechanism on changes no other draw
        self._demography_rng = np.random.default_rng(
            np.random.SeedSequence(self.seed, spawn_key=DEMOGRAPHY_KEY)
        )

        self.jurisdictions = build_jurisdictions(config)
        self.lab_state = build_labs(config, self.jurisdictions)
        self.researcher_state = build_researchers(
            config,
            self.jurisdictions,
            self.lab_state,
            population_rng,
            network_rng,
            self._demography_rng,
        )
        self.investor_state = build_investors(
            config, self.jurisdictions, self.lab_state, population_rng
        )
        self._lab_tape = streams.LabTape(self.seed, self.lab_state.names)
        codes = self.jurisdictions.codes
        #: (L, J) bool: which labs may serve which markets (closures follow a lab's origin)
        self.access = policy.access_matrix(self.lab_state.origin, codes, config.market.closed)
        #: (L, L) bool: labs that serve a common market
        self.overlap = (self.access.astype(int) @ self.access.T.astype(int)) > 0
        targets = self.jurisdictions.positions(config.policy.export_controls.targets)
        self._targeted_code = np.isin(np.arange(len(codes)), targets)
        #: (J, J) researcher moves so far, from -> to
        self.talent_flows = np.zeros((len(codes), len(codes)), dtype=np.int64)
        #: researchers who entered and left the field this step (totals: researcher_state)
        self.researcher_entrants = 0
        self.researcher_exits = 0
        #: everything that happened, in order (see :mod:`agentsim.events`)
        self.events: list[Event] = []
        #: (J,) frontier releases so far by the jurisdiction they happened in
        self.frontier_release_counts = np.zeros(len(codes), dtype=np.int64)

        self.labs: list[Lab] = [Lab(self, i, name) for i, name in enumerate(self.lab_state.names)]
        self.governments: dict[str, Government] = {c: Government(self, c) for c in codes}
        self._views_created = False
        self._graph: nx.Graph | None = None
        self._graph_step = -1

        self._allowed = self._allowed_investments()
        t = config.talent
        self._preferences = talent.Preferences(
            t.pay_weight,
            t.compute_weight,
            t.frontier_weight,
            t.home_preference,
            t.switching_cost,
            t.pay_elasticity,
            t.reach_weight,
        )
        self.reprice_salaries()
        open_markets(config, self.jurisdictions, self.lab_state, self.access)
        eligible = self._eligible_investments()
        # opening portfolios are the pre-policy allocation: no rule has been observed yet
        self.investor_state.weights = self._target_portfolios(eligible, np.zeros(self.n_labs))
        self.investor_state.holdings_cents = opening_holdings(
            config, self.lab_state, self.investor_state, self.investor_state.weights
        )
        self.indicators: dict[str, Any] = {}
        self.observer = observe.Observer(self)
        self.datacollector = self.observer.collector
        self.observer.record()

    # ------------------------------------------------------------------ clock and views

    @property
    def month(self) -> int:
        """The month being simulated in the current step (0-based: month t is [t, t + 1))."""
        return self.steps - 1

    @property
    def n_labs(self) -> int:
        """Number of labs (active or not)."""
        return self.lab_state.size

    def _create_agent_views(self) -> None:
        """Create the Researcher and Investor agents the first time a caller asks for agents."""
        if self._views_created:
            return
        self._views_created = True
        for i in range(self.investor_state.size):
            Investor(self, i)
        for i in range(self.researcher_state.size):
            Researcher(self, i)

    @property
    def agents(self) -> mesa.agent.AgentSet:
        """Every agent (Mesa's ``model.agents``); researcher and investor views on first use."""
        self._create_agent_views()
        return super().agents

    @property
    def agents_by_type(self) -> dict[type, mesa.agent.AgentSet]:
        """Agents by class (Mesa's ``model.agents_by_type``)."""
        self._create_agent_views()
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        """Agent classes present (Mesa's ``model.agent_types``)."""
        self._create_agent_views()
        return super().agent_types

    @property
    def researchers(self) -> mesa.agent.AgentSet:
        """The Researcher agents."""
        return self.agents_by_type[Researcher]

    @property
    def investors(self) -> mesa.agent.AgentSet:
        """The Investor agents."""
        return self.agents_by_type[Investor]

    # ------------------------------------------------------------------ step

    def step(self) -> None:
        """One month, phase by phase (the order is part of the model; see docs/ODD.md 3)."""
        self.open_books()
        self.review_policies()
        self.buy_compute()
        self.advance_research()
        released = self.release_models()
        self.serve_markets(released)
        self.allocate_capital()
        self.settle_accounts()
        self.relocate_labs()
        self.renew_researchers()
        self.search_jobs()
        self.reprice_salaries()
        self.observer.record()

    def open_books(self) -> None:
        """This month's one-off flows (investment received, relocation costs) start at zero."""
        self.lab_state.investment_cents = np.zeros(self.n_labs)
        self.lab_state.relocation_cents = np.zeros(self.n_labs)

    def review_policies(self) -> None:
        """Phase 1: governments apply their adaptive rules to last month's outcomes."""
        for government in self.governments.values():
            government.review()

    def buy_compute(self) -> None:
        """Phase 2: capex buys capacity at this month's (export-controlled) price; depreciation."""
        c = self.config.compute
        labs = self.lab_state
        price = compute.compute_price(
            self.month,
            c.price_per_h100e_usd,
            c.price_decline_per_year,
            self.jurisdictions.compute_price_multiplier[labs.jurisdiction],
            self.export_multiplier(),
        )
        bought, cost = compute.capex_plan(
            labs.capacity_h100e,
            price,
            labs.cash_cents,
            c.target_growth_per_year,
            c.depreciation_per_year,
            c.max_capex_share,
            self._capacity_cap(),
        )
        bought = np.where(labs.active, bought, 0.0)
        labs.capex_cents = np.where(labs.active, cost, 0.0)
        labs.cash_cents = labs.cash_cents - labs.capex_cents
        labs.capacity_h100e = compute.depreciate(labs.capacity_h100e, c.depreciation_per_year)
        labs.capacity_h100e = labs.capacity_h100e + bought

    def advance_research(self) -> None:
        """Phase 3: software progress with the data flywheel, then spillovers."""
        cfg = self.config
        r, f = cfg.research, cfg.flywheel
        labs = self.lab_state
        draws = self._lab_tape.month(self.month)
        strength = f.strength if cfg.policy.channels.flywheel else 0.0
        productivity = (1.0 - r.productivity_decline_per_year) ** (self.month / 12.0)
        gain = flywheel.software_progress(
            labs.human_capital,
            labs.data_stock,
            r.base_rate_ooms_per_month,
            r.reference_human_capital,
            r.talent_elasticity,
            f.reference_users_millions / f.data_decay_per_month,
            strength,
            f.data_ceiling,
            productivity,
            flywheel.shocks(draws.shock_normal, r.noise),
        )
        gain = gain + flywheel.breakthroughs(
            draws.breakthrough_uniform,
            draws.breakthrough_exponential,
            r.breakthrough_probability,
            r.breakthrough_size_ooms,
        )
        internal = self._internal_capability()
        open_models = np.where(labs.open_weights & labs.active, labs.public_capability, -np.inf)
        best_open = float(max(open_models.max(initial=-np.inf), labs.leaked_capability.max()))
        partner_best = np.where(labs.partners, labs.public_capability[None, :], -np.inf).max(1)
        spill = flywheel.spillover(
            internal, best_open, partner_best, r.open_spillover_rate, r.partner_spillover_rate
        )
        labs.software_ooms = labs.software_ooms + np.where(labs.active, gain + spill, 0.0)
        labs.internal_capability = self._internal_capability()

    def release_models(self) -> np.ndarray:
        """Phase 4: the release pipeline (:func:`agentsim.releases.release_models`).

        Returns the labs whose public model improved this month.
        """
        cfg = self.config
        tr = cfg.policy.trusted_release
        labs = self.lab_state
        binds = self.trusted_release_binds() & (labs.internal_capability >= tr.capability_threshold)
        released, new = releases.release_models(
            labs,
            binds,
            self.month,
            self.steps,
            cfg.research.generation_gap_ooms,
            tr.compliance_delay_weeks,
            tr.restricted_months,
            self._lab_tape.month(self.month).leak_uniform,
            cfg.research.leak_probability,
        )
        for release in new:
            if release.frontier:
                self.frontier_release_counts[release.jurisdiction] += 1
            self.record_event(
                RELEASE,
                release.lab,
                release.jurisdiction,
                capability=release.capability,
                frontier=release.frontier,
            )
        return released

    def serve_markets(self, released: np.ndarray) -> None:
        """Phase 5: users choose among models they may access; data accrues; price power erodes."""
        cfg = self.config
        labs = self.lab_state
        self.jurisdictions.users_millions = self.jurisdictions.users_at(self.steps)
        labs.users_millions = market.segmented_users(
            labs.served_deployed,
            labs.served_public,
            self.access & labs.active[:, None],
            self.jurisdictions.users_millions,
            cfg.policy.trusted_release.trusted_fraction,
            cfg.market.capability_sensitivity,
            cfg.market.outside_option_capability,
        )
        f = cfg.flywheel
        labs.data_stock = flywheel.update_data_stock(
            labs.data_stock, labs.users_millions.sum(axis=1), f.data_decay_per_month, f.data_pooling
        )
        labs.price_power = market.erode_price_power(
            labs.price_power,
            released,
            labs.public_capability,
            self.overlap,
            cfg.market.price_erosion,
            cfg.market.price_floor,
        )

    def allocate_capital(self) -> None:
        """Phase 6: investors learn of labs, re-weight portfolios and invest this month's flow."""
        c = self.config.capital
        investors = self.investor_state
        rng = self._dynamics_rng
        discovering = np.flatnonzero(rng.random(investors.size) < c.discovery_rate)
        if discovering.size:
            known = investors.known[discovering]
            via = np.argmax(rng.random(known.shape) * known, axis=1)
            partner_rows = self.lab_state.partners[via]
            learned = np.argmax(rng.random(partner_rows.shape) * partner_rows, axis=1)
            has_partner = partner_rows.any(axis=1)
            investors.known[discovering[has_partner], learned[has_partner]] = True
        eligible = self._eligible_investments()
        if c.adjustment_speed > 0 and self.config.policy.channels.capital_mobility:
            target = self._target_portfolios(eligible)
            speed = c.adjustment_speed
        else:
            target, speed = investors.weights, 0.0
        investors.weights = capital.adjust_portfolio(investors.weights, target, speed, eligible)
        flows = capital.investment_flows(
            investors.capital_cents, investors.weights, c.deploy_rate_per_month
        )
        investors.commitments_cents = capital.commitments_cents(
            investors.capital_cents, c.deploy_rate_per_month, c.commitments_growth_per_year
        )
        investors.capital_cents = (
            investors.capital_cents - flows.sum(axis=1) + investors.commitments_cents
        )
        investors.holdings_cents = investors.holdings_cents + flows
        self.lab_state.investment_cents = flows.sum(axis=0)

    def settle_accounts(self) -> None:
        """Phase 7: revenue and investment in; inference and salaries out; layoffs and exit."""
        labs, juris = self.lab_state, self.jurisdictions
        users_people = labs.users_millions * 1e6
        labs.revenue_cents = np.where(
            labs.active,
            market.revenue_cents(users_people, juris.revenue_per_user_usd, labs.price_power),
            0.0,
        )
        inference = np.where(
            labs.active,
            market.inference_cost_cents(users_people, juris.inference_per_user_usd),
            0.0,
        )
        labs.cash_cents = labs.cash_cents + labs.revenue_cents + labs.investment_cents
        labs.inference_cents = np.minimum(inference, labs.cash_cents)
        labs.cash_cents = labs.cash_cents - labs.inference_cents
        monthly_pay = np.rint(self.researcher_state.salary_usd / 12.0 * CENTS_PER_USD)
        labs.salaries_cents = self._wage_bill(monthly_pay)
        short = np.flatnonzero(
            (labs.salaries_cents > labs.cash_cents) | (labs.inference_cents < inference)
        )
        for i in short:
            self._lay_off(int(i), float(labs.cash_cents[i]), monthly_pay)
            if labs.inference_cents[i] < inference[i] or labs.headcount[i] == 0:
                self._exit_lab(int(i))
        if short.size:  # staff changed: pay the staff that is left
            labs.salaries_cents = self._wage_bill(monthly_pay)
        labs.cash_cents = labs.cash_cents - labs.salaries_cents
        history = labs.revenue_history_cents  # oldest month first: shift left, append
        history[:, :-1] = history[:, 1:]
        history[:, -1] = labs.revenue_cents

    def relocate_labs(self) -> None:
        """Phase 8 (optional): at each review, labs move where the expected gain beats the cost.

        Each active lab in turn applies :meth:`Lab.best_headquarters` to the outlook of the
        month (rules in force, export-control prices), taken once before any lab moves.
        """
        cfg = self.config.relocation
        if not cfg.enabled or self.steps % cfg.review_every_months != 0:
            return
        ec = self.config.policy.export_controls
        issuer = self.governments.get(ec.issuer)
        controls = issuer is not None and issuer.issues_export_controls
        outlook = RelocationOutlook(
            bound_codes=frozenset(
                c for c, g in self.governments.items() if g.trusted_release_in_force
            ),
            bound_now=self.trusted_release_binds(),
            export_multiplier=self.export_multiplier(),
            targeted=frozenset(ec.targets) if controls else frozenset(),
            target_multiplier=issuer.export_price_multiplier if controls else 1.0,
        )
        for i in np.flatnonzero(self.lab_state.active):
            choice = self.labs[i].best_headquarters(outlook)
            if choice is not None:
                self.move_lab(int(i), *choice)

    def renew_researchers(self) -> None:
        """Phase 9a (with ``talent.entry_exit``): some researchers leave the field; new enter.

        Each researcher in the field leaves with probability ``talent.monthly_rate`` of
        ``exit_rate_per_year`` (an employee's job ends with them); then the month's cohort of
        entrants (:func:`talent.entrants_in_month`) takes free slots, unemployed, with skill,
        origin and location drawn by :func:`agentsim.world.draw_entrants`; they look for a job
        in this month's search. Off with the talent-mobility channel (the pool is frozen).
        """
        self.researcher_entrants = self.researcher_exits = 0
        t = self.config.talent
        if not (t.entry_exit and self.config.policy.channels.talent_mobility):
            return
        researchers, rng = self.researcher_state, self._demography_rng
        leaving = talent.exits(rng, researchers.in_field, t.exit_rate_per_year)
        researchers.in_field[leaving] = False
        researchers.employer[leaving] = talent.UNEMPLOYED
        researchers.salary_usd[leaving] = 0.0
        count = talent.entrants_in_month(self.month, t.entry_rate_per_year, researchers.initial)
        slots = researchers.free_slots(count)
        skill, origin, location = draw_entrants(self.config, self.jurisdictions, rng, slots.size)
        researchers.skill[slots] = skill
        researchers.pay_factor[slots] = np.power(skill, t.pay_elasticity)
        researchers.origin[slots] = origin
        researchers.location[slots] = location
        researchers.employer[slots] = talent.UNEMPLOYED
        researchers.salary_usd[slots] = 0.0
        researchers.in_field[slots] = True
        researchers.exits_total += int(leaving.size)
        researchers.entrants_total += int(slots.size)
        self.researcher_exits, self.researcher_entrants = int(leaving.size), int(slots.size)
        if leaving.size:  # staff changed: offers read this month's headcounts
            labs = self.lab_state
            labs.headcount = researchers.per_lab(self.n_labs).astype(np.int64)
            labs.human_capital = researchers.per_lab(self.n_labs, researchers.skill)

    def search_jobs(self) -> None:
        """Phase 9: researchers look for jobs through collaborators and at random; some move.

        Offers (:class:`talent.LabOffers`) read what the field can see of each active lab: pay,
        compute per researcher and users (each relative to the median active lab) and its
        deployed capability's distance from the best deployed model.
        """
        if not self.config.policy.channels.talent_mobility:
            return
        t = self.config.talent
        labs, researchers = self.lab_state, self.researcher_state
        headcount = np.maximum(labs.headcount, 1)
        compute_per_head = labs.capacity_h100e / headcount
        users = labs.users_millions.sum(axis=1)
        if labs.active.any():
            reference = max(talent.median(compute_per_head[labs.active]), 1e-9)
            typical_users = max(talent.median(users[labs.active]), 1e-6)
        else:
            reference, typical_users = 1.0, 1.0
        deployed = labs.deployed_capability
        offers = talent.LabOffers(
            pay_scale_usd=self.pay_scale(),
            log_compute_per_researcher=np.log(np.maximum(compute_per_head, 1e-9) / reference),
            capability_gap=deployed - deployed[labs.active].max(initial=0.0),
            log_reach=np.log(np.maximum(users, 1e-6) / typical_users),
            jurisdiction=labs.jurisdiction,
            open_for_hiring=labs.active,
        )
        budget = t.hiring_budget_share * np.maximum(labs.cash_cents, 0) / CENTS_PER_USD
        movers, target = talent.search_jobs(
            self._dynamics_rng,
            researchers.skill,
            researchers.origin,
            researchers.location,
            researchers.employer,
            researchers.collaboration.indptr,
            researchers.collaboration.neighbours,
            offers,
            self._preferences,
            self.jurisdictions.immigration_friction,
            t.search_rate,
            t.random_offers,
            budget,
            researchers.in_field,
        )
        new_location = labs.jurisdiction[target]
        np.add.at(self.talent_flows, (researchers.location[movers], new_location), 1)
        researchers.employer[movers] = target
        researchers.location[movers] = new_location

    def reprice_salaries(self) -> None:
        """Phase 10: pay every employed researcher their lab's current offer; headcounts and H."""
        labs, researchers = self.lab_state, self.researcher_state
        labs.headcount = researchers.per_lab(self.n_labs).astype(np.int64)
        labs.human_capital = researchers.per_lab(self.n_labs, researchers.skill)
        scale = self.pay_scale()[researchers.employer]  # -1 (unemployed) is masked below
        researchers.salary_usd = np.where(researchers.employed, scale * researchers.pay_factor, 0.0)

    # ------------------------------------------------------------------ shared quantities

    def trusted_release_binds(self) -> np.ndarray:
        """Labs (L,) a trusted-release rule binds this month."""
        tr = self.config.policy.trusted_release
        binds = np.zeros(self.n_labs, dtype=bool)
        if self.month < tr.start_month:
            return binds
        index = self.jurisdictions.index
        for code, government in self.governments.items():
            if government.trusted_release_in_force:
                binds |= self.lab_state.jurisdiction == index[code]
        return binds

    def _targeted(self) -> np.ndarray:
        """Labs (L,) headquartered in a jurisdiction export controls target."""
        return self._targeted_code[self.lab_state.jurisdiction]

    def export_multiplier(self) -> np.ndarray:
        """Export-control price multiplier each lab pays now (L,; 1 where no control binds)."""
        ec = self.config.policy.export_controls
        issuer = self.governments.get(ec.issuer)
        in_force = (
            issuer is not None and issuer.issues_export_controls and self.month >= ec.start_month
        )
        multiplier = issuer.export_price_multiplier if issuer is not None else 1.0
        return compute.export_multiplier(self._targeted(), in_force, multiplier)

    def _capacity_cap(self) -> np.ndarray:
        ec = self.config.policy.export_controls
        in_force = ec.enabled and self.month >= ec.start_month
        return compute.capacity_cap(self._targeted(), in_force, ec.capacity_cap_h100e)

    def _internal_capability(self) -> np.ndarray:
        c = self.config.compute
        return flywheel.internal_capability(
            self.lab_state.capacity_h100e * c.flops_per_h100e,
            self.lab_state.software_ooms,
            c.run_length_months,
            c.utilization,
        )

    def pay_scale(self) -> np.ndarray:
        """Annual pay of a skill-1 researcher at each lab (USD, (L,)); see talent.pay_scale."""
        t, labs = self.config.talent, self.lab_state
        return talent.pay_scale(
            self.jurisdictions.base_salary_usd[labs.jurisdiction],
            labs.pay_premium,
            labs.cash_cents,
            labs.headcount,
            labs.active,
            t.pay_finance_elasticity,
            t.pay_finance_floor,
            t.pay_finance_cap,
        )

    def lead_of(self, code: str) -> float:
        """Best deployed capability of ``code``'s labs minus the rest's (OOM; NaN if undefined)."""
        labs = self.lab_state
        deployed = np.where(labs.active, labs.deployed_capability, -np.inf)
        mine = labs.jurisdiction == self.jurisdictions.index[code]
        ours, theirs = deployed[mine].max(initial=-np.inf), deployed[~mine].max(initial=-np.inf)
        if not (np.isfinite(ours) and np.isfinite(theirs)):
            return float("nan")
        return float(ours - theirs)

    def _allowed_investments(self) -> np.ndarray:
        """(I, L) bool: investments outbound-investment rules allow (recomputed when labs move)."""
        outbound = self.config.policy.outbound_investment
        banned = outbound.banned if outbound.enabled else []
        return policy.allowed_investments(
            self.investor_state.home, self.lab_state.jurisdiction, self.jurisdictions.codes, banned
        )

    def _eligible_investments(self) -> np.ndarray:
        allowed = self._allowed
        return self.investor_state.known & allowed & self.lab_state.active[None, :]

    def _target_portfolios(
        self, eligible: np.ndarray, restricted: np.ndarray | None = None
    ) -> np.ndarray:
        c = self.config.capital
        labs, investors = self.lab_state, self.investor_state
        history = labs.revenue_history_cents
        half = history.shape[1] // 2
        recent, before = history[:, -half:].sum(axis=1), history[:, :half].sum(axis=1)
        growth = np.log((recent + 1.0) / (before + 1.0))
        users = self.jurisdictions.users_millions
        reach = (self.access * users[None, :]).sum(axis=1) / users.sum()
        if restricted is None:
            restricted = self.trusted_release_binds().astype(float)
        rank = capital.capability_rank(labs.deployed_capability, labs.active)
        score = capital.expected_return(
            growth, rank, reach, c.revenue_growth_weight, c.capability_weight, c.reach_weight
        )
        return capital.target_portfolio(
            score,
            investors.home_match,
            investors.home_bias,
            restricted,
            investors.risk_aversion,
            eligible,
            c.return_sensitivity,
        )

    def _wage_bill(self, monthly_pay: np.ndarray) -> np.ndarray:
        """Monthly pay of each lab's staff (whole cents: ``monthly_pay`` is rounded per head)."""
        return self.researcher_state.per_lab(self.n_labs, monthly_pay)

    def _dismiss(self, lab: int, staff: np.ndarray) -> None:
        """Researchers leave ``lab`` for unemployment (pay stops)."""
        researchers = self.researcher_state
        researchers.employer[staff] = talent.UNEMPLOYED
        researchers.salary_usd[staff] = 0.0
        self.lab_state.headcount[lab] = int((researchers.employer == lab).sum())

    def _lay_off(self, lab: int, budget_cents: float, monthly_pay: np.ndarray) -> None:
        """Keep the best-skilled staff whose pay fits the budget; the rest become unemployed."""
        researchers = self.researcher_state
        staff = np.flatnonzero(researchers.employer == lab)
        staff = staff[np.argsort(-researchers.skill[staff], kind="stable")]
        keep = np.cumsum(monthly_pay[staff]) <= budget_cents
        self._dismiss(lab, staff[~keep])

    def _exit_lab(self, lab: int) -> None:
        """A lab out of cash leaves the market: staff laid off, no users, no new releases."""
        labs = self.lab_state
        self.record_event(EXIT, lab, int(labs.jurisdiction[lab]))
        labs.active[lab] = False
        self._dismiss(lab, np.flatnonzero(self.researcher_state.employer == lab))
        labs.pending_capability[lab] = np.nan
        labs.pending_time[lab] = np.inf

    # ------------------------------------------------------------------ events

    def lift_restrictions(self, code: str) -> None:
        """Make every trusted-only model of labs in ``code`` public and ship pending ones now."""
        index = self.jurisdictions.index[code]
        releases.lift_restrictions(self.lab_state, self.lab_state.jurisdiction == index, self.month)
        self.record_event(REPEAL, None, index)

    def record_event(self, kind: str, lab: int | None, jurisdiction: int, **detail: Any) -> None:
        """Append an event of this step, attributed to ``jurisdiction`` (an index)."""
        code = self.jurisdictions.codes[jurisdiction]
        name = None if lab is None else self.lab_state.names[lab]
        self.events.append(Event(self.steps, kind, name, code, code == "US", **detail))

    def move_lab(self, lab: int, code: int, cost_cents: float) -> None:
        """Move a lab's headquarters (and staff) to jurisdiction ``code``, paying the cost."""
        labs, researchers, codes = self.lab_state, self.researcher_state, self.jurisdictions.codes
        staff = researchers.employer == lab
        np.add.at(self.talent_flows, (researchers.location[staff], code), 1)
        researchers.location[staff] = code
        self.record_event(RELOCATION, lab, int(labs.jurisdiction[lab]), destination=codes[code])
        jurisdiction = labs.jurisdiction.copy()
        jurisdiction[lab] = code
        labs.move_headquarters(jurisdiction, self.jurisdictions.is_us)
        self._allowed = self._allowed_investments()
        labs.cash_cents[lab] -= cost_cents
        labs.relocation_cents[lab] += cost_cents
        if not self.trusted_release_binds()[lab]:
            releases.escape_restrictions(labs, lab)

    # ------------------------------------------------------------------ observation

    @property
    def network(self) -> nx.Graph:
        """networkx graph of every agent and tie, rebuilt from the state when stale."""
        if self._graph is None or self._graph_step != self.steps:
            self._create_agent_views()
            by_index = lambda agents: [a.unique_id for a in sorted(agents, key=_index)]  # noqa: E731
            self._graph = build_graph(
                [lab.unique_id for lab in self.labs],
                by_index(self.investors),
                by_index(self.researchers),
                self.researcher_state.employer,
                self.researcher_state.collaboration,
                self.investor_state.holdings_cents / CENTS_PER_USD,
                self.lab_state.partners,
            )
            self._graph_step = self.steps
        return self._graph

    def network_snapshot(self) -> pd.DataFrame:
        """Aggregated ties now (see :func:`agentsim.observe.network_snapshot`)."""
        return observe.network_snapshot(self)

    def audit(self, before: dict[str, dict[str, np.ndarray]] | None = None) -> list[str]:
        """Accounting and conservation violations now (see :func:`agentsim.observe.audit`)."""
        return observe.audit(self, before)

    def snapshot(self) -> dict[str, dict[str, np.ndarray]]:
        """The stocks :meth:`audit` compares across a step."""
        return observe.snapshot(self)


def _index(agent: Any) -> int:
    return agent.index

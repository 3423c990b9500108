"""The agents: Lab, Investor, Researcher and Government.

Labs, investors and researchers are real Mesa agents (they live in ``model.agents`` and work
with AgentSet and the app) whose state is held in the named arrays of :mod:`agentsim.state`,
so that the monthly decisions of thousands of researchers run as array arithmetic. Each agent
is a view: ``lab.cash`` reads ``model.lab_state.cash_cents[lab.index]``. Labs and governments
are created with the model; researcher and investor views are created the first time a caller
asks for agents (``model.agents``, ``model.agents_by_type``, ``model.researchers``,
``model.investors`` or the network), so a batch run that never looks at them does not pay for
thousands of objects. Governments are few and act one by one; a lab decides where to keep its
headquarters (:meth:`Lab.best_headquarters`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np

from agentsim import market
from agentsim.market import CENTS_PER_USD
from agentsim.policy import months_behind_update
from agentsim.releases import ReleaseState

if TYPE_CHECKING:
    from agentsim.model import AIRaceModel


@dataclass(frozen=True)
class RelocationOutlook:
    """What every lab weighs when it reviews its headquarters this month.

    ``bound_codes`` are jurisdictions whose trusted-release rule is in force; ``bound_now``
    (L,) marks labs the rule binds where they are; ``export_multiplier`` (L,) is what each lab
    pays now; ``targeted`` are the jurisdictions export controls target (empty when none are in
    force) and ``target_multiplier`` the price multiplier there.
    """

    bound_codes: frozenset[str]
    bound_now: np.ndarray
    export_multiplier: np.ndarray
    targeted: frozenset[str]
    target_multiplier: float


class StateView(mesa.Agent):
    """A Mesa agent whose state is a row of the model's arrays (Lab, Investor, Researcher).

    Views cannot be removed on their own: the row they read stays in the state. Labs leave the
    market through the model's rules (exit when out of cash), researchers through layoffs.
    """

    def remove(self) -> None:
        """Refused: see the class docstring (raises NotImplementedError)."""
        raise NotImplementedError(
            f"{type(self).__name__} agents are views of the model's state and cannot be removed;"
            " they leave through the model's rules (exit, layoffs)"
        )


class Lab(StateView):
    """A frontier AI lab: compute, software, data, staff, cash and a release pipeline."""

    def __init__(self, model: AIRaceModel, index: int, name: str) -> None:
        super().__init__(model)
        self.index = index
        self.name = name

    @property
    def jurisdiction(self) -> str:
        """Headquarters jurisdiction code."""
        return self.model.jurisdictions.codes[self.model.lab_state.jurisdiction[self.index]]

    @property
    def capability(self) -> float:
        """Deployed capability K_dep (OOM): the best model the lab serves to anyone."""
        return float(self.model.lab_state.deployed_capability[self.index])

    @property
    def public_capability(self) -> float:
        """Capability of the best model the lab serves to the general public (OOM)."""
        return float(self.model.lab_state.public_capability[self.index])

    @property
    def internal_capability(self) -> float:
        """Capability the lab could train now, K_int (OOM)."""
        return float(self.model.lab_state.internal_capability[self.index])

    @property
    def cash(self) -> float:
        """Cash on hand (USD)."""
        return float(self.model.lab_state.cash_cents[self.index]) / CENTS_PER_USD

    @property
    def capacity(self) -> float:
        """Training compute capacity (FLOP/s)."""
        flops = self.model.config.compute.flops_per_h100e
        return float(self.model.lab_state.capacity_h100e[self.index]) * flops

    @property
    def users(self) -> float:
        """Monthly active users across markets (people)."""
        return float(self.model.lab_state.users_millions[self.index].sum()) * 1e6

    @property
    def revenue(self) -> float:
        """Revenue this month (USD)."""
        return float(self.model.lab_state.revenue_cents[self.index]) / CENTS_PER_USD

    @property
    def researchers(self) -> int:
        """Number of researchers employed."""
        return int(self.model.lab_state.headcount[self.index])

    @property
    def release_state(self) -> ReleaseState:
        """Stage of the lab's release pipeline."""
        return ReleaseState(int(self.model.lab_state.release_state[self.index]))

    @property
    def open_weights(self) -> bool:
        """Whether the lab releases weights openly."""
        return bool(self.model.lab_state.open_weights[self.index])

    @property
    def active(self) -> bool:
        """False once the lab has run out of cash and exited."""
        return bool(self.model.lab_state.active[self.index])

    def best_headquarters(self, outlook: RelocationOutlook) -> tuple[int, float] | None:
        """Where to move, if anywhere: (jurisdiction index, cost in whole cents) or None to stay.

        The lab compares, for each other jurisdiction it can afford, its monthly revenue there
        (under that jurisdiction's trusted-release rule) less the export-control premium on its
        compute spending, over the configured horizon, with the cost of moving: the base cost
        times one plus the destination's immigration friction (its staff move with it). Market
        closures follow a lab's origin, so moving buys escape from rules, not new markets.

        Equation: gain_j = H (Rev_j - Rev_here - capex (m_X,j / m_X,here - 1)) - cost_j; move
        to the best j when gain_j > 0.
        """
        model, i = self.model, self.index
        labs, codes = model.lab_state, model.jurisdictions.codes
        cfg = model.config.relocation
        here = int(labs.jurisdiction[i])
        staying = self.revenue_if(bool(outlook.bound_now[i]))
        base_cost = cfg.cost_billions * 1e9 * CENTS_PER_USD
        best_gain, best_code, best_cost = 0.0, here, 0.0
        for code_j, code in enumerate(codes):
            friction = model.jurisdictions.immigration_friction[code_j]
            cost = float(round(base_cost * (1.0 + friction)))  # whole cents
            if code_j == here or cost > labs.cash_cents[i]:
                continue
            there = outlook.target_multiplier if code in outlook.targeted else 1.0
            premium = labs.capex_cents[i] * (there / outlook.export_multiplier[i] - 1.0)
            revenue = self.revenue_if(code in outlook.bound_codes)
            gain = (revenue - staying - premium) * cfg.horizon_months - cost
            if gain > best_gain:
                best_gain, best_code, best_cost = gain, code_j, cost
        return None if best_code == here else (best_code, best_cost)

    def revenue_if(self, bound: bool) -> float:
        """Monthly revenue (cents) the lab would earn now with (or without) trusted release."""
        model, i = self.model, self.index
        labs, cfg = model.lab_state, model.config
        public = labs.public_capability.copy()
        if not bound:
            public[i] = labs.deployed_capability[i]
        users = market.segmented_users(
            labs.deployed_capability,
            public,
            model.access & labs.active[:, None],
            model.jurisdictions.users_millions,
            cfg.policy.trusted_release.trusted_fraction,
            cfg.market.capability_sensitivity,
            cfg.market.outside_option_capability,
        )
        per_user = model.jurisdictions.revenue_per_user_usd
        return float(labs.price_power[i] * (users[i] * 1e6) @ per_user * CENTS_PER_USD)


class Investor(StateView):
    """An investor: capital under management, a portfolio over labs and ties to labs it knows."""

    def __init__(self, model: AIRaceModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def home(self) -> str:
        """Home jurisdiction code."""
        return self.model.jurisdictions.codes[self.model.investor_state.home[self.index]]

    @property
    def capital(self) -> float:
        """Capital not yet invested (USD)."""
        return float(self.model.investor_state.capital_cents[self.index]) / CENTS_PER_USD

    @property
    def portfolio(self) -> dict[str, float]:
        """Current portfolio weights by lab name (weights sum to 1 or all are 0)."""
        weights = self.model.investor_state.weights[self.index]
        return {
            lab.name: float(weights[lab.index]) for lab in self.model.labs if weights[lab.index]
        }


class Researcher(StateView):
    """A researcher: skill, origin, where they work, for whom and for what pay."""

    def __init__(self, model: AIRaceModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def skill(self) -> float:
        """Research skill (log-normal, mean 1)."""
        return float(self.model.researcher_state.skill[self.index])

    @property
    def origin(self) -> str:
        """Jurisdiction the researcher comes from."""
        return self.model.jurisdictions.codes[self.model.researcher_state.origin[self.index]]

    @property
    def location(self) -> str:
        """Jurisdiction where the researcher works (or last worked)."""
        return self.model.jurisdictions.codes[self.model.researcher_state.location[self.index]]

    @property
    def employer(self) -> Lab | None:
        """Current employer, or None while unemployed."""
        j = int(self.model.researcher_state.employer[self.index])
        return self.model.labs[j] if j >= 0 else None

    @property
    def salary(self) -> float:
        """Annual pay (USD)."""
        return float(self.model.researcher_state.salary_usd[self.index])


class Government(mesa.Agent):
    """A jurisdiction's government: holds its policy instruments and adaptive rules.

    The government of ``policy.export_controls.issuer`` issues export controls; the government
    of ``policy.adaptive.government`` applies the adaptive rules; a government whose
    jurisdiction is listed in ``policy.trusted_release.jurisdictions`` binds its labs by
    trusted release. The rest are inert.
    """

    def __init__(self, model: AIRaceModel, code: str) -> None:
        super().__init__(model)
        policy = model.config.policy
        self.code = code
        self.trusted_release_in_force = (
            policy.trusted_release.enabled and code in policy.trusted_release.jurisdictions
        )
        self.issues_export_controls = (
            code == policy.export_controls.issuer and policy.export_controls.enabled
        )
        self.export_price_multiplier = policy.export_controls.price_multiplier
        self.adaptive = code == policy.adaptive.government
        self.months_behind = 0
        self.repealed_at: int | None = None

    def review(self) -> None:
        """Apply the adaptive rules to last month's outcomes (the adaptive government only).

        Counts the months in a row its labs have trailed the frontier (an undefined lead counts
        as trailing), repeals trusted release after the configured number, and tightens export
        controls while its lead is below the configured margin.
        """
        rules = self.model.config.policy.adaptive
        if not self.adaptive or (
            rules.repeal_trusted_release_after_months_behind is None
            and rules.tighten_export_controls_below_lead_ooms is None
        ):
            return
        lead = self.model.lead_of(self.code)
        self.months_behind = months_behind_update(self.months_behind, not lead >= 0)
        if (
            rules.repeal_trusted_release_after_months_behind is not None
            and self.trusted_release_in_force
            and self.months_behind >= rules.repeal_trusted_release_after_months_behind
        ):
            self.repeal_trusted_release()
        if (
            rules.tighten_export_controls_below_lead_ooms is not None
            and self.issues_export_controls
            and lead < rules.tighten_export_controls_below_lead_ooms
        ):
            self.export_price_multiplier += rules.tightening_step

    def repeal_trusted_release(self) -> None:
        """End the trusted-release rule: restricted models go public, pending releases ship now."""
        self.trusted_release_in_force = False
        self.repealed_at = self.model.steps
        self.model.lift_restrictions(self.code)

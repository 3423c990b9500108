"""The agents: Lab, Investor, Researcher and Government.

Labs, investors and researchers are real Mesa agents (they live in ``model.agents``, work with
AgentSet, DataCollector and the app) whose state is held in numpy arrays on the model, so that
the monthly decisions of thousands of researchers run as array arithmetic. Each agent is a view:
``lab.cash`` reads ``model.lab_cash[lab.index]``. Governments are few and act one by one.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

import mesa

from agentsim.market import CENTS_PER_USD
from agentsim.policy import months_behind_update

if TYPE_CHECKING:
    from agentsim.model import AIRaceModel


class ReleaseState(IntEnum):
    """Where a lab's newest model stands."""

    TRAINING = 0  #: deployed model is public; the next one is being trained
    COMPLIANCE = 1  #: a finished model waits out the compliance delay
    TRUSTED_ONLY = 2  #: the newest model serves trusted users only


class Lab(mesa.Agent):
    """A frontier AI lab: compute, software, data, staff, cash and a release pipeline."""

    def __init__(self, model: AIRaceModel, index: int, name: str) -> None:
        super().__init__(model)
        self.index = index
        self.name = name

    @property
    def jurisdiction(self) -> str:
        """Headquarters jurisdiction code."""
        return self.model.codes[self.model.lab_jurisdiction[self.index]]

    @property
    def capability(self) -> float:
        """Deployed capability K_dep (OOM): the best model the lab serves to anyone."""
        return float(self.model.lab_deployed[self.index])

    @property
    def public_capability(self) -> float:
        """Capability of the best model the lab serves to the general public (OOM)."""
        return float(self.model.lab_public[self.index])

    @property
    def internal_capability(self) -> float:
        """Capability the lab could train now, K_int (OOM)."""
        return float(self.model.lab_internal[self.index])

    @property
    def cash(self) -> float:
        """Cash on hand (USD)."""
        return int(self.model.lab_cash[self.index]) / CENTS_PER_USD

    @property
    def capacity(self) -> float:
        """Training compute capacity (FLOP/s)."""
        return (
            float(self.model.lab_capacity[self.index]) * self.model.config.compute.flops_per_h100e
        )

    @property
    def users(self) -> float:
        """Monthly active users across markets (people)."""
        return float(self.model.lab_users[self.index].sum()) * 1e6

    @property
    def revenue(self) -> float:
        """Revenue this month (USD)."""
        return int(self.model.lab_revenue[self.index]) / CENTS_PER_USD

    @property
    def researchers(self) -> int:
        """Number of researchers employed."""
        return int(self.model.lab_headcount[self.index])

    @property
    def release_state(self) -> ReleaseState:
        """Stage of the lab's release pipeline."""
        return ReleaseState(int(self.model.lab_release_state[self.index]))

    @property
    def open_weights(self) -> bool:
        """Whether the lab releases weights openly."""
        return bool(self.model.lab_open[self.index])

    @property
    def active(self) -> bool:
        """False once the lab has run out of cash and exited."""
        return bool(self.model.lab_active[self.index])


class Investor(mesa.Agent):
    """An investor: capital under management, a portfolio over labs and ties to labs it knows."""

    def __init__(self, model: AIRaceModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def home(self) -> str:
        """Home jurisdiction code."""
        return self.model.codes[self.model.investor_home[self.index]]

    @property
    def capital(self) -> float:
        """Capital not yet invested (USD)."""
        return int(self.model.investor_capital[self.index]) / CENTS_PER_USD

    @property
    def portfolio(self) -> dict[str, float]:
        """Current portfolio weights by lab name (weights sum to 1 or all are 0)."""
        weights = self.model.investor_weights[self.index]
        return {
            lab.name: float(weights[lab.index]) for lab in self.model.labs if weights[lab.index]
        }


class Researcher(mesa.Agent):
    """A researcher: skill, origin, where they work, for whom and for what pay."""

    def __init__(self, model: AIRaceModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def skill(self) -> float:
        """Research skill (log-normal, mean 1)."""
        return float(self.model.researcher_skill[self.index])

    @property
    def origin(self) -> str:
        """Jurisdiction the researcher comes from."""
        return self.model.codes[self.model.researcher_origin[self.index]]

    @property
    def location(self) -> str:
        """Jurisdiction where the researcher works (or last worked)."""
        return self.model.codes[self.model.researcher_location[self.index]]

    @property
    def employer(self) -> Lab | None:
        """Current employer, or None while unemployed."""
        j = int(self.model.researcher_employer[self.index])
        return self.model.labs[j] if j >= 0 else None

    @property
    def salary(self) -> float:
        """Annual pay (USD)."""
        return float(self.model.researcher_salary[self.index])


class Government(mesa.Agent):
    """A jurisdiction's government: holds its policy instruments and adaptive rules.

    Only governments whose config gives them a rule act; the rest are inert.
    """

    def __init__(self, model: AIRaceModel, code: str) -> None:
        super().__init__(model)
        policy = model.config.policy
        self.code = code
        self.trusted_release_in_force = (
            policy.trusted_release.enabled and code in policy.trusted_release.jurisdictions
        )
        self.issues_export_controls = code == "US" and policy.export_controls.enabled
        self.export_price_multiplier = policy.export_controls.price_multiplier
        self.months_behind = 0
        self.repealed_at: int | None = None

    def review(self) -> None:
        """Apply adaptive rules to last month's outcomes (US government only)."""
        if self.code != "US":
            return
        rules = self.model.config.policy.adaptive
        lead = self.model.us_lead
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
        self.model.release_restricted_models(self.code)

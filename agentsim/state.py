"""The model's state: named struct-of-arrays for jurisdictions, labs, investors and researchers.

Each class holds one kind of agent as numpy arrays indexed by the agent's position (lab ``i`` is
row ``i`` of every :class:`LabState` array). The arrays are the single home of the state: the
Mesa agents in :mod:`agentsim.agents` are views that read them, and the monthly phases in
:mod:`agentsim.model` update them through the rule modules. Units are in the field names or
comments: money in cents (``_cents``), compute in H100 equivalents (``_h100e``), capability in
orders of magnitude of effective training compute (OOM, log10 FLOP).

Money is held as float64 numbers of whole cents: every amount is rounded to a whole cent when
it is computed, so below 2**53 cents (about 9e13 USD) every value is exact and the accounting
adds up to the cent, as integer cents would; above that the relative precision is about 1e-16
(and nothing wraps around, however long the run). Counts (headcounts, indices) are int64.

Shapes: ``J`` jurisdictions (which are also the user markets), ``L`` labs, ``I`` investors,
``R`` researchers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np

from agentsim.network import Ties


@dataclass
class JurisdictionState:
    """Jurisdictions: their user markets, pay norms, compute prices and immigration frictions."""

    codes: list[str]  #: jurisdiction codes, sorted (J,); labs are sorted by name too
    users0_millions: np.ndarray  #: potential users at step 0 (J,)
    user_growth_per_year: np.ndarray  #: (J,)
    revenue_per_user_usd: np.ndarray  #: monthly revenue per user at full price power (J,)
    inference_per_user_usd: np.ndarray  #: monthly inference cost per user (J,)
    base_salary_usd: np.ndarray  #: annual pay of a skill-1 researcher (J,)
    compute_price_multiplier: np.ndarray  #: local price of compute, before export controls (J,)
    immigration_friction: np.ndarray  #: utility cost of moving in (J,)
    researcher_share: np.ndarray  #: share of researchers working here at step 0 (J,)
    foreign_born_share: np.ndarray  #: share of those born elsewhere (J,)
    users_millions: np.ndarray  #: potential users this month (J,)

    def __post_init__(self) -> None:
        #: position of each jurisdiction code
        self.index: dict[str, int] = {code: i for i, code in enumerate(self.codes)}
        #: (J,) bool: which jurisdiction is the US
        self.is_us = np.array([code == "US" for code in self.codes])

    def positions(self, codes: list[str]) -> np.ndarray:
        """Positions of the given codes (int array)."""
        index = self.index
        return np.array([index[c] for c in codes], dtype=np.int64)

    def users_at(self, step: int) -> np.ndarray:
        """Potential users per market after ``step`` months of growth (millions, (J,)).

        Equation: N_m(t) = N_m(0) (1 + g_m)^(t/12).
        """
        return self.users0_millions * (1.0 + self.user_growth_per_year) ** (step / 12.0)


@dataclass
class LabState:
    """Labs: where they are, what they can do, what they serve, and their money (arrays (L,))."""

    names: list[str]
    jurisdiction: np.ndarray  #: headquarters (jurisdiction index)
    origin: np.ndarray  #: jurisdiction of founding; market closures follow it
    is_us: np.ndarray  #: headquartered in the US (derived from jurisdiction)
    partners: np.ndarray  #: (L, L) bool: other labs with the same headquarters
    open_weights: np.ndarray  #: bool
    active: np.ndarray  #: bool: False once the lab has exited
    pay_premium: np.ndarray  #: pay relative to the jurisdiction's norm
    cash_cents: np.ndarray  #: float64 whole cents
    capacity_h100e: np.ndarray  #: training compute capacity
    software_ooms: np.ndarray  #: software efficiency S
    internal_capability: np.ndarray  #: K_int: what the lab could train now (OOM)
    deployed_capability: np.ndarray  #: K_dep: best model served to anyone (OOM)
    public_capability: np.ndarray  #: best model served to the general public (OOM)
    leaked_capability: np.ndarray  #: best model of the lab that has leaked (OOM; -inf: none)
    served_deployed: np.ndarray  #: capability served this month on average, trusted users
    served_public: np.ndarray  #: capability served this month on average, the public
    release_state: np.ndarray  #: int8 :class:`~agentsim.releases.ReleaseState`
    pending_capability: np.ndarray  #: capability of a model in compliance (NaN: none)
    pending_time: np.ndarray  #: month (fractional) it reaches users (inf: none)
    pending_trusted: np.ndarray  #: bool: it will start in a trusted-only phase
    trusted_queue: list[deque[tuple[float, float]]]  #: per lab: (public from, capability)
    price_power: np.ndarray  #: share of full price the lab can charge
    headcount: np.ndarray  #: int64: researchers employed
    human_capital: np.ndarray  #: H: summed skill of the lab's researchers (skill units)
    users_millions: np.ndarray  #: (L, J) users in each market
    data_stock: np.ndarray  #: D: decayed stock of user feedback (million user-months)
    revenue_history_cents: np.ndarray  #: (L, W) revenue of the last W months (cents), oldest first
    revenue_cents: np.ndarray  #: float64 whole cents: flows of the month, in
    investment_cents: np.ndarray  #: float64 whole cents
    salaries_cents: np.ndarray  #: float64 whole cents: flows of the month, out
    inference_cents: np.ndarray  #: float64 whole cents
    capex_cents: np.ndarray  #: float64 whole cents
    relocation_cents: np.ndarray  #: float64 whole cents

    #: stocks and flows that may never be negative (checked by the audit)
    NON_NEGATIVE = (
        "cash_cents",
        "capacity_h100e",
        "data_stock",
        "users_millions",
        "revenue_cents",
        "investment_cents",
        "salaries_cents",
        "inference_cents",
        "capex_cents",
        "relocation_cents",
    )
    #: money stocks and flows (float64 whole cents; checked finite by the audit): every
    #: field in cents, set below from the field names
    MONEY: ClassVar[tuple[str, ...]] = ()

    @property
    def size(self) -> int:
        """Number of labs."""
        return len(self.names)

    def move_headquarters(self, jurisdiction: np.ndarray, us_jurisdiction: np.ndarray) -> None:
        """Place headquarters and derive what follows: the side a lab counts for, its partners.

        ``us_jurisdiction`` is :attr:`JurisdictionState.is_us` ((J,) bool).
        """
        self.jurisdiction = jurisdiction
        self.is_us = us_jurisdiction[jurisdiction]
        same_home = jurisdiction[:, None] == jurisdiction[None, :]
        self.partners = same_home & ~np.eye(jurisdiction.size, dtype=bool)


@dataclass
class InvestorState:
    """Investors: home, capital, preferences, the labs they know and their portfolios."""

    home: np.ndarray  #: (I,) jurisdiction index
    capital_cents: np.ndarray  #: (I,) float64 whole cents: capital not yet invested
    home_bias: np.ndarray  #: (I,) utility bonus for labs at home
    risk_aversion: np.ndarray  #: (I,) penalty on labs bound by a deployment restriction
    home_match: np.ndarray  #: (I, L) float: 1 where the lab is at the investor's home at step 0
    known: np.ndarray  #: (I, L) bool: labs the investor knows of
    weights: np.ndarray  #: (I, L) portfolio weights (rows sum to 1 or are all 0)
    holdings_cents: np.ndarray  #: (I, L) float64 whole cents: money put into each lab so far
    commitments_cents: np.ndarray  #: (I,) float64 whole cents: new money committed this month

    NON_NEGATIVE = ("capital_cents", "holdings_cents")
    #: money stocks and flows (float64 whole cents; checked finite by the audit)
    MONEY: ClassVar[tuple[str, ...]] = ()  #: the fields in cents, set below

    @property
    def size(self) -> int:
        """Number of investors."""
        return int(self.home.size)


@dataclass
class ResearcherState:
    """Researchers: skill, origin, where and for whom they work, pay and collaborators.

    The arrays are slots: the first ``initial`` hold the step-0 pool; with entry and exit on,
    a reserve of slots after them receives entrants in index order (a slot is one person for
    the whole run while the reserve lasts; once it is spent, entrants take the slots of
    researchers who left, lowest index first). A slot not in the field (``in_field`` False:
    not yet entered, or left) is unemployed with no pay. The books: researchers in the field
    = ``initial`` + ``entrants_total`` - ``exits_total`` (checked by the audit).
    """

    skill: np.ndarray  #: (R,) log-normal, mean 1
    pay_factor: np.ndarray  #: (R,) skill ** pay elasticity (constant while in the field)
    origin: np.ndarray  #: (R,) jurisdiction index
    location: np.ndarray  #: (R,) jurisdiction index of work (or last work, or of the PhD)
    employer: np.ndarray  #: (R,) lab index, -1 while unemployed or not in the field
    salary_usd: np.ndarray  #: (R,) annual pay (0 while unemployed)
    in_field: np.ndarray  #: (R,) bool: in the field now
    collaboration: Ties = field(repr=False)  #: collaboration ties (CSR) over every slot
    initial: int = 0  #: researchers at step 0 (slots 0..initial-1)
    next_slot: int = 0  #: first reserve slot never used
    entrants_total: int = 0  #: researchers who entered the field so far
    exits_total: int = 0  #: researchers who left the field so far

    @property
    def size(self) -> int:
        """Number of researcher slots (in the field or not)."""
        return int(self.skill.size)

    @property
    def active_count(self) -> int:
        """Researchers in the field now."""
        return int(np.count_nonzero(self.in_field))

    def free_slots(self, count: int) -> np.ndarray:
        """Slots for ``count`` entrants: unused reserve first, then slots of leavers.

        Returns at most ``count`` indices (fewer when every slot is in the field) and
        advances :attr:`next_slot` past the reserve slots it hands out.
        """
        used = self.next_slot
        reserve = np.arange(used, min(used + count, self.size))
        self.next_slot = used + reserve.size
        short = count - reserve.size
        if short <= 0:
            return reserve
        left = np.flatnonzero(~self.in_field[:used])[:short]
        return np.concatenate([reserve, left])

    @property
    def employed(self) -> np.ndarray:
        """Bool mask of researchers with an employer."""
        return self.employer >= 0

    def per_lab(self, n_labs: int, weights: np.ndarray | None = None) -> np.ndarray:
        """Sum of ``weights`` (or a count) over each lab's employees, shape (n_labs,).

        Unemployed researchers fall in a discarded bin, so no employed mask is copied; each
        lab's sum adds its employees in index order, as a bincount over them alone would.
        """
        return np.bincount(self.employer + 1, weights=weights, minlength=n_labs + 1)[1:]


def _money_fields(state: type) -> tuple[str, ...]:
    """The fields of a state class that hold money (named ``*_cents``), in field order."""
    return tuple(f.name for f in fields(state) if f.name.endswith("_cents"))


LabState.MONEY = _money_fields(LabState)
InvestorState.MONEY = _money_fields(InvestorState)

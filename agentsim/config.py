"""Scenario configuration: the one home of every parameter's name, type, default, bound and unit.

Reading files, merging ``extends:`` chains and applying overrides live in
:mod:`agentsim.scenario_io`; this module holds only the schema.

Every field carries its unit (and, for model equations, its symbol) in ``json_schema_extra`` so
that docs/parameters.md is generated from this module (see :mod:`agentsim.docgen`).

The policy levers (:data:`LEVERS`) are named here too, and :func:`parameter_spec` reads any
parameter's type, default, bounds, unit and description from the schema, so the model's
keywords and the app's controls come from one place.

Numbers and switches are read strictly: a boolean is never a number, a number never a
boolean, and text never either (``Field(strict=True)`` on every parameter); infinities and NaN
are refused. Every numeric parameter has a lower and an upper bound that the model, the stored
results and the figures can handle, and the calendar is bounded so that the longest run stays
within the dates pandas and matplotlib represent (:data:`START_YEARS`).

Bad input raises :class:`ConfigError`, whose message is one line naming the key and the rule.
"""

from __future__ import annotations

import difflib
import math
import reprlib
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticUndefined

#: The text patterns of the schema, and each one's rule in words (for the one-line errors).
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
CODE_PATTERN = r"^[A-Z][A-Z_]{1,9}$"
PATTERN_RULES = {
    MONTH_PATTERN: "a month as YYYY-MM",
    CODE_PATTERN: "a code of 2 to 10 capital letters or _, starting with a letter",
}

JurisdictionCode = Annotated[str, Field(pattern=CODE_PATTERN)]

#: First and last calendar year a run may start in. With at most 600 monthly steps the last
#: month is at most 2250-12, inside the dates that pandas (nanosecond timestamps: 1677-2262)
#: and matplotlib (years 1-9999) can represent.
START_YEARS: tuple[int, int] = (1900, 2200)
#: Longest scenario name, in bytes of UTF-8: names become parts of folder names, and a
#: comparison's folder holds two of them within the usual 255-byte limit.
NAME_BYTES = 80
#: Most characters of the reader's input that an error message quotes (see :func:`quote`).
QUOTE_CHARS = 80
#: Most characters of a :class:`ConfigError` message, whatever it holds: the backstop that
#: keeps a message one readable line when a value reaches it unquoted. Its key (a dotted key
#: or a file's path) shows at most :data:`KEY_CHARS` of them, so the rule always shows.
MESSAGE_CHARS = 1000
KEY_CHARS = 300

#: Characters that would break a one-line message or the terminal showing it, escaped by
#: :func:`clip`: C0 controls (line feed, carriage return, escape...), DEL, C1 controls and
#: the Unicode line and paragraph separators.
_ESCAPES = {
    code: chr(code).encode("unicode_escape").decode("ascii")
    for code in (*range(32), *range(127, 160), 0x2028, 0x2029)
}


def clip(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` on one line and at most ``limit`` characters (then ``...``).

    Line breaks and other control characters are escaped (``\\n``, ``\\x1b``), so that text
    from the reader never breaks a one-line message.
    """
    head = text[: limit + 1].translate(_ESCAPES)
    if len(head) > limit or len(text) > limit:
        return head[:limit] + "..."
    return head


class _ShortRepr(reprlib.Repr):
    """``repr`` that looks at no more of a value than it shows: long text, long numbers and
    big or deep containers are cut (text keeps its start)."""

    def __init__(self, limit: int) -> None:
        items = max(8, limit // 10)  # more items than fit in ``limit`` characters are not read
        super().__init__(
            maxlevel=3, maxlist=items, maxtuple=items, maxdict=items, maxset=items,
            maxfrozenset=items, maxdeque=items, maxarray=items,
            maxstring=limit, maxlong=limit, maxother=limit,
        )  # fmt: skip

    def repr_str(self, x: str, level: int) -> str:
        return repr(x[: self.maxstring]) + ("..." if len(x) > self.maxstring else "")

    def repr_int(self, x: int, level: int) -> str:
        try:
            text = repr(x)
        except ValueError:  # past the digits Python turns into text
            return f"<an integer of about {int(x.bit_length() * math.log10(2)) + 1} digits>"
        return text if len(text) <= self.maxlong else text[: self.maxlong] + "..."


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """The reader's ``value`` as an error message quotes it: its ``repr``, one line, at most
    ``limit`` characters (then ``...``), computed without expanding more of the value than
    that (a 10 MB text or a huge nested list costs no more than a short one)."""
    return clip(_ShortRepr(limit).repr(value), limit)


class ConfigError(ValueError):
    """Invalid scenario input; ``str(err)`` is a one-line message naming the key and the rule.

    The message is one line of at most :data:`MESSAGE_CHARS` characters whatever it is given
    (control characters escaped, the rest cut, the key to :data:`KEY_CHARS`); messages quote
    the reader's values through :func:`quote`, which keeps each to :data:`QUOTE_CHARS`.
    """

    def __init__(self, key: str, rule: str) -> None:
        self.key = key
        self.rule = clip(str(rule), MESSAGE_CHARS)
        text = f"{clip(str(key), KEY_CHARS)}: {self.rule}" if key else self.rule
        super().__init__(clip(text, MESSAGE_CHARS))


def _p(default: Any, description: str, unit: str = "-", symbol: str | None = None, **bounds: Any):
    """Declare a parameter: default, bounds, unit and (optional) equation symbol in one place."""
    extra: dict[str, Any] = {"unit": unit}
    if symbol:
        extra["symbol"] = symbol
    return Field(default, description=description, json_schema_extra=extra, strict=True, **bounds)


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, assignments are validated.

    Parameters are strict (declared with ``strict=True``): a float parameter takes an int or
    a float, an int parameter only an int, a switch only ``true``/``false``, text only text;
    ``inf`` and ``nan`` are refused everywhere.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- world


class SimulationConfig(Section):
    """Clock of a run: one step is one calendar month."""

    start: str = _p(
        "2026-01",
        f"Calendar month of step 0 (YYYY-MM, from {START_YEARS[0]}-01 to {START_YEARS[1]}-12).",
        "month",
        pattern=MONTH_PATTERN,
    )
    steps: int = _p(60, "Number of monthly steps in a run.", "months", ge=1, le=600)

    @field_validator("start")
    @classmethod
    def _start_in_range(cls, start: str) -> str:
        first, last = START_YEARS
        if not first <= int(start[:4]) <= last:
            raise ValueError(
                f"simulation.start: must be a month from {first}-01 to {last}-12, so that every "
                f"month of the longest run has a date (got {quote(start)})"
            )
        return start


class JurisdictionConfig(Section):
    """A jurisdiction: its user market, researcher pool and compute access."""

    users_millions: float = _p(
        300.0, "Potential users of generative AI at step 0.", "million people", "N_m", ge=0, le=1e5
    )
    user_growth_per_year: float = _p(
        0.10, "Growth of potential users per year.", "1/year", ge=-0.5, le=2
    )
    revenue_per_user_usd: float = _p(
        2.0,
        "Monthly revenue per active user at full price power.",
        "USD/user/month",
        "a_m",
        ge=0,
        le=1000,
    )
    inference_cost_per_user_usd: float = _p(
        0.5, "Monthly inference cost per active user.", "USD/user/month", "c_m", ge=0, le=1000
    )
    salary_usd_thousands: float = _p(
        300.0,
        "Annual pay of a researcher of skill 1 at a lab of average finances here.",
        "kUSD/year",
        "w_j",
        gt=0,
        le=1e5,
    )
    researcher_share: float = _p(
        0.2, "Share of all researchers working here at step 0.", "-", ge=0, le=1
    )
    compute_price_multiplier: float = _p(
        1.0,
        "Local price of compute relative to the world price, before export controls.",
        "-",
        gt=0,
        le=100,
    )
    immigration_friction: float = _p(
        1.0,
        "Utility cost for a researcher from elsewhere to move here (the immigration instrument).",
        "utils",
        ge=0,
        le=100,
    )
    foreign_born_share: float = _p(
        0.08,
        "Share of the researchers working here at step 0 who come from another jurisdiction.",
        "-",
        ge=0,
        le=1,
    )


class LabConfig(Section):
    """A named lab at step 0."""

    jurisdiction: JurisdictionCode = Field(description="Headquarters jurisdiction code.")
    cash_billions: float = _p(5.0, "Cash on hand at step 0.", "billion USD", ge=0, le=1e5)
    funding_to_date_billions: float = _p(
        5.0,
        "Capital invested in the lab before step 0 (opening investor holdings).",
        "billion USD",
        ge=0,
        le=1e5,
    )
    capacity_h100e: float = _p(
        10_000.0, "Training compute capacity at step 0, in H100 equivalents.", "H100e", ge=0, le=1e9
    )
    software_ooms: float = _p(
        0.0, "Software efficiency S relative to the 2026 frontier.", "OOM", "S", ge=-5, le=5
    )
    deployed_lag_ooms: float = _p(
        0.2, "How far the deployed model trails internal capability at step 0.", "OOM", ge=0, le=3
    )
    talent_weight: float = _p(
        1.0, "Relative share of its jurisdiction's researchers at step 0.", "-", ge=0, le=1e3
    )
    pay_premium: float = _p(1.0, "Pay relative to its jurisdiction's norm.", "-", gt=0, le=10)
    open_weights: bool = _p(False, "Whether the lab releases its weights openly.")


class MarketConfig(Section):
    """User choice among deployed models and the profit window."""

    capability_sensitivity: float = _p(
        2.5, "Logit weight on deployed capability.", "1/OOM", "lambda", ge=0, le=50
    )
    outside_option_capability: float = _p(
        25.5, "Capability-equivalent of not using any model.", "OOM", "K_0", ge=0, le=60
    )
    closed: list[tuple[JurisdictionCode, JurisdictionCode]] = Field(
        default_factory=lambda: [("US", "CN"), ("CN", "US")],
        description="Pairs (lab jurisdiction, market) whose models may not serve that market.",
        json_schema_extra={"unit": "-"},
    )
    price_erosion: float = _p(
        0.25,
        "Loss of price power at each competitor release that matches "
        "the lab's model in a shared market.",
        "-",
        "epsilon",
        ge=0,
        le=1,
    )
    price_floor: float = _p(
        0.35, "Price power a lab keeps however many rivals release.", "-", "p_min", ge=0, le=1
    )


class ComputeConfig(Section):
    """Compute purchases, prices and depreciation."""

    flops_per_h100e: float = _p(
        1.0e15, "Peak dense BF16 throughput of one H100 equivalent.", "FLOP/s", ge=1e12, le=1e18
    )
    price_per_h100e_usd: float = _p(
        30_000.0, "Price of one H100 equivalent at step 0 (installed).", "USD", ge=1, le=1e7
    )
    price_decline_per_year: float = _p(
        0.30,
        "Fall in price per FLOP/s each year (at most 99%: over the longest run the price stays "
        "a number).",
        "1/year",
        ge=0,
        le=0.99,
    )
    depreciation_per_year: float = _p(
        0.20, "Share of capacity retired each year.", "1/year", "delta_C", ge=0, lt=1
    )
    target_growth_per_year: float = _p(
        4.5,
        "Growth factor of capacity a lab aims for each year (frontier trend 4-5x).",
        "x/year",
        ge=1,
        le=100,
    )
    max_capex_share: float = _p(
        0.25, "Largest share of cash spent on compute in one month.", "-", gt=0, le=1
    )
    run_length_months: float = _p(3.0, "Length of a frontier training run.", "months", gt=0, le=60)
    utilization: float = _p(0.4, "Model FLOP utilization during training.", "-", gt=0, le=1)


class ResearchConfig(Section):
    """Software progress, releases, spillovers and leaks."""

    base_rate_ooms_per_month: float = _p(
        0.04, "Software progress of a reference lab (~3x/year).", "OOM/month", "s_0", ge=0, le=1
    )
    talent_elasticity: float = _p(
        0.5, "Returns to human capital in software progress.", "-", "beta", ge=0, le=2
    )
    reference_human_capital: float = _p(
        400.0,
        "Skill-weighted headcount of a reference lab.",
        "skill units",
        "H_ref",
        ge=1,
        le=1e7,
    )
    productivity_decline_per_year: float = _p(
        0.05,
        "Fall of research productivity each year (ideas get harder to find).",
        "1/year",
        ge=0,
        lt=1,
    )
    noise: float = _p(
        0.3, "Log-normal dispersion of monthly software progress.", "-", "sigma_S", ge=0, le=3
    )
    breakthrough_probability: float = _p(
        0.01, "Monthly chance of a research breakthrough at each lab.", "1/month", "p_b", ge=0, le=1
    )
    breakthrough_size_ooms: float = _p(
        0.15, "Mean size of a breakthrough (exponential).", "OOM", "b", ge=0, le=5
    )
    generation_gap_ooms: float = _p(
        0.35,
        "Internal lead over the deployed model that triggers a release.",
        "OOM",
        "g",
        gt=0,
        le=5,
    )
    open_spillover_rate: float = _p(
        0.06,
        "Share of the gap to the best open (or leaked) model closed each month.",
        "1/month",
        "phi_o",
        ge=0,
        le=1,
    )
    partner_spillover_rate: float = _p(
        0.02,
        "Share of the gap to the best partner's deployed model closed each month.",
        "1/month",
        "phi_p",
        ge=0,
        le=1,
    )
    leak_probability: float = _p(
        0.01,
        "Monthly chance that a closed lab's newest model leaks "
        "(then it spills over like open weights).",
        "1/month",
        ge=0,
        le=1,
    )


class FlywheelConfig(Section):
    """Users -> feedback data -> software progress."""

    strength: float = _p(
        0.5,
        "Elasticity of software progress to the data stock (gamma; 0 switches the flywheel off).",
        "-",
        "gamma",
        ge=0,
        le=3,
    )
    data_ceiling: float = _p(
        3.0, "Largest multiplier that data can give software progress.", "-", "M_D", gt=1, le=100
    )
    data_decay_per_month: float = _p(
        0.05,
        "Share of the data stock that goes stale each month.",
        "1/month",
        "delta_D",
        gt=0,
        le=1,
    )
    reference_users_millions: float = _p(
        300.0,
        "Users whose steady flow of feedback defines the reference data stock.",
        "million people",
        ge=0.001,
        le=1e5,
    )
    data_pooling: float = _p(
        0.0, "Share of every lab's feedback pooled and shared equally.", "-", "rho", ge=0, le=1
    )


class CapitalConfig(Section):
    """Investors: capital, portfolio choice and network ties."""

    n_investors: int = _p(100, "Number of investors.", "agents", ge=1, le=100_000)
    capital_billions: dict[JurisdictionCode, Annotated[float, Field(strict=True, ge=0, le=1e6)]] = (
        Field(
            default_factory=lambda: {
                "US": 300.0,
                "CN": 40.0,
                "EU": 30.0,
                "GULF": 60.0,
                "ROW": 30.0,
            },
            description="Capital under management by investor home at step 0 (each 0 to 1e6).",
            json_schema_extra={"unit": "billion USD"},
        )
    )
    deploy_rate_per_month: float = _p(
        0.03, "Share of capital put into labs each month.", "1/month", ge=0, le=1
    )
    commitments_growth_per_year: float = _p(
        0.8,
        "Growth of capital under management from new commitments each year.",
        "1/year",
        ge=-0.9,
        le=10,
    )
    adjustment_speed: float = _p(
        0.15,
        "Share of the gap to target portfolio closed each month.",
        "1/month",
        "kappa",
        ge=0,
        le=1,
    )
    return_sensitivity: float = _p(
        1.0, "Inverse temperature of the softmax over expected returns.", "-", ge=0, le=100
    )
    revenue_growth_weight: float = _p(
        4.0,
        "Weight of recent revenue growth in expected return.",
        "per log-growth",
        ge=-100,
        le=100,
    )
    capability_weight: float = _p(
        2.0, "Weight of the lab's capability rank (0 last, 1 frontier).", "-", ge=-100, le=100
    )
    reach_weight: float = _p(
        0.5, "Weight of the log share of world users a lab may serve.", "-", ge=-100, le=100
    )
    home_bias: float = _p(
        1.5, "Mean utility bonus for labs in the investor's home.", "-", ge=0, le=20
    )
    policy_risk_aversion: float = _p(
        1.0, "Mean penalty on labs bound by a deployment restriction.", "-", ge=0, le=20
    )
    discovery_rate: float = _p(
        0.05,
        "Monthly chance an investor learns of a lab through a partner of a lab it knows.",
        "1/month",
        ge=0,
        le=1,
    )
    initial_ties: int = _p(
        3, "Labs outside its home an investor knows at step 0.", "labs", ge=0, le=1000
    )
    investor_size_shape: float = _p(
        1.5,
        "Shape of the Pareto (Lomax) distribution of investor sizes within a home "
        "(size = 1 + Lomax(shape); smaller is more unequal).",
        "-",
        ge=0.1,
        le=100,
    )
    preference_dispersion: float = _p(
        0.3,
        "Log-normal sigma of each investor's home bias and policy-risk aversion "
        "around the configured means.",
        "-",
        ge=0,
        le=3,
    )
    revenue_history_months: int = _p(
        6,
        "Months of revenue history investors watch; revenue growth compares the latest "
        "half of the window with the earliest half.",
        "months",
        ge=2,
        le=120,
    )


class TalentConfig(Section):
    """Researchers: skill, collaboration network and job search."""

    n_researchers: int = _p(5000, "Number of researchers.", "agents", ge=1, le=2_000_000)
    skill_sigma: float = _p(1.0, "Dispersion of log skill (log-normal, mean 1).", "-", ge=0, le=3)
    collaboration_degree: int = _p(
        6,
        "Collaborators per researcher before rewiring (small-world ring; "
        "an odd number is rounded down).",
        "ties",
        ge=0,
        le=100,
    )
    rewiring: float = _p(0.1, "Share of collaboration ties rewired at random.", "-", ge=0, le=1)
    search_rate: float = _p(
        0.05, "Share of researchers looking for a job each month.", "1/month", ge=0, le=1
    )
    random_offers: int = _p(
        2,
        "Labs a searching researcher hears of at random, beside those of collaborators.",
        "labs",
        ge=0,
        le=100,
    )
    pay_weight: float = _p(1.0, "Utility weight on log pay.", "-", ge=0, le=100)
    compute_weight: float = _p(
        0.3, "Utility weight on log compute per researcher.", "-", ge=0, le=100
    )
    frontier_weight: float = _p(
        1.0,
        "Utility weight on the lab's capability relative to the frontier.",
        "1/OOM",
        ge=0,
        le=100,
    )
    home_preference: float = _p(
        0.5, "Utility bonus for working in one's origin jurisdiction.", "utils", ge=0, le=100
    )
    switching_cost: float = _p(0.2, "Utility cost of changing employer.", "utils", ge=0, le=100)
    pay_elasticity: float = _p(0.6, "Elasticity of pay to skill.", "-", ge=0, le=3)
    hiring_budget_share: float = _p(
        0.05,
        "Share of cash a lab may commit in one month to the annual pay of new hires.",
        "-",
        ge=0,
        le=1,
    )
    pay_finance_elasticity: float = _p(
        0.2,
        "Elasticity of a lab's pay multiplier to its cash per head relative to the median "
        "of active labs.",
        "-",
        ge=0,
        le=3,
    )
    pay_finance_floor: float = _p(
        0.67, "Lowest pay multiplier that a lab's finances can give.", "-", gt=0, le=1
    )
    pay_finance_cap: float = _p(
        1.5, "Highest pay multiplier that a lab's finances can give.", "-", ge=1, le=100
    )
    reach_weight: float = _p(
        0.1,
        "Utility weight on the log of a lab's users relative to the median active lab.",
        "-",
        ge=0,
        le=100,
    )
    entry_exit: bool = _p(
        False,
        "Whether researchers enter (new PhDs) and leave the field (off: conserved).",
    )
    entry_rate_per_year: float = _p(
        0.1,
        "New researchers entering the field each year, as a share of the step-0 pool.",
        "1/year",
        ge=0,
        le=1,
    )
    exit_rate_per_year: float = _p(
        0.05,
        "Share of researchers in the field who leave it each year.",
        "1/year",
        ge=0,
        le=1,
    )


# --------------------------------------------------------------------------- policy


class TrustedReleaseConfig(Section):
    """Trusted release: new frontier models first reach only trusted users, after compliance."""

    enabled: bool = _p(False, "Whether the trusted-release rule is in force.")
    jurisdictions: list[JurisdictionCode] = Field(
        default_factory=lambda: ["US"],
        description="Lab headquarters the rule binds.",
        json_schema_extra={"unit": "-"},
    )
    start_month: int = _p(
        0,
        "First month in which the rule binds (0 = the month starting at simulation.start).",
        "month",
        ge=0,
        le=600,
    )
    trusted_fraction: float = _p(
        0.01, "Share of each market's users who are trusted.", "-", "tau", gt=0, le=1
    )
    restricted_months: float = _p(
        6.0, "Length of the trusted-only phase.", "months", "R", ge=0, le=120
    )
    compliance_delay_weeks: float = _p(
        4.0, "Compliance delay before every release.", "weeks", "d", ge=0, le=520
    )
    capability_threshold: float = _p(
        0.0, "Models at or above this capability are bound.", "OOM", ge=0, le=60
    )


class ExportControlsConfig(Section):
    """Chip export controls: dearer and possibly capped compute for target jurisdictions."""

    enabled: bool = _p(False, "Whether chip export controls are in force.")
    issuer: JurisdictionCode = _p("US", "Government that issues the controls.", "code")
    targets: list[JurisdictionCode] = Field(
        default_factory=lambda: ["CN"],
        description="Jurisdictions whose labs are targeted.",
        json_schema_extra={"unit": "-"},
    )
    start_month: int = _p(
        0,
        "First month in which controls bind (0 = the month starting at simulation.start).",
        "month",
        ge=0,
        le=600,
    )
    price_multiplier: float = _p(
        1.75, "Price of compute for targets relative to others.", "-", "m_X", ge=1, le=100
    )
    capacity_cap_h100e: float | None = _p(
        None, "Largest capacity a targeted lab may hold (null: no cap).", "H100e", ge=0, le=1e9
    )


class OutboundInvestmentConfig(Section):
    """Outbound investment rules: investors from one home may not fund labs of a target."""

    enabled: bool = _p(False, "Whether the rules are in force.")
    banned: list[tuple[JurisdictionCode, JurisdictionCode]] = Field(
        default_factory=lambda: [("US", "CN")],
        description="Pairs (investor home, lab jurisdiction) that may not be funded.",
        json_schema_extra={"unit": "-"},
    )


class ChannelsConfig(Section):
    """Switches that shut single mechanisms for decomposition experiments."""

    flywheel: bool = _p(True, "Feedback data speeds software progress.")
    capital_mobility: bool = _p(True, "Investors re-weight portfolios.")
    talent_mobility: bool = _p(True, "Researchers change jobs.")


class AdaptiveConfig(Section):
    """Adaptive government rules (all off by default)."""

    government: JurisdictionCode = _p(
        "US",
        "Government that applies the adaptive rules; its lead is the best deployed "
        "capability of its labs minus that of the rest.",
        "code",
    )
    repeal_trusted_release_after_months_behind: int | None = _p(
        None,
        "The government repeals trusted release after its labs have trailed the frontier "
        "this many months in a row.",
        "months",
        ge=1,
        le=600,
    )
    tighten_export_controls_below_lead_ooms: float | None = _p(
        None,
        "The government raises the export-control price multiplier each month its "
        "lead is below this.",
        "OOM",
        ge=0,
        le=60,
    )
    tightening_step: float = _p(
        0.1, "Rise of the price multiplier at each tightening.", "-", ge=0, le=10
    )


class RelocationConfig(Section):
    """Optional relocation of lab headquarters to escape binding rules (off by default)."""

    enabled: bool = _p(False, "Whether labs may move their headquarters.")
    cost_billions: float = _p(
        10.0,
        "Base one-off cost of moving a lab's headquarters, scaled by 1 + the destination's "
        "immigration friction.",
        "billion USD",
        ge=0,
        le=1e5,
    )
    horizon_months: float = _p(
        24.0, "Months of expected profit gain weighed against the cost.", "months", gt=0, le=600
    )
    review_every_months: int = _p(
        6, "How often labs reconsider where they are headquartered.", "months", ge=1, le=600
    )


class ObservationConfig(Section):
    """Thresholds of the outcomes in the policy debate's units (docs/ODD.md, section 7.10).

    They change what a run reports, never what it simulates.
    """

    generation_step_ooms: float = _p(
        1.0,
        "Capability step that makes a US release a new frontier generation: at least this "
        "far above the previous generation (the best US model at step 0 for the first).",
        "OOM",
        gt=0,
        le=5,
    )
    frontier_class_ooms: float = _p(
        0.3,
        "Distance below the global frontier within which a release counts as a frontier-class "
        "launch (the frontier at the end of the release's month, the release included).",
        "OOM",
        gt=0,
        le=5,
    )


class PolicyConfig(Section):
    """All policy instruments and channel switches."""

    trusted_release: TrustedReleaseConfig = Field(default_factory=TrustedReleaseConfig)
    export_controls: ExportControlsConfig = Field(default_factory=ExportControlsConfig)
    outbound_investment: OutboundInvestmentConfig = Field(default_factory=OutboundInvestmentConfig)
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)
    adaptive: AdaptiveConfig = Field(default_factory=AdaptiveConfig)


def _default_jurisdictions() -> dict[str, JurisdictionConfig]:
    shares = {"US": 0.5, "CN": 0.5, "EU": 0.0, "GULF": 0.0, "ROW": 0.0}
    return {
        code: JurisdictionConfig(
            researcher_share=share, foreign_born_share=0.35 if code == "US" else 0.08
        )
        for code, share in shares.items()
    }


def _default_labs() -> dict[str, LabConfig]:
    return {"LabUS": LabConfig(jurisdiction="US"), "LabCN": LabConfig(jurisdiction="CN")}


class Config(Section):
    """A whole scenario.

    ``Config()`` holds the schema's defaults: a small valid test world of two labs (LabUS and
    LabCN) with uncalibrated numbers. The calibrated world, used wherever no scenario is given,
    is :func:`agentsim.scenario_io.load_config` with no argument (the shipped
    ``configs/baseline.yaml``).
    """

    name: str = _p(
        "scenario",
        f"Scenario name used in output folders and figures (1 to {NAME_BYTES} bytes; no "
        "/, \\ or control characters).",
    )
    simulation: SimulationConfig = Field(default_factory=SimulationConfig)
    jurisdictions: dict[JurisdictionCode, JurisdictionConfig] = Field(
        default_factory=_default_jurisdictions
    )
    labs: dict[str, LabConfig] = Field(default_factory=_default_labs)
    market: MarketConfig = Field(default_factory=MarketConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    research: ResearchConfig = Field(default_factory=ResearchConfig)
    flywheel: FlywheelConfig = Field(default_factory=FlywheelConfig)
    capital: CapitalConfig = Field(default_factory=CapitalConfig)
    talent: TalentConfig = Field(default_factory=TalentConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    relocation: RelocationConfig = Field(default_factory=RelocationConfig)
    observation: ObservationConfig = Field(default_factory=ObservationConfig)

    @field_validator("name")
    @classmethod
    def _name_fits_a_folder(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("name: must not be empty")
        size = len(name.encode("utf-8"))
        if size > NAME_BYTES:
            raise ValueError(f"name: must be at most {NAME_BYTES} bytes (got {size} bytes)")
        bad = sorted({c for c in name if c in "/\\" or ord(c) < 32 or ord(c) == 127})
        if bad:
            raise ValueError(
                f"name: must not hold / or \\ or control characters, as it names folders "
                f"(got {quote(name)})"
            )
        return name

    @model_validator(mode="after")
    def _check_world(self) -> Config:
        codes = set(self.jurisdictions)
        if "US" not in codes:
            raise ValueError("jurisdictions: must include US (outputs compare US with the rest)")
        if len(codes) < 2:
            raise ValueError("jurisdictions: needs at least two jurisdictions")
        if not self.labs:
            raise ValueError("labs: needs at least one lab")
        for name in self.labs:
            if not name.strip() or "." in name or any(ord(c) < 32 for c in name):
                raise ValueError(
                    f"labs: a lab's name must be non-empty, without '.' (dotted keys such "
                    f"as labs.NAME.cash_billions address labs) or control characters "
                    f"(got {quote(name)})"
                )
        for name, lab in self.labs.items():
            if lab.jurisdiction not in codes:
                raise ValueError(
                    f"labs.{clip(name)}.jurisdiction: must be one of "
                    f"{quote(sorted(codes), 400)} (got {quote(lab.jurisdiction)})"
                )
        checks: list[tuple[str, Iterable[str]]] = [
            ("market.closed", (c for pair in self.market.closed for c in pair)),
            ("capital.capital_billions", self.capital.capital_billions),
            ("policy.trusted_release.jurisdictions", self.policy.trusted_release.jurisdictions),
            ("policy.export_controls.targets", self.policy.export_controls.targets),
            ("policy.export_controls.issuer", [self.policy.export_controls.issuer]),
            ("policy.adaptive.government", [self.policy.adaptive.government]),
            (
                "policy.outbound_investment.banned",
                (c for pair in self.policy.outbound_investment.banned for c in pair),
            ),
        ]
        for key, used in checks:
            unknown = sorted(set(used) - codes)
            if unknown:
                raise ValueError(
                    f"{key}: names unknown jurisdiction(s) {quote(unknown, 200)}; "
                    f"known are {quote(sorted(codes), 400)}"
                )
        share = sum(j.researcher_share for j in self.jurisdictions.values())
        if not math.isclose(share, 1.0, abs_tol=1e-6):
            raise ValueError(f"jurisdictions.*.researcher_share: must sum to 1 (got {share:.6g})")
        for code, j in self.jurisdictions.items():
            if j.researcher_share > 0 and not any(
                lab.jurisdiction == code and lab.talent_weight > 0 for lab in self.labs.values()
            ):
                raise ValueError(
                    f"jurisdictions.{code}.researcher_share: must be 0 when no lab "
                    f"with talent_weight > 0 is headquartered in {code}"
                )
        if sum(self.capital.capital_billions.values()) <= 0:
            raise ValueError("capital.capital_billions: total capital must be positive")
        return self

    @property
    def jurisdiction_codes(self) -> list[str]:
        """Jurisdiction codes in config order."""
        return list(self.jurisdictions)

    @property
    def lab_names(self) -> list[str]:
        """Lab names in config order."""
        return list(self.labs)


# --------------------------------------------------------------------------- levers

#: The policy levers: keyword of the model's constructor -> dotted config path it sets.
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


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter as the schema declares it.

    ``type`` is the Python type of a value (``float``, ``int``, ``bool``, ``str``, ``list``,
    ``dict``); ``nullable`` says whether None is allowed too. A bound is None where the schema
    sets none; ``lower_inclusive``/``upper_inclusive`` say whether the bound itself is allowed
    (``ge``/``le``) or not (``gt``/``lt``).
    """

    path: str
    type: type
    default: Any
    lower: float | None
    lower_inclusive: bool
    upper: float | None
    upper_inclusive: bool
    unit: str
    description: str
    nullable: bool = False

    def allows(self, value: float) -> bool:
        """Whether ``value`` lies within the bounds."""
        if self.lower is not None and not (
            value >= self.lower if self.lower_inclusive else value > self.lower
        ):
            return False
        return self.upper is None or (
            value <= self.upper if self.upper_inclusive else value < self.upper
        )


def _section_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The section model behind a field's annotation and whether a free key comes first."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is dict and isinstance(args[-1], type):
        if issubclass(args[-1], BaseModel):
            return args[-1], True
    return None, False


def parameter_spec(path: str) -> ParameterSpec:
    """The schema's declaration of the parameter at a dotted ``path``.

    Keys of free mappings (jurisdiction codes, lab names) may be any name, e.g.
    ``"jurisdictions.US.foreign_born_share"`` or ``"labs.X.cash_billions"``. Raises
    :class:`ConfigError` where the path is not a parameter.
    """
    parts = path.split(".")
    model: type[BaseModel] = Config
    i = 0
    while True:
        if i >= len(parts):
            raise ConfigError(path, "is a section, not a parameter")
        fields = model.model_fields
        if parts[i] not in fields:
            guess = difflib.get_close_matches(parts[i], list(fields), n=1)
            hint = f" (did you mean {guess[0]!r}?)" if guess else f"; known keys: {list(fields)}"
            raise ConfigError(".".join(parts[: i + 1]), f"unknown key{hint}")
        field = fields[parts[i]]
        section, keyed = _section_of(field.annotation)
        if section is None:
            break
        model, i = section, i + (2 if keyed else 1)
    if i != len(parts) - 1:
        raise ConfigError(".".join(parts[: i + 1]), "is a value, not a section")
    annotation = field.annotation
    nullable = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(members) < len(typing.get_args(annotation))
        annotation = members[0]
    kind = typing.get_origin(annotation) or annotation
    lower = upper = None
    lower_inclusive = upper_inclusive = False
    for item in field.metadata:
        for attr, inclusive in (("ge", True), ("gt", False)):
            if getattr(item, attr, None) is not None:
                lower, lower_inclusive = getattr(item, attr), inclusive
        for attr, inclusive in (("le", True), ("lt", False)):
            if getattr(item, attr, None) is not None:
                upper, upper_inclusive = getattr(item, attr), inclusive
    if field.default is not PydanticUndefined:
        default = field.default
    elif field.default_factory is not None:
        default = field.default_factory()
    else:
        default = None
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return ParameterSpec(
        path=path,
        type=kind,
        default=default,
        lower=lower,
        lower_inclusive=lower_inclusive,
        upper=upper,
        upper_inclusive=upper_inclusive,
        unit=str(extra.get("unit", "-")),
        description=field.description or "",
        nullable=nullable,
    )

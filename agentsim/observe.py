"""Observation (ODD 7.10): what a run records each month, its tables, summary and audit.

The model calls :meth:`Observer.record` at step 0 and after every step. Model-level indicators
(:data:`MODEL_COLUMNS`, a contract: see docs/ODD.md) go into a Mesa ``DataCollector``, so
``model.datacollector.get_model_vars_dataframe()`` and Mesa's plot components work as users
know them; per-lab columns (:data:`LAB_COLUMNS`) are recorded as arrays, one row per month.
:func:`model_frame`, :func:`lab_frame` and :func:`summarize` turn the records into tables;
:func:`audit` checks accounting and conservation.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np
import pandas as pd

from agentsim import outcomes
from agentsim.events import OVERTAKE, RELEASE, RELOCATION
from agentsim.market import CENTS_PER_USD
from agentsim.state import InvestorState, LabState

if TYPE_CHECKING:
    from agentsim.model import AIRaceModel

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
    "us_compute_spend",
    "us_research_spend",
    "us_investment",
    "non_us_investment",
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


def month_dates(start: str, steps: int) -> pd.DatetimeIndex:
    """First day of each month from ``start`` (YYYY-MM) for steps 0..steps."""
    return pd.date_range(pd.Timestamp(f"{start}-01"), periods=steps + 1, freq="MS")


def indicators(model: AIRaceModel) -> dict[str, Any]:
    """This month's model-level indicators (the :data:`MODEL_COLUMNS`).

    Frontier capabilities are the best deployed model of an active lab on each side (NaN when
    a side has no active lab). The leader is the jurisdiction of the best active lab; when labs
    of several jurisdictions tie at the top the US keeps the lead if it is among them (a tie is
    not an overtake), else the first code in alphabetical order; None when no lab is active.
    Shares are US over world totals (NaN, undefined, when the total is 0); R&D spend is salaries
    plus compute purchases this month (USD), also reported apart (US compute spend = capex,
    US research spend = salaries); investment is the money investors put into each side's labs
    this month (USD); release counts are cumulative frontier-release
    events, attributed to the jurisdiction each happened in.
    """
    labs = model.lab_state
    us, active = labs.is_us, labs.active
    deployed = np.where(active, labs.deployed_capability, -np.inf)
    users = labs.users_millions.sum(axis=1)
    holdings = model.investor_state.holdings_cents.sum(axis=0)
    compute = labs.capex_cents / CENTS_PER_USD
    research = labs.salaries_cents / CENTS_PER_USD
    rd = compute + research
    invested = labs.investment_cents / CENTS_PER_USD
    codes = model.jurisdictions.codes
    us_index = codes.index("US")
    us_releases = int(model.frontier_release_counts[us_index])
    return {
        "frontier_capability_us": _best(deployed[us]),
        "frontier_capability_non_us": _best(deployed[~us]),
        "leader_jurisdiction": leader(deployed, labs.jurisdiction, codes),
        "us_user_share": _share(users, us),
        "us_revenue_share": _share(labs.revenue_cents, us),
        "us_capital_share": _share(holdings, us),
        "us_talent_share": _share(labs.human_capital, us),
        "us_rd_spend": float(rd[us].sum()),
        "non_us_rd_spend": float(rd[~us].sum()),
        "us_compute_spend": float(compute[us].sum()),
        "us_research_spend": float(research[us].sum()),
        "us_investment": float(invested[us].sum()),
        "non_us_investment": float(invested[~us].sum()),
        "us_frontier_releases": us_releases,
        "non_us_frontier_releases": int(model.frontier_release_counts.sum()) - us_releases,
    }


def leader(deployed: np.ndarray, jurisdiction: np.ndarray, codes: list[str]) -> str | None:
    """Jurisdiction of the best lab ((L,) capabilities, -inf for inactive labs; see indicators).

    Returns None when no lab is active.
    """
    top = deployed.max(initial=-np.inf)
    if not np.isfinite(top):
        return None
    at_top = sorted({codes[j] for j in jurisdiction[deployed == top]})
    return "US" if "US" in at_top else at_top[0]


def non_us_leads(
    frontier_us: np.ndarray | float, frontier_non_us: np.ndarray | float
) -> np.ndarray:
    """Whether a non-US lab leads: strictly above the best US model, or no US lab is active.

    Arrays of equal shape, or two scalars (NaN for a side with no active lab); False where no
    lab is active.
    """
    us_missing = np.isnan(frontier_us)
    non_us_missing = np.isnan(frontier_non_us)
    with np.errstate(invalid="ignore"):
        ahead = frontier_non_us > frontier_us
    return ~non_us_missing & (ahead | us_missing)


def _best(capability: np.ndarray) -> float:
    """Best capability among labs (NaN when there is no active lab on that side)."""
    best = capability.max(initial=-np.inf)
    return float(best) if np.isfinite(best) else float("nan")


def _share(values: np.ndarray, mask: np.ndarray) -> float:
    """Share of the total held where ``mask`` is True; NaN (undefined) when the total is 0."""
    total = float(values.sum())
    return min(float(values[mask].sum()) / total, 1.0) if total > 0 else float("nan")


class IndicatorCollector(mesa.DataCollector):
    """A Mesa DataCollector of the model-level indicators, filled from ``model.indicators``.

    The values are plain scalars computed once per step, so they are appended as they are
    (no reporter calls, no deep copies); every reading method of the DataCollector works.
    """

    def __init__(self) -> None:
        super().__init__(model_reporters={name: name for name in MODEL_COLUMNS})

    def collect(self, model: AIRaceModel) -> None:
        """Append this month's indicators."""
        values = model.indicators
        for name, column in self.model_vars.items():
            column.append(values[name])


class Observer:
    """Records a model's indicators and lab columns at step 0 and after every step."""

    def __init__(self, model: AIRaceModel) -> None:
        self.model = model
        self.collector = IndicatorCollector()
        self._labs: list[tuple[np.ndarray, ...]] = []
        self._non_us_led = False

    def record(self) -> None:
        """Measure the indicators, note an overtake, and append this month's rows."""
        model = self.model
        model.indicators = values = indicators(model)
        self.collector.collect(model)
        leads = bool(
            non_us_leads(values["frontier_capability_us"], values["frontier_capability_non_us"])
        )
        if leads and not self._non_us_led:
            labs = model.lab_state
            best = np.where(labs.active & ~labs.is_us, labs.deployed_capability, -np.inf)
            lab = int(np.argmax(best))
            model.record_event(
                OVERTAKE, lab, int(labs.jurisdiction[lab]), capability=float(best[lab])
            )
        self._non_us_led = leads
        labs = model.lab_state
        self._labs.append(
            (
                labs.deployed_capability.copy(),
                labs.cash_cents / CENTS_PER_USD,
                labs.capacity_h100e * model.config.compute.flops_per_h100e,
                labs.users_millions.sum(axis=1) * 1e6,
                labs.revenue_cents / CENTS_PER_USD,
                labs.headcount.copy(),
                labs.jurisdiction.copy(),
                labs.internal_capability.copy(),
                labs.public_capability.copy(),
            )
        )

    def lab_columns(self) -> dict[str, np.ndarray]:
        """The recorded lab columns as (months, L) arrays (jurisdiction as index)."""
        stacked = [np.stack(column) for column in zip(*self._labs, strict=True)]
        return dict(zip(LAB_COLUMNS, stacked, strict=True))


def model_frame(model: AIRaceModel) -> pd.DataFrame:
    """One row per month: step, date and the :data:`MODEL_COLUMNS`."""
    recorded = model.datacollector.model_vars
    months = len(recorded[MODEL_COLUMNS[0]])
    dates = month_dates(model.config.simulation.start, model.steps)
    data = {"step": np.arange(months), "date": dates[:months]}
    data.update((name, recorded[name]) for name in MODEL_COLUMNS)
    return pd.DataFrame(data)


def lab_frame(model: AIRaceModel) -> pd.DataFrame:
    """One row per lab and month: step, date, lab and the :data:`LAB_COLUMNS`.

    Rows are sorted by step, then lab name.
    """
    columns = model.observer.lab_columns()
    months, n_labs = columns["capability"].shape
    order = np.argsort(np.array(model.lab_state.names, dtype=object), kind="stable")
    step = np.repeat(np.arange(months), n_labs)
    dates = month_dates(model.config.simulation.start, model.steps)
    codes = np.array(model.jurisdictions.codes, dtype=object)
    data: dict[str, Any] = {
        "step": step,
        "date": dates[step],
        "lab": np.tile(np.array(model.lab_state.names, dtype=object)[order], months),
    }
    for name in LAB_COLUMNS:
        values = columns[name][:, order].ravel()
        data[name] = codes[values] if name == "jurisdiction" else values
    return pd.DataFrame(data)


def flows_frame(model: AIRaceModel) -> pd.DataFrame:
    """Researcher moves between jurisdictions so far (J x J counts, from -> to)."""
    codes = model.jurisdictions.codes
    return pd.DataFrame(
        model.talent_flows,
        index=pd.Index(codes, name="from"),
        columns=pd.Index(codes, name="to"),
    )


def _finite_or_none(value: Any) -> Any:
    """Undefined numbers (NaN, a side with no lab left) become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def debate_outcomes(model: AIRaceModel, frame: pd.DataFrame) -> dict[str, float | int]:
    """The outcomes in the policy debate's units (docs/ODD.md 7.10), NaN where undefined.

    Yearly US R&D money (USD/yr: investment into US labs, their compute and research spend,
    the sum and its change from the first to the last year), yearly US shares (investment,
    revenue, users, talent), US frontier generations and frontier-class launches a year by
    side, with the thresholds of ``config.observation``. ``frame`` is :func:`model_frame`.
    """
    settings = model.config.observation
    steps = len(frame) - 1
    windows = dict(zip(("first_year", "last_year"), outcomes.year_windows(steps), strict=True))
    flows = ("us_investment", "non_us_investment", "us_compute_spend", "us_research_spend")
    column = {name: frame[name].to_numpy(float) for name in (*flows, "us_talent_share")}
    rd = column["us_investment"] + column["us_compute_spend"] + column["us_research_spend"]
    labs = model.observer.lab_columns()
    us_lab = labs["jurisdiction"] == model.jurisdictions.codes.index("US")
    users, revenue = labs["users"], labs["revenue"]
    invested = column["us_investment"] + column["non_us_investment"]
    result: dict[str, float | int] = {}
    for label, window in windows.items():
        result[f"us_investment_usd_{label}"] = outcomes.yearly_total(
            column["us_investment"], window
        )
        for part in ("compute", "research"):
            total = outcomes.yearly_total(column[f"us_{part}_spend"], window)
            result[f"us_{part}_spend_usd_{label}"] = total
        result[f"us_ai_rd_usd_{label}"] = outcomes.yearly_total(rd, window)
        shares = {
            "investment": (column["us_investment"], invested),
            "revenue": ((revenue * us_lab).sum(axis=1), revenue.sum(axis=1)),
            "user": ((users * us_lab).sum(axis=1), users.sum(axis=1)),
        }
        for name, (part, whole) in shares.items():
            result[f"us_{name}_share_{label}"] = outcomes.yearly_share(part, whole, window)
        result[f"us_talent_share_{label}"] = outcomes.yearly_mean(column["us_talent_share"], window)
    result["us_ai_rd_change"] = outcomes.relative_change(
        result["us_ai_rd_usd_first_year"], result["us_ai_rd_usd_last_year"]
    )
    releases = [e for e in model.events if e.kind == RELEASE]
    us = np.array([e.us for e in releases], dtype=bool)
    release_steps = np.array([e.step for e in releases], dtype=np.int64)
    capability = np.array([e.capability for e in releases], dtype=float)
    frontier_us = frame["frontier_capability_us"].to_numpy(float)
    generations = outcomes.generation_steps(
        release_steps[us], capability[us], float(frontier_us[0]), settings.generation_step_ooms
    )
    result["us_generations"] = len(generations)
    result["mean_months_between_us_generations"] = outcomes.mean_months_between(generations)
    result["months_to_first_us_generation"] = outcomes.months_to_first(generations)
    frontier = outcomes.global_frontier(
        frontier_us, frame["frontier_capability_non_us"].to_numpy(float)
    )
    launches = outcomes.frontier_class(
        release_steps, capability, frontier, settings.frontier_class_ooms
    )
    result["us_frontier_class_launches_per_year"] = outcomes.per_year(
        int(launches[us].sum()), steps
    )
    result["non_us_frontier_class_launches_per_year"] = outcomes.per_year(
        int(launches[~us].sum()), steps
    )
    return result


def summarize(model: AIRaceModel, frame: pd.DataFrame) -> dict[str, Any]:
    """The run summary: a flat dict of scalars (None where a quantity is undefined).

    Includes the outcomes in the debate's units (:func:`debate_outcomes`).
    """
    last = {name: frame[name].iloc[-1] for name in MODEL_COLUMNS}
    years = max(len(frame) - 1, 1) / 12.0
    us_series = frame["frontier_capability_us"].to_numpy(float)
    non_us_series = frame["frontier_capability_non_us"].to_numpy(float)
    frontier = outcomes.global_frontier(us_series, non_us_series)
    growth = float(frontier[-1] - frontier[0]) / years
    lead0 = float(us_series[0] - non_us_series[0])
    leads = non_us_leads(us_series, non_us_series)
    overtake = frame["step"].to_numpy()[leads]
    labs, codes = model.lab_state, model.jurisdictions.codes
    us_releases = [e.step for e in model.events if e.kind == RELEASE and e.us]
    us_frontier = [e.step for e in model.events if e.kind == RELEASE and e.us and e.frontier]
    repealed = model.governments["US"].repealed_at if "US" in model.governments else None
    summary: dict[str, Any] = {
        "seed": model.seed,
        "steps": int(model.steps),
        "overtake_month": int(overtake[0]) if len(overtake) else None,
        "overtaken": bool(len(overtake)),
        "non_us_lead_months": int(leads[1:].sum()),
        "final_frontier_capability_us": float(last["frontier_capability_us"]),
        "final_frontier_capability_non_us": float(last["frontier_capability_non_us"]),
        "final_us_lead_ooms": float(
            last["frontier_capability_us"] - last["frontier_capability_non_us"]
        ),
        "initial_us_lead_months": lead0 / (growth / 12.0) if growth > 0 else None,
        "frontier_growth_ooms_per_year": growth,
        "final_us_user_share": float(last["us_user_share"]),
        "final_us_revenue_share": float(last["us_revenue_share"]),
        "final_us_capital_share": float(last["us_capital_share"]),
        "final_us_talent_share": float(last["us_talent_share"]),
        "total_us_rd_spend": float(frame["us_rd_spend"].sum()),
        "total_non_us_rd_spend": float(frame["non_us_rd_spend"].sum()),
        "us_frontier_releases": int(last["us_frontier_releases"]),
        "non_us_frontier_releases": int(last["non_us_frontier_releases"]),
        "mean_months_between_us_frontier_releases": outcomes.mean_months_between(us_frontier),
        "mean_months_between_us_releases": outcomes.mean_months_between(us_releases),
        "trusted_release_repealed_month": repealed,
        "labs_exited": int((~labs.active).sum()),
        "lab_relocations": sum(e.kind == RELOCATION for e in model.events),
        "unemployed_researchers": int((~model.researcher_state.employed).sum()),
    }
    summary.update(debate_outcomes(model, frame))
    for i, code in enumerate(codes):
        mine = (labs.jurisdiction == i) & labs.active  # exited labs serve no model
        best = labs.deployed_capability[mine].max(initial=-np.inf)
        summary[f"final_best_capability_{code}"] = float(best) if mine.any() else None
    summary = {k: _finite_or_none(v) for k, v in summary.items()}
    for i, a in enumerate(codes):
        for j, b in enumerate(codes):
            summary[f"talent_flow_{a}_{b}"] = int(model.talent_flows[i, j])
    return summary


def network_snapshot(model: AIRaceModel) -> pd.DataFrame:
    """Aggregated ties now: source, target, kind, weight (one row per aggregated edge).

    Researchers are pooled by origin (``researchers:CODE`` -> lab, weight = headcount),
    investors by home (``investors:CODE`` -> lab, weight = holdings in USD); lab-lab
    partnerships have weight 1. Readable at 5,000 or 100,000 researchers alike.
    """
    labs, researchers, investors = model.lab_state, model.researcher_state, model.investor_state
    codes = model.jurisdictions.codes
    rows = []
    employed = researchers.employed
    staff = np.zeros((len(codes), labs.size), dtype=np.int64)
    np.add.at(staff, (researchers.origin[employed], researchers.employer[employed]), 1)
    holdings = np.zeros((len(codes), labs.size))
    np.add.at(holdings, investors.home, investors.holdings_cents / CENTS_PER_USD)
    for c, code in enumerate(codes):
        for j, lab in enumerate(labs.names):
            if staff[c, j]:
                rows.append((f"researchers:{code}", lab, "employment", float(staff[c, j])))
            if holdings[c, j] > 0:
                rows.append((f"investors:{code}", lab, "investment", float(holdings[c, j])))
    for a, b in zip(*np.nonzero(np.triu(labs.partners, 1)), strict=True):
        rows.append((labs.names[a], labs.names[b], "partnership", 1.0))
    return pd.DataFrame(rows, columns=["source", "target", "kind", "weight"])


#: 2**53 cents (about 9e13 USD): up to here float64 holds every whole number of cents exactly.
EXACT_CENTS = float(2**53)
#: Machine epsilons of round-off a money balance may show per unit of its magnitude and per
#: amount summed into one of its terms, beyond EXACT_CENTS (see :func:`audit`).
MONEY_ULPS = 8


def snapshot(model: AIRaceModel) -> dict[str, dict[str, np.ndarray]]:
    """What :func:`audit` compares across a step.

    Each lab's cash, each investor's capital, and the holdings summed by investor and by lab
    (two vectors, not a copy of the investor x lab matrix).
    """
    investors = model.investor_state
    holdings = investors.holdings_cents
    return {
        "lab_state": {"cash_cents": model.lab_state.cash_cents.copy()},
        "investor_state": {
            "capital_cents": investors.capital_cents.copy(),
            "holdings_by_investor": holdings.sum(axis=1),
            "holdings_by_lab": holdings.sum(axis=0),
        },
    }


def money_differs(difference: Any, terms: list[Any], summed: int = 1) -> bool:
    """Whether a money balance is off by more than round-off (the rule is in :func:`audit`).

    ``difference`` is the balance (0 when the books hold), ``terms`` the amounts it was
    computed from (arrays broadcasting to its shape, or scalars) and ``summed`` the largest
    number of amounts added up inside one term.
    """
    if not np.count_nonzero(difference):  # the usual case, exact: no magnitudes needed
        return False
    magnitude = sum(np.abs(term) for term in terms)
    tolerance = np.where(
        magnitude <= EXACT_CENTS, 0.0, MONEY_ULPS * summed * np.finfo(float).eps * magnitude
    )
    off = ~(np.abs(difference) <= tolerance) | ~np.isfinite(difference)  # NaN or inf is off
    return bool(np.any(off))


def _stock_problems(state: LabState | InvestorState) -> list[str]:
    """Negative entries among ``state.NON_NEGATIVE``, NaN or infinite ones among its money."""
    names = tuple(dict.fromkeys(state.NON_NEGATIVE + state.MONEY))
    every = np.concatenate([getattr(state, name).ravel() for name in names])
    if not every.size or (every.min() >= 0 and math.isfinite(every.max())):
        return []  # the usual case, one pass: all non-negative and finite (a NaN fails min)
    problems = []
    for name in names:
        values = getattr(state, name)
        if not values.size:
            continue
        lowest = values.min()  # NaN if any entry is NaN
        if name in state.NON_NEGATIVE and lowest < 0:
            problems.append(f"{name} has negative entries")
        if name in state.MONEY and not (math.isfinite(lowest) and math.isfinite(values.max())):
            problems.append(f"{name} has entries that are NaN or infinite")
    return problems


def audit(model: AIRaceModel, before: dict[str, dict[str, np.ndarray]] | None = None) -> list[str]:
    """Accounting and conservation checks; returns the violations (empty when all hold).

    Checks that no stock or flow is negative, that no money stock or flow is NaN or infinite,
    that researchers in the field are those at the start plus entrants minus exits (all of
    them without entry and exit), that no one out of the field is employed, and that
    headcounts add up; with ``before`` (a :func:`snapshot`
    taken before the step) also that each lab's cash changed by revenue + investment - costs,
    each investor's capital by commitments - investment, and that the money invested in each
    lab equals the money it received.

    Money is float64 whole cents, so the money balances are exact while the amounts are small
    and rounded beyond: a balance passes when |difference| <= tolerance, elementwise, with
    magnitude M the sum of the absolute values of the amounts it involves (stocks before and
    after, flows). The tolerance is 0 when M <= 2**53 cents (about 9e13 USD): there every
    partial sum is a whole number float64 holds exactly, so the books must balance to the
    cent. Above, it is 8 n eps M, with eps the float64 machine epsilon (about 2.2e-16) and n
    the most amounts summed into one of them (1 for a lab's cash; the number of labs for an
    investor's holdings; the number of investors for a lab's holdings); this bounds the
    round-off of the model's and the audit's own additions, and is far below any real error
    (a relative 1e-6 fails).
    """
    labs, investors = model.lab_state, model.investor_state
    problems = _stock_problems(labs) + _stock_problems(investors)
    researchers = model.researcher_state
    books = researchers.initial + researchers.entrants_total - researchers.exits_total
    if researchers.initial != model.config.talent.n_researchers or (
        researchers.active_count != books
    ):
        problems.append("researchers in the field differ from start + entrants - exits")
    if np.any(researchers.employer[~researchers.in_field] >= 0):
        problems.append("a researcher out of the field has an employer")
    if int(labs.headcount.sum()) != np.count_nonzero(researchers.employer >= 0):
        problems.append("lab headcounts do not add up to employed researchers")
    if before is not None:
        with np.errstate(invalid="ignore", over="ignore"):  # NaN or inf money: reported as off
            problems += _balance_problems(model, before)
    return problems


def _balance_problems(model: AIRaceModel, before: dict[str, dict[str, np.ndarray]]) -> list[str]:
    """The money balances of :func:`audit` across a step (``before``: a :func:`snapshot`)."""
    labs, investors = model.lab_state, model.investor_state
    problems = []
    cash_before = before["lab_state"]["cash_cents"]
    inflow = labs.revenue_cents + labs.investment_cents
    outflow = labs.salaries_cents + labs.inference_cents + labs.capex_cents
    outflow = outflow + labs.relocation_cents
    balance = (labs.cash_cents - cash_before) - (inflow - outflow)
    terms = [labs.cash_cents, cash_before, labs.revenue_cents, labs.investment_cents]
    terms += [labs.salaries_cents, labs.inference_cents, labs.capex_cents]
    if money_differs(balance, [*terms, labs.relocation_cents]):
        problems.append("lab cash changed by other than revenue + investment - costs")
    was = before["investor_state"]
    holdings = investors.holdings_cents
    by_investor = holdings.sum(axis=1)
    invested = by_investor - was["holdings_by_investor"]
    capital = was["capital_cents"] + investors.commitments_cents - invested
    terms = [
        investors.capital_cents,
        was["capital_cents"],
        investors.commitments_cents,
        by_investor,
        was["holdings_by_investor"],
    ]
    if money_differs(investors.capital_cents - capital, terms, summed=labs.size):
        problems.append("investor capital changed by other than commitments - investment")
    by_lab = holdings.sum(axis=0)
    received = by_lab - was["holdings_by_lab"]
    terms = [by_lab, was["holdings_by_lab"], labs.investment_cents]
    if money_differs(received - labs.investment_cents, terms, summed=investors.size):
        problems.append("money invested differs from money received by labs")
    return problems

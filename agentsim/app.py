"""The interactive app (``agentsim viz``): two scenarios side by side on common random numbers.

This module owns the A/B page and everything behind it:

- :class:`Side`: one side's scenario, the levers moved from the scenario's values and any
  ``KEY=VALUE`` settings typed into the page; :meth:`Side.config` validates them as the CLI
  does (a :class:`~agentsim.config.ConfigError` carries the same one-line message);
- :class:`ABPair`: the two models, A and B, on one seed, stepped together (with the same
  levers they are identical step by step; a change on one side rebuilds only that side and
  replays it to the current month);
- :class:`PairedEnsemble`: the pair on N paired seeds in the background, planned by
  :func:`agentsim.ensemble.plan_comparison` (the seeds of ``agentsim compare --runs N``) and run
  by :func:`agentsim.ensemble.run_batch` on the package's executors (a
  :class:`~agentsim.executors.ProcessPool` by default) into a temporary folder, one pair per
  chunk, so the median difference B - A and its 90% band grow as pairs finish;
- :class:`Session`: what one open page holds (the pair, the sides, play, the ensemble) and
  :class:`Snapshot`, the immutable state the page draws;
- the live charts (ECharts options: :func:`series_option`, every key series in one chart, built
  from :func:`ab_option` and :func:`difference_option`; :func:`network_option`), drawn by
  :class:`LiveChart`; the exports (:func:`ab_figure`, :func:`view_command`,
  :meth:`Session.export_zip`) and the lever controls generated from the schema
  (:func:`slider_range`, :func:`lever_control`);
- :func:`Page`, the Solara page that ``solara run agentsim.app`` serves.

The page is written with Solara components directly rather than with Mesa's ``SolaraViz``:
SolaraViz drives one model (its controller steps, plays and resets ``model.value``, and each of
its components takes that one model), while this page steps two models with one play, step and
reset, and runs a background ensemble beside them. It reuses Mesa's ``UserInputs`` for the
levers, from the same control dicts SolaraViz takes (:func:`lever_control`). Live charts are
ECharts, drawn in the browser by :class:`LiveChart` (``live_chart.vue``: the option arrives as
JSON text, and a step replaces only the series; the script is the one ``solara.FigureEcharts``
uses, served locally by ``solara-assets``, so the page works offline); exported figures are
matplotlib, in PNG and PDF.

The scenarios come from ``AGENTSIM_VIZ_CONFIG`` (A) and ``AGENTSIM_VIZ_CONFIG_B`` (B), each a
path or a shipped scenario's name; A defaults to the calibrated baseline shipped with the
package and B to a copy of A. ``AGENTSIM_VIZ_SEED`` sets the seed and ``AGENTSIM_VIZ_WORKERS``
the ensemble's worker processes. Run with ``agentsim viz [A] [B] [--seed N]``.

Exports are downloads (``solara.FileDownload``): each side's scenario YAML (``a.yaml``,
``b.yaml``: the resolved config with its levers, which ``agentsim run`` reproduces with
``--seed``), the A/B figure in PNG and PDF, and a zip with both YAML files, the A/B and
network figures (PNG and PDF), the plotted series as CSV and ``command.txt``, the command
lines that reproduce the view and the ensemble.
"""

from __future__ import annotations

import contextlib
import functools
import html
import io
import json
import math
import os
import shutil
import tempfile
import textwrap
import threading
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ipyvuetify
import numpy as np
import pandas as pd
import reacton.core
import solara
import traitlets
from matplotlib.figure import Figure
from mesa.visualization.solara_viz import UserInputs

from agentsim import observe
from agentsim.config import LEVERS, Config, ConfigError, ParameterSpec, parameter_spec
from agentsim.ensemble import check_same_clock, plan_comparison, run_batch
from agentsim.figures import JURISDICTION_COLOURS, STYLE, network_snapshot
from agentsim.model import AIRaceModel
from agentsim.scenario_io import (
    DEFAULT_SCENARIO,
    SCENARIO_DIR,
    config_to_dict,
    dump_config,
    load_config,
    scenario_path,
    shipped_scenarios,
)

#: About how many positions a slider has between its ends (sets the step).
SLIDER_POSITIONS = 1000
#: Paired seeds of the background ensemble unless the page says otherwise.
DEFAULT_SEEDS = 20
#: Milliseconds between steps while playing, unless the page says otherwise.
DEFAULT_PLAY_INTERVAL_MS = 100
#: Least seconds between drawings of the world (charts, networks, labs) while playing, from
#: the start of play: the months in between reach the page with the next drawing, and the
#: last month is drawn as soon as play stops. The run controls are redrawn at once.
PLAY_PAINT_S = 0.25
#: Least seconds between redraws for the paired seeds' progress (the last is always drawn).
ENSEMBLE_PAINT_S = 1.0
#: The two sides, in order.
SIDES = ("A", "B")

#: Puts each slider's label (a parameter's description, often long) on its own line above
#: the slider, so the slider keeps the panel's full width.
CONTROL_CSS = """
.ab-labs { border-collapse: collapse; font-size: 12px; width: 100%; }
.ab-labs th, .ab-labs td { padding: 2px 6px; border-bottom: 1px solid #ddd; text-align: right; }
.ab-labs th:first-child, .ab-labs td:first-child { text-align: left; }
.v-input__slider .v-input__slot { flex-wrap: wrap; }
.v-input__slider .v-input__slot > .v-label {
  flex: 1 0 100%; max-width: 100%; white-space: normal; height: auto; margin: 0 0 4px 0;
}
"""

US_COLOUR = JURISDICTION_COLOURS["US"]
NON_US_COLOUR = JURISDICTION_COLOURS["CN"]


# --------------------------------------------------------------------------- controls


def _nice_step(span: float, integer: bool) -> float:
    """A power of ten near ``span / SLIDER_POSITIONS`` (at least 1 for integers)."""
    step = 10.0 ** math.floor(math.log10(span / SLIDER_POSITIONS)) if span > 0 else 1.0
    return max(1, int(step)) if integer else step


def slider_range(spec: ParameterSpec, value: float | None = None) -> tuple[float, float, float]:
    """Display range ``(min, max, step)`` of a numeric parameter's slider.

    The one place where display ranges are chosen:

    - a closed bound (``ge``/``le``) is the slider's end;
    - an absent lower bound is 0, or ten times the value when that is negative; an absent
      upper bound is ten times the larger of the value and 1 above the lower end (the value
      is the scenario's, else the schema default);
    - the step is the power of ten nearest below a thousandth of the span (at least 1 for
      integers);
    - an open bound (``gt``/``lt``) is moved inward by one step, so the slider never offers
      the excluded value;
    - with a value, the step is made finer (by powers of ten) until the value lies on the
      slider's grid (the lower end plus whole steps): a slider snaps to its grid when it
      appears, and must not move the scenario's value.

    Every value the slider offers is thus inside the schema's bounds.
    """
    integer = spec.type is int
    ref = float(spec.default if value is None else value)
    low = spec.lower if spec.lower is not None else min(0.0, 10 * ref)
    if spec.upper is not None:
        high = spec.upper
    else:
        high = max(10 * max(ref, 1.0), low + 1.0)
    step = _nice_step(high - low, integer)
    if spec.lower is not None and not spec.lower_inclusive:
        low += step
    if spec.upper is not None and not spec.upper_inclusive:
        high -= step
    if integer:
        low, high = math.ceil(low), math.floor(high)
    if value is not None and low <= value <= high:
        step = _grid_step(float(value), low, step, integer, high - low)
    return low, high, step


def _grid_step(value: float, low: float, step: float, integer: bool, span: float) -> float:
    """``step``, or a power of ten below it that puts ``value`` on the slider's grid (``low``
    plus whole steps), so a slider never moves the scenario's value when it appears (it snaps
    to its grid); at least 1 for integers, at least a trillionth of the span otherwise."""
    finest = 1 if integer else span * 1e-12
    while step > finest:
        steps = (value - low) / step
        if abs(steps - round(steps)) * step <= 1e-9 * max(1.0, abs(value)):
            break
        step = max(1, int(step) // 10) if integer else step / 10
    return step


def control_label(spec: ParameterSpec) -> str:
    """A control's label: the parameter's description with its unit."""
    text = spec.description.rstrip(".")
    return text if spec.unit in ("-", "") else f"{text} ({spec.unit})"


def _value_at(config: Config, path: str) -> Any:
    node: Any = config
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def lever_control(spec: ParameterSpec, value: Any) -> dict[str, Any]:
    """The control of one lever (a Mesa ``UserInputs`` dict): a checkbox for a switch, else a
    slider whose range comes from the schema (:func:`slider_range`)."""
    if spec.type is bool:
        return {"type": "Checkbox", "value": bool(value), "label": control_label(spec)}
    low, high, step = slider_range(spec, value)
    integer = spec.type is int
    shown = min(max(value, low), high)
    return {
        "type": "SliderInt" if integer else "SliderFloat",
        "value": int(shown) if integer else float(shown),
        "min": low,
        "max": high,
        "step": step,
        "label": control_label(spec),
    }


def lever_controls(config: Config, scenario: str | Path) -> dict[str, Any]:
    """Model parameters in Mesa's form: the scenario (fixed), the seed and one control per
    lever (the page shows the levers of each side and the seed)."""
    params: dict[str, Any] = {
        "config": str(scenario),
        "rng": {"type": "SliderInt", "value": 0, "min": 0, "max": 999, "step": 1, "label": "Seed"},
    }
    for name, path in LEVERS.items():
        params[name] = lever_control(parameter_spec(path), _value_at(config, path))
    return params


def lab_table(model: AIRaceModel) -> pd.DataFrame:
    """The labs now, one row each, for the table and the network view."""
    return pd.DataFrame(
        [
            {
                "step": model.steps,
                "lab": lab.name,
                "jurisdiction": lab.jurisdiction,
                "capability": round(lab.capability, 2),
                "public": round(lab.public_capability, 2),
                "state": lab.release_state.name.lower(),
                "users (M)": round(lab.users / 1e6, 1),
                "revenue ($M/mo)": round(lab.revenue / 1e6, 1),
                "cash ($B)": round(lab.cash / 1e9, 1),
                "researchers": lab.researchers,
                "active": lab.active,
            }
            for lab in model.labs
        ]
    )


# --------------------------------------------------------------------------- sides


def page_scenario(scenario: str | Path | None = None) -> Path:
    """Scenario A of the page: ``scenario``, else ``AGENTSIM_VIZ_CONFIG``, else the shipped
    baseline; a shipped scenario's bare name is resolved to its file."""
    return scenario_path(scenario or os.environ.get("AGENTSIM_VIZ_CONFIG") or DEFAULT_SCENARIO)


def page_scenarios() -> tuple[Path, Path]:
    """Scenarios A and B of the page: B is ``AGENTSIM_VIZ_CONFIG_B``, else a copy of A."""
    a = page_scenario()
    b = os.environ.get("AGENTSIM_VIZ_CONFIG_B")
    return a, scenario_path(b) if b else a


def parse_settings(text: str) -> tuple[str, ...]:
    """``KEY=VALUE`` settings typed into a side's field, separated by ``;`` or new lines, as
    ``--set`` expressions; a lever's name (:data:`LEVERS`) stands for its dotted key."""
    settings = []
    for piece in text.replace("\n", ";").split(";"):
        piece = piece.strip()
        if not piece:
            continue
        key, sep, value = piece.partition("=")
        key = key.strip()
        settings.append(f"{LEVERS.get(key, key)}{sep}{value.strip()}" if sep else piece)
    return tuple(settings)


@dataclass(frozen=True)
class Side:
    """One side of the A/B view: a scenario file, the levers moved from its values (name,
    value pairs, in :data:`LEVERS` order) and ``--set`` expressions, applied in that order."""

    scenario: str
    levers: tuple[tuple[str, Any], ...] = ()
    settings: tuple[str, ...] = ()

    def config(self) -> Config:
        """The side's validated config; raises :class:`ConfigError` as ``agentsim run FILE
        --set ...`` would."""
        overrides = {LEVERS[name]: value for name, value in self.levers}
        return load_config(self.scenario, overrides=overrides, assignments=self.settings)

    def with_lever(self, name: str, value: Any) -> Side:
        """This side with one lever moved."""
        levers = dict(self.levers)
        levers[name] = value
        ordered = tuple((key, levers[key]) for key in LEVERS if key in levers)
        return replace(self, levers=ordered)


def lever_values(config: Config) -> dict[str, Any]:
    """The config's value of every lever."""
    return {name: _value_at(config, path) for name, path in LEVERS.items()}


def scenario_choices(*given: str | Path) -> dict[str, str]:
    """The page's scenario menu: label -> file. Files given on the command line first (a
    shipped scenario is labelled by its name, another file by its path), then every shipped
    scenario."""
    shipped = {name: str(SCENARIO_DIR / f"{name}.yaml") for name in shipped_scenarios()}
    choices: dict[str, str] = {}
    for path in given:
        choices.setdefault(scenario_label(path), str(path))
    for name, path in shipped.items():
        choices.setdefault(name, path)
    return choices


def scenario_label(path: str | Path) -> str:
    """A scenario file's label in the menu: a shipped scenario's name, else the path."""
    path = Path(path)
    shipped = SCENARIO_DIR / path.name
    try:
        if path.suffix == ".yaml" and shipped.is_file() and shipped.samefile(path):
            return path.stem
    except OSError:
        pass
    return str(path)


# --------------------------------------------------------------------------- the pair


class ABPair:
    """Models A and B on one seed (common random numbers), stepped together.

    With equal configs the two are identical step by step. :meth:`replace` rebuilds one side
    from step 0 and replays it to the current month, so the other side's model (and series)
    is untouched. Both sides run on one clock (:func:`agentsim.ensemble.check_same_clock`).
    """

    def __init__(self, config_a: Config, config_b: Config, seed: int = 0) -> None:
        check_same_clock({"A": config_a, "B": config_b}, "B")
        self.configs = {"A": config_a, "B": config_b}
        self.seed = seed
        self.models = {side: AIRaceModel(self.configs[side], rng=seed) for side in SIDES}
        #: Counts every change of the models (steps, resets, a side replaced).
        self.changes = 0

    @property
    def steps(self) -> int:
        """Months stepped so far (the same on both sides)."""
        return self.models["A"].steps

    @property
    def horizon(self) -> int:
        """Months in the run (``simulation.steps``, shared by both sides)."""
        return self.configs["A"].simulation.steps

    def step(self) -> None:
        """Step both models one month (A first, then B; the two share no state)."""
        try:
            for side in SIDES:
                self.models[side].step()
        finally:  # counted even when B failed after A stepped
            self.changes += 1

    def reset(self, seed: int | None = None) -> None:
        """Both models back to step 0 (on ``seed`` when given)."""
        if seed is not None:
            self.seed = seed
        self.models = {side: AIRaceModel(self.configs[side], rng=self.seed) for side in SIDES}
        self.changes += 1

    def reseed(self, seed: int) -> None:
        """Both models on ``seed``, replayed to the current month."""
        steps = self.steps
        self.reset(seed)
        for _ in range(steps):
            self.step()

    def replace(self, side: str, config: Config) -> None:
        """Side ``side`` on ``config``, replayed to the current month; the other side is left
        as it is. Raises :class:`ConfigError` for a config on another clock."""
        other = "B" if side == "A" else "A"
        check_same_clock({other: self.configs[other], side: config}, side)
        model = AIRaceModel(config, rng=self.seed)
        for _ in range(self.steps):
            model.step()
        self.configs[side] = config
        self.models[side] = model
        self.changes += 1

    def frames(self) -> dict[str, pd.DataFrame]:
        """Each side's model frame (:func:`agentsim.observe.model_frame`) so far."""
        return {side: observe.model_frame(model) for side, model in self.models.items()}


# --------------------------------------------------------------------------- key series


@dataclass(frozen=True)
class Panel:
    """One key series of the view: title, unit, scale and its columns with their labels."""

    key: str
    title: str
    unit: str
    columns: tuple[tuple[str, str], ...]
    scale: float = 1.0
    share: bool = False


#: The key series: each drawn as A and B on one chart and B - A on a second.
PANELS = (
    Panel(
        "frontier",
        "Frontier capability",
        "log10 FLOP",
        (("frontier_capability_us", "US"), ("frontier_capability_non_us", "non-US")),
    ),
    Panel("users", "US share of users", "0-1", (("us_user_share", "US"),), share=True),
    Panel("revenue", "US share of revenue", "0-1", (("us_revenue_share", "US"),), share=True),
    Panel("capital", "US share of capital", "0-1", (("us_capital_share", "US"),), share=True),
    Panel("talent", "US share of talent", "0-1", (("us_talent_share", "US"),), share=True),
    Panel(
        "rd",
        "R&D spend",
        "$B/month",
        (("us_rd_spend", "US"), ("non_us_rd_spend", "non-US")),
        scale=1e-9,
    ),
)
#: Every column the panels draw, in order.
KEY_COLUMNS = tuple(column for panel in PANELS for column, _ in panel.columns)


def _colour(label: str) -> str:
    return US_COLOUR if label == "US" else NON_US_COLOUR


def _plain(values: Any, scale: float = 1.0) -> list[float | None]:
    """Floats for a chart (None where undefined: JSON has no NaN)."""
    out: list[float | None] = []
    for value in values:
        number = None if value is None else float(value) * scale
        out.append(number if number is not None and math.isfinite(number) else None)
    return out


@functools.lru_cache(maxsize=16)
def _month_labels(start: Any, horizon: int) -> tuple[str, ...]:
    """Months 0 to ``horizon`` of a run starting at ``start``, as ``YYYY-MM``."""
    return tuple(observe.month_dates(start, horizon).strftime("%Y-%m"))


def _recorded(model: AIRaceModel, column: str) -> list[Any]:
    """A model column as recorded so far, month 0 first (the model frame's column, read from
    the data collector without building the frame)."""
    return model.datacollector.model_vars[column]


def _difference(a: list[float | None], b: list[float | None]) -> list[float | None]:
    return [None if x is None or y is None else y - x for x, y in zip(a, b, strict=True)]


# --------------------------------------------------------------------------- ensemble


class _Stopped(BaseException):
    """Raised in the ensemble's thread to stop its batch (as an interrupt stops a batch)."""


class _Watched:
    """An executor that hands each finished chunk to ``on_chunk`` on its way to the batch."""

    def __init__(self, inner: Any, on_chunk: Callable[[Any], None]) -> None:
        self.inner = inner
        self.on_chunk = on_chunk
        self.workers = getattr(inner, "workers", 1)

    def __enter__(self) -> _Watched:
        self.inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.__exit__(*exc)

    def imap_unordered(self, fn: Callable[..., Any], chunks: Any, **options: Any) -> Iterator[Any]:
        """The inner executor's results, each shown to ``on_chunk`` first."""
        results = self.inner.imap_unordered(fn, chunks, **options)
        try:
            for result in results:
                self.on_chunk(result)
                yield result
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()


@dataclass(frozen=True)
class EnsembleStatus:
    """Where a paired ensemble stands: pairs planned and finished, failed runs, the band of
    B - A so far (column -> (median, 5%, 95%) per month) and whether it ended or failed."""

    pairs: int
    done: int
    failed: int
    band: dict[str, tuple[list, list, list]] | None
    running: bool
    error: str | None = None
    stopped: bool = False
    seconds: float | None = None


class PairedEnsemble:
    """Sides A and B on ``pairs`` paired seeds, run in the background.

    The plan is :func:`agentsim.ensemble.plan_comparison` of the two configs (B renamed
    ``NAME_B`` when both have one name, as ``agentsim compare`` does), with the root seed of
    the view, so its seeds are those of ``agentsim compare A B --runs PAIRS --seed SEED``.
    :func:`agentsim.ensemble.run_batch` runs it on ``executor`` (default: a
    :class:`~agentsim.executors.ProcessPool` of ``workers``) into a temporary folder that is
    removed at the end, one pair per chunk, so each finished chunk adds one paired difference.
    :meth:`stop` ends it at the next finished pair: the executor is left on an exception, which
    kills its workers without waiting for their chunks.

    Raises :class:`ConfigError` for sides that are the same scenario apart from the name,
    ``pairs`` that is not a whole number >= 1, or a plan :func:`plan_comparison` refuses.
    """

    def __init__(
        self,
        config_a: Config,
        config_b: Config,
        pairs: int,
        root_seed: int,
        *,
        workers: int | None = None,
        executor: Any = None,
        on_update: Callable[[bool], None] | None = None,
    ) -> None:
        a, b = config_to_dict(config_a), config_to_dict(config_b)
        if {**a, "name": ""} == {**b, "name": ""}:  # in the page's words, not compare's
            raise ConfigError(
                "paired seeds",
                "A and B are the same scenario (apart from the name), so every difference "
                "B - A would be 0; change a lever, a setting or the scenario of one side first",
            )
        if isinstance(pairs, bool) or not isinstance(pairs, int) or pairs < 1:
            raise ConfigError("seeds", f"must be a whole number >= 1 (got {pairs!r})")
        name_a, name_b = a.get("name", "A"), b.get("name", "B")
        if name_a == name_b:
            b = {**b, "name": f"{name_b}_B"}
        self.names = (name_a, b["name"])
        self.plan = plan_comparison({name_a: a, b["name"]: b}, pairs, root_seed)
        # A and B of each seed next to each other: a chunk of two is one pair
        self.plan.specs.sort(key=lambda spec: (spec.replicate, spec.point))
        self.pairs = pairs
        if executor is None:
            from agentsim.executors import ProcessPool

            executor = ProcessPool(workers)
        self.executor = executor
        self.on_update = on_update or (lambda final: None)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._diffs: dict[int, np.ndarray] = {}
        self._done = 0
        self._failed = 0
        self._error: str | None = None
        self._stopped = False
        self._started: float | None = None
        self._seconds: float | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the batch in a background (daemon) thread."""
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="paired-ensemble", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the batch at its next finished pair (its workers are killed then); wait up to
        ``timeout`` seconds for the thread to end (None: do not wait)."""
        self._stop.set()
        if timeout is not None and self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """Whether the batch's thread is still running."""
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        """Run the batch in this thread (what :meth:`start` runs in the background)."""
        self._started = self._started or time.perf_counter()
        self._run()

    def _run(self) -> None:
        folder = Path(tempfile.mkdtemp(prefix="agentsim-ab-"))
        try:
            run_batch(self.plan, folder, _Watched(self.executor, self._take), chunk_size=2)
        except _Stopped:
            with self._lock:
                self._stopped = True
        except Exception as exc:  # shown in the page, one line
            with self._lock:
                self._error = f"{exc.__class__.__name__}: {exc}".splitlines()[0][:300]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            with self._lock:
                self._seconds = time.perf_counter() - (self._started or time.perf_counter())
            self.on_update(True)

    def _take(self, chunk: Any) -> None:
        """Record a finished chunk's pairs (its time series), or stop if asked to."""
        if self._stop.is_set():
            raise _Stopped
        frame = pd.read_parquet(io.BytesIO(chunk.part))
        present = set(frame["run_id"].unique().tolist()) if len(frame) else set()
        series: dict[tuple[int, int], np.ndarray] = {}
        for run_id, rows in frame.groupby("run_id", sort=False) if len(frame) else ():
            rows = rows.sort_values("step")
            point, replicate = divmod(int(run_id), self.pairs)
            series[(replicate, point)] = rows[list(KEY_COLUMNS)].to_numpy(dtype=float)
        replicates = {int(run_id) % self.pairs for run_id in chunk.run_ids}
        with self._lock:
            self._failed += sum(run_id not in present for run_id in chunk.run_ids)
            for replicate in replicates:
                a, b = series.get((replicate, 0)), series.get((replicate, 1))
                if a is not None and b is not None and a.shape == b.shape:
                    self._diffs[replicate] = b - a
                self._done += 1
        self.on_update(False)

    def status(self) -> EnsembleStatus:
        """Where the batch stands now."""
        with self._lock:
            diffs = list(self._diffs.values())
            done, failed, error = self._done, self._failed, self._error
            stopped, seconds = self._stopped, self._seconds
        return EnsembleStatus(
            pairs=self.pairs,
            done=done,
            failed=failed,
            band=difference_band(diffs) if diffs else None,
            running=self.running,
            error=error,
            stopped=stopped,
            seconds=seconds,
        )


def difference_band(diffs: list[np.ndarray]) -> dict[str, tuple[list, list, list]]:
    """Median and 90% band (5% and 95% quantiles) over pairs of B - A, per month and key
    column: column -> (median, low, high), each a list over months (None where undefined).

    ``diffs`` holds one (months, len(KEY_COLUMNS)) array per pair.
    """
    stack = np.stack(diffs)
    with warnings.catch_warnings():  # a month where no pair is defined stays undefined
        warnings.simplefilter("ignore", RuntimeWarning)
        median, low, high = np.nanquantile(stack, [0.5, 0.05, 0.95], axis=0)
    return {
        column: (_plain(median[:, i]), _plain(low[:, i]), _plain(high[:, i]))
        for i, column in enumerate(KEY_COLUMNS)
    }


# --------------------------------------------------------------------------- session


@dataclass(frozen=True, eq=False)
class Snapshot:
    """What the page draws, taken at one moment (never the live models themselves)."""

    step: int
    horizon: int
    seed: int
    dates: tuple[str, ...]
    names: dict[str, str]
    sides: dict[str, Side]
    values: dict[str, dict[str, Any]]
    series: dict[str, dict[str, list[float | None]]]
    labs: dict[str, pd.DataFrame]
    edges: dict[str, pd.DataFrame]
    playing: bool = False
    error: str | None = None
    seeds: int = DEFAULT_SEEDS
    ensemble: EnsembleStatus | None = None
    ensemble_note: str | None = None
    choices: dict[str, str] = field(default_factory=dict)
    world: int = 0  # the pair's count of changes (see :attr:`ABPair.changes`)


class Session:
    """What one open page holds: the sides, the pair, play, the paired ensemble.

    Every change goes through a method here; a change the config rejects leaves the last good
    world in place and sets :attr:`error` (the :class:`ConfigError`'s one line, as the CLI
    prints it). ``notify(snapshot, world)`` (set by :meth:`connect`) is called from a painter
    thread with the latest :class:`Snapshot` after changes, so a slow page drops frames instead
    of holding the models back; while playing, at most every :data:`PLAY_PAINT_S` seconds from
    the start of play, and once more when play stops. ``world`` says whether to draw the world
    too (charts, networks, labs) or the controls only (when play starts: from the page's own
    thread, before the models step).
    :meth:`close` stops play and the ensemble.
    """

    def __init__(
        self,
        side_a: Side,
        side_b: Side,
        seed: int = 0,
        *,
        workers: int | None = None,
        choices: dict[str, str] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.sides = {"A": side_a, "B": side_b}
        self.pair = ABPair(side_a.config(), side_b.config(), seed)
        self.workers = workers
        self.choices = choices or scenario_choices(side_a.scenario, side_b.scenario)
        self.error: str | None = None
        self.playing = False
        self.interval_s = DEFAULT_PLAY_INTERVAL_MS / 1000
        self.seeds = DEFAULT_SEEDS
        self.ensemble: PairedEnsemble | None = None
        self.ensemble_note: str | None = None
        self._notify: Callable[[Snapshot, bool], None] | None = None
        self._drawing = threading.Lock()
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._still = threading.Event()  # set while not playing
        self._still.set()
        self._next_world = -math.inf  # while playing: when to draw the world next
        self._player: threading.Thread | None = None
        self._ensemble_painted = -math.inf

    @classmethod
    def from_environment(cls) -> Session:
        """The session of a new page: scenarios from :func:`page_scenarios`, the seed from
        ``AGENTSIM_VIZ_SEED`` (default 0), workers from ``AGENTSIM_VIZ_WORKERS``."""
        a, b = page_scenarios()
        seed = int(os.environ.get("AGENTSIM_VIZ_SEED") or 0)
        workers = (
            int(os.environ["AGENTSIM_VIZ_WORKERS"])
            if os.environ.get("AGENTSIM_VIZ_WORKERS")
            else None
        )
        return cls(Side(str(a)), Side(str(b)), seed, workers=workers)

    # ---------------------------------------------------------------- drawing

    def connect(self, notify: Callable[[Snapshot, bool], None]) -> None:
        """Send snapshots to ``notify(snapshot, world)`` from now on (from a painter thread;
        see the class's docstring)."""
        self._notify = notify
        threading.Thread(target=self._paint, name="ab-painter", daemon=True).start()

    def _paint(self) -> None:
        while not self._closed.is_set():
            if not self._dirty.wait(0.5):
                continue
            if self.playing:  # leave the cores to the models until the next drawing
                self._still.wait(max(self._next_world - time.monotonic(), 0.0))
            self._dirty.clear()
            if self._closed.is_set():
                break
            snapshot = self._draw(world=True)
            if snapshot is not None and snapshot.playing:
                self._next_world = time.monotonic() + PLAY_PAINT_S

    def _draw(self, world: bool) -> Snapshot | None:
        """Send the page a snapshot now (``world``: the charts too); the snapshot sent."""
        if self._notify is None:
            return None
        with self._drawing:  # one drawing at a time (the painter's, or play's)
            snapshot = self.snapshot(world)
            try:
                self._notify(snapshot, world)
            except Exception as exc:  # a page that went away mid-render
                if not self._closed.is_set():
                    self.error = f"the page could not be drawn ({exc.__class__.__name__}: {exc})"
        return snapshot

    def _touch(self) -> None:
        self._dirty.set()

    def snapshot(self, world: bool = True) -> Snapshot:
        """The state the page draws now; without the ``world`` (series, labs and network
        ties left empty) for a drawing of the controls only."""
        with self.lock:
            pair = self.pair
            models = pair.models if world else {}
            snapshot = Snapshot(
                step=pair.steps,
                horizon=pair.horizon,
                seed=pair.seed,
                dates=_month_labels(pair.configs["A"].simulation.start, pair.horizon),
                names={side: pair.configs[side].name for side in SIDES},
                sides=dict(self.sides),
                values={side: lever_values(pair.configs[side]) for side in SIDES},
                series={
                    side: {column: _plain(_recorded(model, column)) for column in KEY_COLUMNS}
                    for side, model in models.items()
                },
                labs={side: lab_table(model) for side, model in models.items()},
                edges={side: model.network_snapshot() for side, model in models.items()},
                playing=self.playing,
                error=self.error,
                seeds=self.seeds,
                ensemble=None if self.ensemble is None else self.ensemble.status(),
                ensemble_note=self.ensemble_note,
                choices=dict(self.choices),
                world=pair.changes,
            )
        return snapshot

    # ---------------------------------------------------------------- run controls

    def step(self) -> None:
        """Step both sides one month (nothing at the horizon)."""
        with self.lock:
            if self.pair.steps < self.pair.horizon:
                self._guarded(self.pair.step)
        self._touch()

    def _guarded(self, action: Callable[[], None]) -> bool:
        try:
            action()
        except Exception as exc:  # the model failed: say so, stop playing, keep the page
            self.error = f"the model stopped: {exc.__class__.__name__}: {exc}".splitlines()[0]
            self.playing = False
            return False
        return True

    def reset(self) -> None:
        """Both sides back to month 0 (play stops)."""
        self.pause()
        with self.lock:
            self.pair.reset()
            self.error = None
        self._touch()

    def play(self) -> None:
        """Step both sides every play interval until the horizon or :meth:`pause`."""
        with self.lock:
            if self.playing or self.pair.steps >= self.pair.horizon:
                return
            self.playing = True
            self._still.clear()
            self._next_world = time.monotonic() + PLAY_PAINT_S
        self._draw(world=False)  # the pause button, before the models take the cores
        with self.lock:
            self._player = threading.Thread(target=self._play, name="ab-play", daemon=True)
            self._player.start()

    def _play(self) -> None:
        while self.playing and not self._closed.is_set():
            with self.lock:
                if not self.playing:
                    break
                if self.pair.steps >= self.pair.horizon or not self._guarded(self.pair.step):
                    self.playing = False
                    break
            self._touch()
            if self.interval_s > 0:
                self._closed.wait(self.interval_s)
            else:
                time.sleep(0)  # let the painter in
        self._touch()  # before the painter wakes: one drawing of the last month, not two
        self._still.set()

    def pause(self) -> None:
        """Stop playing (the current step finishes)."""
        with self.lock:
            self.playing = False
            player = self._player
        self._still.set()
        if player is not None and player is not threading.current_thread():
            player.join(timeout=30)
        self._touch()

    def set_interval(self, milliseconds: int) -> None:
        """Milliseconds between steps while playing."""
        self.interval_s = max(0, int(milliseconds)) / 1000

    # ---------------------------------------------------------------- changes

    def set_seed(self, seed: Any) -> None:
        """Both sides on ``seed``, replayed to the current month; a seed that is not a
        non-negative integer is refused (the page keeps the last good world)."""
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            self._refuse(f"seed: must be a whole number >= 0 (got {seed!r})")
            return
        model_seed = AIRaceModel(self.pair.configs["A"], rng=seed).seed
        with self.lock:
            if self._guarded(lambda: self.pair.reseed(model_seed)):
                self.error = None
            self._stale("the seed changed")
        self._touch()

    def set_lever(self, side: str, name: str, value: Any) -> None:
        """Move one lever of one side (the other side is left as it is)."""
        self._apply(side, self.sides[side].with_lever(name, value))

    def set_settings(self, side: str, text: str) -> None:
        """Set one side's ``KEY=VALUE`` settings (``;`` or new lines between them)."""
        self._apply(side, replace(self.sides[side], settings=parse_settings(text)))

    def set_scenario(self, side: str, choice: str) -> None:
        """Put a scenario (a menu label or a path) on one side, with its own levers."""
        path = self.choices.get(choice, choice)
        try:
            path = str(scenario_path(path))
        except ConfigError as exc:
            self._refuse(str(exc))
            return
        self._apply(side, Side(path))

    def _apply(self, side: str, new: Side) -> None:
        try:
            config = new.config()
            with self.lock:
                self.pair.replace(side, config)
        except ConfigError as exc:
            self._refuse(str(exc))
            return
        except Exception as exc:  # the model cannot run it: say so, keep the last world
            reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0][:300]
            self._refuse(f"{new.scenario}: the model cannot start from this scenario ({reason})")
            return
        with self.lock:
            self.sides[side] = new
            self.error = None
            self._stale(f"side {side} changed")
        self._touch()

    def _refuse(self, message: str) -> None:
        with self.lock:
            self.error = message
        self._touch()

    # ---------------------------------------------------------------- ensemble

    def set_seeds(self, seeds: Any) -> None:
        """Paired seeds of the next ensemble; anything but a whole number >= 1 is refused (the
        ensemble refuses a plan too large when it starts)."""
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
            self._refuse(f"seeds: must be a whole number >= 1 (got {seeds!r})")
            return
        with self.lock:
            self.seeds = seeds
            self.error = None
        self._touch()

    def run_ensemble(self, executor: Any = None) -> None:
        """Start the paired ensemble of the current sides on :attr:`seeds` seeds (a running
        one is stopped first); a plan the package refuses is shown as the note."""
        self.stop_ensemble()
        with self.lock:
            try:
                ensemble = PairedEnsemble(
                    self.pair.configs["A"],
                    self.pair.configs["B"],
                    self.seeds,
                    self.pair.seed,
                    workers=self.workers,
                    executor=executor,
                    on_update=self._ensemble_changed,
                )
            except ConfigError as exc:
                self.ensemble, self.ensemble_note = None, str(exc)
                self._touch()
                return
            self.ensemble, self.ensemble_note = ensemble, None
            self._ensemble_painted = -math.inf
            ensemble.start()
        self._touch()

    def _ensemble_changed(self, final: bool) -> None:
        """A pair finished (or the ensemble ended): redraw, at most every
        :data:`ENSEMBLE_PAINT_S` seconds until the end, so drawing the band does not take the
        cores from the workers."""
        now = time.monotonic()
        if final or now - self._ensemble_painted >= ENSEMBLE_PAINT_S:
            self._ensemble_painted = now
            self._touch()

    def stop_ensemble(self, timeout: float | None = None) -> None:
        """Stop the running ensemble (its workers end at its next finished pair)."""
        with self.lock:
            ensemble = self.ensemble
        if ensemble is not None and ensemble.running:
            ensemble.stop(timeout)
            self._touch()

    def _stale(self, why: str) -> None:
        """The sides or the seed changed: the ensemble no longer describes them."""
        if self.ensemble is not None:
            self.ensemble.stop()
            self.ensemble = None
            self.ensemble_note = f"{why}: run the paired seeds again for the new sides"

    def close(self) -> None:
        """Stop play, the painter and the ensemble (the page went away)."""
        self._closed.set()
        self._dirty.set()
        self._still.set()
        with self.lock:
            self.playing = False
            ensemble = self.ensemble
        if ensemble is not None:
            ensemble.stop()

    # ---------------------------------------------------------------- exports

    def scenario_yaml(self, side: str) -> str:
        """The side's resolved scenario as YAML (levers and settings applied): ``agentsim run
        FILE --seed SEED`` reproduces the side's run."""
        with self.lock:
            return dump_config(self.pair.configs[side])

    def command(self) -> str:
        """The command lines that reproduce the view and the paired ensemble."""
        with self.lock:
            return view_command(self.pair.seed, self.seeds)

    def figure(self, fmt: str) -> bytes:
        """The A/B figure of the current snapshot as PNG or PDF bytes."""
        return _figure_bytes(ab_figure(self.snapshot()), fmt)

    def export_zip(self) -> bytes:
        """Everything the view exports, in one zip: a.yaml, b.yaml, command.txt, series.csv
        and the A/B and network figures in PNG and PDF."""
        snapshot = self.snapshot()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("a.yaml", self.scenario_yaml("A"))
            archive.writestr("b.yaml", self.scenario_yaml("B"))
            archive.writestr("command.txt", self.command())
            archive.writestr("series.csv", series_table(snapshot).to_csv(index=False))
            figures = {"ab_series": ab_figure(snapshot)}
            for side in SIDES:
                figures[f"network_{side.lower()}"] = network_snapshot(
                    snapshot.edges[side],
                    snapshot.labs[side],
                    title=f"{side}: {snapshot.names[side]}, network at step {snapshot.step}",
                )
            for stem, figure in figures.items():
                for fmt in ("png", "pdf"):
                    archive.writestr(f"{stem}.{fmt}", _figure_bytes(figure, fmt, close=False))
                _close(figure)
        return buffer.getvalue()


def prepare_workers() -> None:
    """Start the process pool's forkserver now, so the page's first paired ensemble does not
    wait for it to import the package (a server runs threads, so its pools start their workers
    from a forkserver: see :func:`agentsim.executors.start_method`). The forkserver is idle
    until a pool asks for workers and ends with the server."""
    import multiprocessing
    from multiprocessing import forkserver

    from agentsim.executors import PRELOAD, start_method

    if start_method() != "forkserver":
        return
    multiprocessing.get_context("forkserver").set_forkserver_preload([PRELOAD])
    with contextlib.suppress(OSError, ValueError):
        forkserver.ensure_running()


def view_command(seed: int, seeds: int = DEFAULT_SEEDS) -> str:
    """The command lines that reproduce the A/B view from the exported a.yaml and b.yaml,
    and its paired ensemble as a stored batch."""
    return (
        f"agentsim viz a.yaml b.yaml --seed {seed}\n"
        f"agentsim compare a.yaml b.yaml --runs {seeds} --seed {seed}\n"
    )


def series_table(snapshot: Snapshot) -> pd.DataFrame:
    """The plotted series: A, B and B - A of each key column, one row per month so far, and
    the ensemble's median and band of B - A where there is one (then a row per month of the
    horizon, as the page draws the band; A and B are empty after the current month)."""
    band = snapshot.ensemble.band if snapshot.ensemble is not None else None
    months = snapshot.horizon + 1 if band is not None else snapshot.step + 1
    data: dict[str, Any] = {"step": range(months), "date": snapshot.dates[:months]}
    for column in KEY_COLUMNS:
        a, b = snapshot.series["A"][column], snapshot.series["B"][column]
        later = [None] * (months - len(a))  # the months not stepped yet
        data[f"A_{column}"] = a + later
        data[f"B_{column}"] = b + later
        data[f"diff_{column}"] = _difference(a, b) + later
        if band is not None:
            for name, values in zip(("median", "p05", "p95"), band[column], strict=True):
                data[f"ensemble_{name}_{column}"] = values[:months]
    return pd.DataFrame(data)


# --------------------------------------------------------------------------- chart options


def _line(name: str, data: list, colour: str, dashed: bool = False, width: float = 2) -> dict:
    return {
        "name": name,
        "type": "line",
        "data": data,
        "showSymbol": sum(value is not None for value in data) == 1,  # month 0: a dot
        "connectNulls": False,
        "itemStyle": {"color": colour},
        "lineStyle": {"color": colour, "width": width, "type": "dashed" if dashed else "solid"},
    }


def _chart(title: str, panel: Panel, dates: tuple[str, ...], series: list[dict]) -> dict:
    legend = [s["name"] for s in series if not s["name"].startswith("_")]
    y_axis: dict[str, Any] = {"type": "value", "name": panel.unit, "scale": True}
    return {
        "animation": False,
        "title": {"text": title, "left": 0, "textStyle": {"fontSize": 13}},
        "tooltip": {"trigger": "axis"},
        "legend": {"data": legend, "top": 22, "type": "scroll", "textStyle": {"fontSize": 11}},
        "grid": {"left": 60, "right": 16, "top": 60, "bottom": 28},
        "xAxis": {"type": "category", "data": list(dates), "boundaryGap": False},
        "yAxis": y_axis,
        "series": series,
    }


def ab_option(panel: Panel, snapshot: Snapshot) -> dict:
    """ECharts option of a key series: A (solid) and B (dashed) on one chart."""
    series = []
    for side in SIDES:
        for column, label in panel.columns:
            name = side if len(panel.columns) == 1 else f"{side} {label}"
            values = _plain(snapshot.series[side][column], panel.scale)
            series.append(_line(name, values, _colour(label), dashed=side == "B"))
    option = _chart(f"{panel.title}: A and B", panel, snapshot.dates, series)
    if panel.share:
        option["yAxis"].update(min=0, max=1, scale=False)
    return option


def difference_option(panel: Panel, snapshot: Snapshot) -> dict:
    """ECharts option of a key series' difference B - A: the live seed's, and the paired
    ensemble's median with its 90% band (5% to 95% over pairs) when there is one."""
    series = []
    band = snapshot.ensemble.band if snapshot.ensemble is not None else None
    for column, label in panel.columns:
        suffix = "" if len(panel.columns) == 1 else f" {label}"
        colour = _colour(label)
        if band is not None:
            median, low, high = (_plain(values, panel.scale) for values in band[column])
            width = _difference(low, high)
            stack = f"band{suffix}"
            common = {"stack": stack, "stackStrategy": "all", "silent": True, "z": 1}
            series.append({**_line(f"_low{suffix}", low, colour, width=0), **common})
            series.append(
                {
                    **_line(f"90% band{suffix}", width, colour, width=0),
                    **common,
                    "areaStyle": {"color": colour, "opacity": 0.18},
                }
            )
            series.append({**_line(f"median{suffix}", median, colour, width=1.5), "z": 2})
        a = _plain(snapshot.series["A"][column], panel.scale)
        b = _plain(snapshot.series["B"][column], panel.scale)
        series.append({**_line(f"B - A{suffix}", _difference(a, b), colour, width=2), "z": 3})
    title = f"{panel.title}: B - A"
    if snapshot.ensemble is not None and snapshot.ensemble.done:
        title += f" (median, 90% band: {snapshot.ensemble.done} pairs)"
    option = _chart(title, panel, snapshot.dates, series)
    option["yAxis"]["scale"] = True
    return option


#: Height of one row of the key series in the live view (pixels).
ROW_PX = 250


def series_option(snapshot: Snapshot) -> dict:
    """ECharts option of every key series in one chart: row ``i`` draws ``PANELS[i]``, A and B
    on the left (:func:`ab_option`) and B - A on the right (:func:`difference_option`), each
    in its own grid and axes. Each line's ``id`` (and the name of a band's stack) is
    ``"<panel>-ab:<name>"`` or ``"<panel>-diff:<name>"``. The legends show, they do not hide
    lines (a name such as ``A`` is on several rows). One chart draws the twelve in one pass of
    the browser, about half the time of twelve charts."""
    combined: dict[str, list] = {k: [] for k in ("title", "legend", "grid", "xAxis", "yAxis")}
    series = []
    for row, panel in enumerate(PANELS):
        parts = (("ab", ab_option(panel, snapshot)), ("diff", difference_option(panel, snapshot)))
        for column, (kind, option) in enumerate(parts):
            index, top, left = 2 * row + column, row * ROW_PX, f"{50 * column}%"
            combined["title"].append({**option["title"], "left": left, "top": top})
            combined["legend"].append(
                {**option["legend"], "left": left, "top": top + 22, "width": "46%"}
                | {"selectedMode": False}
            )
            combined["grid"].append(
                {"left": left, "width": "48%", "top": top + 70, "height": ROW_PX - 100}
                | {"containLabel": True}
            )
            combined["xAxis"].append({**option["xAxis"], "gridIndex": index})
            combined["yAxis"].append({**option["yAxis"], "gridIndex": index})
            for line in option["series"]:
                line = {**line, "id": f"{panel.key}-{kind}:{line['name']}"}
                line |= {"xAxisIndex": index, "yAxisIndex": index}
                if "stack" in line:  # ECharts stacks by name across the chart: one per view
                    line["stack"] = f"{panel.key}-{kind}:{line['stack']}"
                series.append(line)
    return {"animation": False, "tooltip": {"trigger": "axis"}, **combined, "series": series}


@functools.lru_cache(maxsize=64)
def _layout(
    labs: tuple[tuple[str, str], ...],
) -> tuple[dict[str, tuple[float, float]], tuple[str, ...]]:
    """Positions as :func:`agentsim.figures.network_snapshot` places them, for ``labs`` as
    (lab, jurisdiction) pairs: labs on an inner ring (sorted by jurisdiction), each
    jurisdiction's researcher and investor pools outside. Cached: a world's labs keep their
    places from step to step."""
    ordered = sorted(labs, key=lambda lab: (lab[1], lab[0]))
    names = [name for name, _ in ordered]
    home = dict(ordered)
    angle = {n: 2 * np.pi * i / max(len(names), 1) for i, n in enumerate(names)}
    position = {n: (float(np.cos(a)), float(np.sin(a))) for n, a in angle.items()}
    codes = tuple(dict.fromkeys(code for _, code in ordered))
    for k, code in enumerate(codes):
        mine = [angle[n] for n in names if home[n] == code]
        a = float(np.mean(mine)) if mine else 2 * np.pi * k / len(codes)
        position[f"researchers:{code}"] = (1.7 * np.cos(a - 0.15), 1.7 * np.sin(a - 0.15))
        position[f"investors:{code}"] = (2.2 * np.cos(a + 0.15), 2.2 * np.sin(a + 0.15))
    return position, codes


def network_option(edges: pd.DataFrame, labs: pd.DataFrame, title: str) -> dict:
    """ECharts option of the aggregated network (as the run's network figure draws it): labs
    sized by capability and coloured by jurisdiction, researcher pools (triangles) and investor
    pools (squares); edge width is headcount or holdings."""
    position, codes = _layout(tuple(zip(labs["lab"], labs["jurisdiction"], strict=True)))
    capability = labs["capability"].to_numpy(dtype=float)
    low = float(capability.min()) if len(capability) else 0.0
    span = max(float(np.ptp(capability)), 1e-9) if len(capability) else 1.0
    nodes = []
    for name, code, level, active in zip(
        labs["lab"], labs["jurisdiction"], capability, labs["active"], strict=True
    ):
        x, y = position[name]
        nodes.append(
            {
                "name": name,
                "x": round(x * 100, 2),
                "y": round(-y * 100, 2),
                "symbolSize": round(8 + 26 * (level - low) / span, 1),
                "itemStyle": {
                    "color": JURISDICTION_COLOURS.get(code, "#555555"),
                    "borderColor": "#000",
                    "borderWidth": 0.5,
                    "opacity": 1.0 if active else 0.35,
                },
            }
        )
    for code in codes:
        for pool, symbol in (("researchers", "triangle"), ("investors", "rect")):
            x, y = position[f"{pool}:{code}"]
            nodes.append(
                {
                    "name": f"{pool}:{code}",
                    "x": round(x * 100, 2),
                    "y": round(-y * 100, 2),
                    "symbol": symbol,
                    "symbolSize": 10,
                    "label": {"show": False},
                    "itemStyle": {
                        "color": JURISDICTION_COLOURS.get(code, "#555555"),
                        "opacity": 0.7,
                    },
                }
            )
    links = []
    kinds = edges["kind"].to_numpy()
    sources, targets = edges["source"].tolist(), edges["target"].tolist()
    weights = edges["weight"].to_numpy(dtype=float)
    for kind, (colour, width) in NETWORK_EDGES.items():
        mine = [
            i
            for i in np.flatnonzero(kinds == kind)
            if sources[i] in position and targets[i] in position
        ]
        top = float(weights[mine].max()) if mine else 1.0
        for i in mine:
            links.append(
                {
                    "source": sources[i],
                    "target": targets[i],
                    "lineStyle": {
                        "color": colour,
                        "opacity": 0.5,
                        "width": round(0.2 + width * float(weights[i]) / top, 2),
                    },
                }
            )
    return {
        "animation": False,
        "title": {"text": title, "left": 0, "textStyle": {"fontSize": 13}},
        "tooltip": {},
        "series": [
            {
                "type": "graph",
                "layout": "none",
                "data": nodes,
                "links": links,
                "label": {"show": True, "position": "bottom", "fontSize": 9},
                "emphasis": {"focus": "adjacency"},
            }
        ],
    }


#: Edge kinds of the network view: colour and the width of the heaviest edge (as the run's
#: network figure draws them).
NETWORK_EDGES = {
    "employment": ("#888888", 4.0),
    "investment": ("#2e7d32", 4.0),
    "partnership": ("#bbbbbb", 0.6),
}


# --------------------------------------------------------------------------- export figures


def ab_figure(snapshot: Snapshot) -> Figure:
    """The A/B figure: one row per key series, A and B on the left, B - A on the right (with
    the paired ensemble's median and 90% band when there is one)."""
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    months = snapshot.step + 1
    horizon = pd.to_datetime(list(snapshot.dates))
    dates = horizon[:months]
    band = snapshot.ensemble.band if snapshot.ensemble is not None else None
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(7.0, 1.9 * len(PANELS) + 0.6))
        axes = fig.subplots(len(PANELS), 2, sharex=True, squeeze=False)
        for row, panel in enumerate(PANELS):
            left, right = axes[row]
            for column, label in panel.columns:
                colour = _colour(label)
                suffix = "" if len(panel.columns) == 1 else f" {label}"
                a = np.array(_plain(snapshot.series["A"][column], panel.scale), dtype=float)
                b = np.array(_plain(snapshot.series["B"][column], panel.scale), dtype=float)
                dot = "o" if months == 1 else None  # month 0 alone: a dot, as on the page
                left.plot(dates, a, color=colour, lw=1.3, marker=dot, ms=3, label=f"A{suffix}")
                left.plot(
                    dates, b, color=colour, lw=1.3, ls="--", marker=dot, ms=3, label=f"B{suffix}"
                )
                if band is not None:  # over the whole horizon, as the page draws it
                    median, low, high = (
                        np.array(_plain(v, panel.scale), dtype=float) for v in band[column]
                    )
                    right.fill_between(horizon, low, high, color=colour, alpha=0.18, lw=0)
                    right.plot(
                        horizon, median, color=colour, lw=0.9, ls=":", label=f"median{suffix}"
                    )
                right.plot(
                    dates, b - a, color=colour, lw=1.3, marker=dot, ms=3, label=f"B - A{suffix}"
                )
            right.axhline(0, color="black", lw=0.5)
            left.set_title(f"{panel.title} ({panel.unit})")
            right.set_title(f"{panel.title}: B - A")
            if panel.share:
                left.set_ylim(0, 1)
            left.legend(loc="upper left")
            right.legend(loc="upper left")
        locator = mdates.AutoDateLocator()
        for ax in axes[-1]:
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            ax.set_xlim(pd.Timestamp(snapshot.dates[0]), pd.Timestamp(snapshot.dates[-1]))
        caption = (
            f"A: {snapshot.names['A']}, B: {snapshot.names['B']}; seed {snapshot.seed}, "
            f"month {snapshot.step} of {snapshot.horizon}"
        )
        if band is not None and snapshot.ensemble is not None:
            caption += (
                f"; shaded: 90% band (5%-95%) of B - A over {snapshot.ensemble.done} paired "
                "seeds, dotted: their median"
            )
        caption = textwrap.fill(caption, 110)
        fig.suptitle(caption, fontsize=8, y=0.998, va="top")
        top = 0.955 - 0.012 * caption.count("\n")  # clear of the caption's lines
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.03, top=top, hspace=0.45, wspace=0.22)
    return fig


def _figure_bytes(figure: Figure, fmt: str, close: bool = True) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=150 if fmt == "png" else None)
    if close:
        _close(figure)
    return buffer.getvalue()


def _close(figure: Figure) -> None:
    import matplotlib.pyplot as plt

    with contextlib.suppress(Exception):
        plt.close(figure)


# --------------------------------------------------------------------------- the page


SERIES_STYLE = f"height: {ROW_PX * len(PANELS)}px; width: 100%;"
NETWORK_STYLE = "height: 380px; width: 100%;"
BOLD = {"font-weight": "bold"}


@dataclass(frozen=True)
class ControlsState:
    """What the sidebar's side controls, the error line and the export show: it changes only
    when a side, the seed or the error does (not at every step), so they are not redrawn."""

    names: tuple[str, str]
    sides: tuple[Side, Side]
    values: tuple[tuple[tuple[str, Any], ...], ...]
    choices: tuple[str, ...]
    seed: int
    seeds: int
    error: str | None

    @classmethod
    def of(cls, snapshot: Snapshot) -> ControlsState:
        """The controls' part of a snapshot."""
        return cls(
            names=(snapshot.names["A"], snapshot.names["B"]),
            sides=(snapshot.sides["A"], snapshot.sides["B"]),
            values=tuple(tuple(snapshot.values[side].items()) for side in SIDES),
            choices=tuple(snapshot.choices),
            seed=snapshot.seed,
            seeds=snapshot.seeds,
            error=snapshot.error,
        )


@dataclass(frozen=True, eq=False)
class ChartsState:
    """What the charts draw: a snapshot, equal to another when both show the same world (the
    same changes of the pair, the same sides and the same paired-seeds status), so starting
    or stopping play, an error line or a new seed count does not redraw the charts."""

    snapshot: Snapshot

    def _shown(self) -> tuple[Any, ...]:
        snapshot = self.snapshot
        return (snapshot.world, snapshot.sides, snapshot.ensemble)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChartsState) and self._shown() == other._shown()

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class EnsembleState:
    """What the paired-seeds card shows (it changes as pairs finish)."""

    seeds: int
    status: EnsembleStatus | None
    note: str | None

    @classmethod
    def of(cls, snapshot: Snapshot) -> EnsembleState:
        """The paired-seeds card's part of a snapshot."""
        return cls(snapshot.seeds, snapshot.ensemble, snapshot.ensemble_note)


@solara.component
def SideControls(  # noqa: N802 (Solara components are nouns)
    session: Session, side: str, controls: solara.Reactive[ControlsState]
) -> None:
    """One side's scenario menu, levers (generated from the schema) and settings field."""
    state = controls.value
    index = SIDES.index(side)
    current = state.sides[index]
    label = scenario_label(current.scenario)
    labels = list(state.choices) if label in state.choices else [label, *state.choices]
    value = dict(state.values[index])
    with solara.Card(f"{side}: {state.names[index]}"):
        solara.Select(
            label=f"Scenario {side}",
            value=label,
            values=labels,
            on_value=lambda choice: session.set_scenario(side, choice),
        )
        inputs = {
            lever: lever_control(parameter_spec(path), value[lever])
            for lever, path in LEVERS.items()
        }
        UserInputs(
            inputs, on_change=lambda lever, number: session.set_lever(side, lever, number)
        ).key(f"levers-{side}-{current.scenario}")
        TypedField(
            label=f"Set on {side} (KEY=VALUE; ...)",
            value="; ".join(current.settings),
            on_commit=lambda text: session.set_settings(side, text),
        ).key(f"set-{side}-{current.scenario}")


class TypedFieldWidget(ipyvuetify.VuetifyTemplate):
    """A text field whose Enter and loss of focus call ``on_commit(text)`` with the text the
    browser shows, carried by the event itself (``typed_field.vue``). The browser holds back a
    field's own updates while one is on its way, so a text read from the field's value when
    Enter arrives can lag behind what was typed; here it cannot."""

    template_file = (__file__, "typed_field.vue")
    label = traitlets.Unicode("").tag(sync=True)
    text = traitlets.Unicode("").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    on_commit = traitlets.Callable(None, allow_none=True)

    def vue_commit(self, text: Any) -> None:
        """Enter, or the field lost focus (called from the browser)."""
        if self.on_commit is not None:
            self.on_commit(str(text or ""))


@solara.component
def TypedField(  # noqa: N802
    label: str, value: str, on_commit: Callable[[str], None], disabled: bool = False
) -> Any:
    """A text field that hands what was typed to ``on_commit`` on Enter or when it loses focus,
    when it differs from ``value``.

    The field is given ``value`` when it first shows and whenever ``value`` changes (the side
    or the seed changed), never at a redraw of the page: ``solara.InputText`` hands the field
    its value at every redraw (every drawing while playing, or as paired seeds finish), which
    wipes or garbles a half-typed entry.
    """

    def commit(text: str) -> None:
        if text != value:  # a field left as it was changes nothing (a running ensemble goes on)
            on_commit(text)

    field = TypedFieldWidget.element(label=label, disabled=disabled, on_commit=commit)

    def show_value() -> None:
        solara.get_widget(field).text = value

    solara.use_effect(show_value, [value])
    return field


def typed_number(text: str) -> int | str:
    """``text`` as a whole number when it is one (``" 12"`` -> 12), else unchanged, for the
    session to refuse in its own words."""
    stripped = text.strip()
    return int(stripped) if stripped.lstrip("+-").isdigit() else text


@solara.component
def RunControls(session: Session, view: solara.Reactive[Snapshot]) -> None:  # noqa: N802
    """Reset, play/pause and step for both sides; the seed and the play interval."""
    snapshot = view.value
    step, horizon, playing = snapshot.step, snapshot.horizon, snapshot.playing
    at_end = step >= horizon
    with solara.Card("Controls"):
        with solara.Row(justify="space-between"):
            solara.Button(label="Reset", color="primary", on_click=session.reset)
            solara.Button(
                label="❚❚" if playing else "▶",
                color="primary",
                on_click=session.pause if playing else session.play,
                disabled=at_end and not playing,
            )
            solara.Button(
                label="Step", color="primary", on_click=session.step, disabled=playing or at_end
            )
        TypedField(
            label="Seed",
            value=str(snapshot.seed),
            on_commit=lambda text: session.set_seed(typed_number(text)),
        )
        solara.SliderInt(
            "Play interval (ms)",
            value=int(session.interval_s * 1000),
            on_value=session.set_interval,
            min=0,
            max=500,
            step=10,
        )
        solara.Text(f"Month {step} of {horizon} ({snapshot.dates[step]})")


@solara.component
def EnsembleControls(  # noqa: N802
    session: Session, ensemble: solara.Reactive[EnsembleState]
) -> None:
    """The paired seeds: how many, run or stop, progress, what went wrong."""
    state = ensemble.value
    status = state.status
    running = status is not None and status.running
    with solara.Card("Paired seeds"):
        TypedField(
            label="Seeds",
            value=str(state.seeds),
            on_commit=lambda text: session.set_seeds(typed_number(text)),
            disabled=running,
        )
        if running:
            solara.Button("Stop", color="warning", on_click=session.stop_ensemble)
        else:
            solara.Button(
                f"Run {state.seeds} paired seeds",
                color="primary",
                on_click=lambda: session.run_ensemble(),
            )
        if status is not None:
            solara.ProgressLinear(value=100 * status.done / max(status.pairs, 1))
            solara.Text(ensemble_progress(status))
            if status.error:
                solara.Error(status.error)
        if state.note:
            solara.Warning(state.note)


def ensemble_progress(status: EnsembleStatus) -> str:
    """The progress line of the paired seeds, e.g. ``20/20 pairs, done in 6.1 s``."""
    text = f"{status.done}/{status.pairs} pairs"
    if status.failed:
        text += f" ({status.failed} runs failed)"
    if status.stopped:
        text += ", stopped"
    elif not status.running and status.seconds is not None and status.error is None:
        text += f", done in {status.seconds:.1f} s"
    return text


@solara.component
def ExportControls(  # noqa: N802
    session: Session, controls: solara.Reactive[ControlsState]
) -> None:
    """Downloads: each side's scenario, the A/B figure, everything as a zip; the command."""
    state = controls.value
    with solara.Card("Export"):
        solara.FileDownload(
            lambda: session.scenario_yaml("A"), filename="a.yaml", label="Scenario A (a.yaml)"
        )
        solara.FileDownload(
            lambda: session.scenario_yaml("B"), filename="b.yaml", label="Scenario B (b.yaml)"
        )
        solara.FileDownload(
            lambda: session.figure("png"), filename="ab_series.png", label="A/B figure (PNG)"
        )
        solara.FileDownload(
            lambda: session.figure("pdf"), filename="ab_series.pdf", label="A/B figure (PDF)"
        )
        solara.FileDownload(session.export_zip, filename="ab_export.zip", label="Everything (zip)")
        solara.Text("Reproduce this view and its paired seeds from the files:")
        solara.Preformatted(view_command(state.seed, state.seeds))


@solara.component
def Header(controls: solara.Reactive[ControlsState]) -> None:  # noqa: N802
    """The page's title and the error of the last change the page refused."""
    state = controls.value
    title = f"agentsim A/B: {state.names[0]} vs {state.names[1]}"
    solara.Title(title)
    with solara.AppBar():
        solara.AppBarTitle(title)
    if state.error:
        solara.Error(state.error)


class LiveChart(ipyvuetify.VuetifyTemplate):
    """One live ECharts chart of the page, its option sent as JSON text in two parts.

    ``frame`` holds what changes only with the chart's layout (axes, legend, grid) and
    ``moving`` what changes at every step (title and series, see :func:`split_option`); the
    browser redraws the whole chart on a new frame and only replaces the series on new moving
    parts (``live_chart.vue``). Text, unlike the option dict ``solara.FigureEcharts`` takes, is
    compared in one operation when the page redraws and is not walked value by value, so a
    step costs the server little more than the JSON it sends.
    """

    template_file = (__file__, "live_chart.vue")
    attributes = traitlets.Dict(default_value=None, allow_none=True).tag(sync=True)
    frame = traitlets.Unicode("{}").tag(sync=True)
    moving = traitlets.Unicode("{}").tag(sync=True)
    cdn = traitlets.Unicode(None, allow_none=True).tag(sync=True)

    @traitlets.default("cdn")
    def _cdn(self) -> str | None:  # as solara's FigureEcharts: its local asset server
        import solara.settings

        return None if solara.settings.assets.proxy else solara.settings.assets.cdn


#: The parts of a chart's option that change at every step (the rest is the chart's frame).
MOVING_PARTS = ("title", "series")


def split_option(option: dict[str, Any]) -> tuple[str, str]:
    """(frame, moving parts) of an ECharts option as compact JSON text (see
    :class:`LiveChart`). Raises ``ValueError`` for a NaN or infinite number (JSON has none;
    :func:`_plain` maps them to null)."""
    frame = {key: value for key, value in option.items() if key not in MOVING_PARTS}
    moving = {key: option[key] for key in MOVING_PARTS if key in option}
    return (
        json.dumps(frame, separators=(",", ":"), allow_nan=False),
        json.dumps(moving, separators=(",", ":"), allow_nan=False),
    )


def live_chart(option: dict[str, Any], name: str, style: str) -> Any:
    """The page element of one live chart: ``option`` drawn by a :class:`LiveChart`, its
    element carrying ``data-chart=name``."""
    frame, moving = split_option(option)
    return LiveChart.element(
        frame=frame, moving=moving, attributes={"style": style, "data-chart": name}
    )


@solara.component
def Charts(charts: solara.Reactive[ChartsState]) -> None:  # noqa: N802
    """What the view shows of A and B now: a line saying which, the key series (A and B on the
    left, B - A on the right, one row each), each side's network and table of labs."""
    snapshot = charts.value.snapshot
    solara.Text(
        f"A: {describe(snapshot, 'A')}    B: {describe(snapshot, 'B')}    "
        f"seed {snapshot.seed}, month {snapshot.step} of {snapshot.horizon}",
        style=BOLD,
    )
    live_chart(series_option(snapshot), "series", SERIES_STYLE)
    with solara.Columns([1, 1]):
        for side in SIDES:
            title = f"{side}: network at step {snapshot.step}"
            option = network_option(snapshot.edges[side], snapshot.labs[side], title)
            live_chart(option, f"network-{side}", NETWORK_STYLE)
    for side in SIDES:  # the whole width: ten columns
        solara.Text(f"Labs of {side} at step {snapshot.step}", style=BOLD)
        solara.HTML(tag="div", unsafe_innerHTML=lab_html(snapshot.labs[side]))


@solara.component
def Page() -> None:  # noqa: N802
    """The A/B page: controls in the sidebar; the key series, networks and labs of A and B.

    The page itself never reads the state: each part reads the reactive value it draws (the
    run controls the view at every change, the charts the world when it changes, the side
    controls when a side changes, the paired seeds as pairs finish), so a step redraws the
    charts and the run controls only, and play starting or stopping the run controls only.
    """
    session = solara.use_memo(Session.from_environment, [])
    initial = solara.use_memo(session.snapshot, [])
    view = solara.use_reactive(initial)
    controls = solara.use_reactive(ControlsState.of(initial))
    charts = solara.use_reactive(ChartsState(initial))
    ensemble = solara.use_reactive(EnsembleState.of(initial))
    page = reacton.core.get_render_context()

    def connect() -> Callable[[], None]:
        from solara.server import kernel_context

        context = (
            kernel_context.get_current_context() if kernel_context.has_current_context() else None
        )

        def show(snapshot: Snapshot, world: bool) -> None:
            with page:  # one redraw of the page for the four values, not one for each
                controls.set(ControlsState.of(snapshot))
                ensemble.set(EnsembleState.of(snapshot))
                if world:
                    charts.set(ChartsState(snapshot))
                view.set(snapshot)

        def notify(snapshot: Snapshot, world: bool) -> None:
            if context is None:
                show(snapshot, world)
            else:
                with context:
                    show(snapshot, world)

        session.connect(notify)
        if context is not None:
            context.on_close(session.close)
        if session.workers != 1:
            threading.Thread(target=prepare_workers, name="ab-prepare", daemon=True).start()
        return session.close

    solara.use_effect(connect, [])
    solara.Style(CONTROL_CSS)
    Header(controls)
    with solara.Sidebar(), solara.Column():
        RunControls(session, view)
        EnsembleControls(session, ensemble)
        for side in SIDES:
            SideControls(session, side, controls)
        ExportControls(session, controls)
    Charts(charts)


def lab_html(labs: pd.DataFrame) -> str:
    """The table of labs as HTML (one element for the page to update, not one per cell):
    every column but ``step``, numbers with thousands separators and two decimals."""
    shown = labs.drop(columns="step")

    def cell(value: Any) -> str:
        if isinstance(value, float | np.floating):
            return f"{value:,.2f}"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in shown.columns)
    rows = shown.to_numpy(dtype=object).tolist()  # plain Python values, row by row
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(value)}</td>" for value in row) + "</tr>" for row in rows
    )
    return f'<table class="ab-labs"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def describe(snapshot: Snapshot, side: str) -> str:
    """A side in words: its scenario's name and what the page changed on it."""
    changes = [f"{name}={value}" for name, value in snapshot.sides[side].levers]
    changes += list(snapshot.sides[side].settings)
    name = snapshot.names[side]
    return f"{name} ({'; '.join(changes)})" if changes else name

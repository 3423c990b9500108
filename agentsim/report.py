"""One self-contained HTML report of a stored result folder (``agentsim report DIR``).

:func:`write_report` reads a result folder (a run, or a Monte Carlo, sweep, comparison,
explore, sensitivity or calibration folder) and writes one HTML file that opens offline: the
manifest (kind, command, agentsim version, git commit, root seed, runs, times, and the
installed packages in a collapsible list), for a comparison the scenario keys whose values
differ between A and B, the outcome tables with their intervals and run counts, the figures,
and the caveats that apply (censored times to an event, few seeds, differences that cannot be
told apart from noise, failed runs, a dirty or unknown git tree, sensitivity indices below the
seed-noise floor, calibration targets missed).

The page requests nothing from any address: figures are PNG images embedded as ``data:`` URIs
(drawn in memory by :mod:`agentsim.figures` at :data:`DPI`, or, for explore, sensitivity and
calibration folders, the PNGs already drawn in the folder's ``figures/``), the CSS is inline
and there is no script. The page is rendered by jinja2 from :data:`TEMPLATE` (kept in this
module, so no package data is needed), with every value escaped.

The tables come from the code the command line uses (:func:`agentsim.analysis.outcome_table`,
:func:`agentsim.analysis.paired_differences`, :func:`agentsim.survival.survival_table`,
:func:`agentsim.tables.with_units`), recomputed from ``runs.parquet`` (so folders stored
before ``summary.csv`` existed get the same tables), with numbers shown as
:func:`format_cell` writes them: a cell of the outcome table equals ``summary.csv``'s value
formatted alike.

Reading never changes the folder: nothing is drawn or written there except the report file
itself, written atomically (:func:`agentsim.store.write_text`) when ``out`` lies inside it
(the default, ``DIR/report.html``).
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agentsim.config import ConfigError, quote
from agentsim.store import (
    MANIFEST,
    is_batch_dir,
    is_run_dir,
    os_reason,
    read_batch,
    read_manifest,
    read_run,
    write_text,
)

#: Name of the report in a result folder when ``--out`` is not given.
REPORT_NAME = "report.html"
#: Resolution of the figures drawn for a report (dots per inch): small files, still sharp.
DPI = 110
#: Fewer runs per design point than this and the report says the intervals are wide.
MIN_SEEDS = 30
#: Significance level for "cannot be told apart from noise" (Holm-adjusted p-values).
ALPHA = 0.05
#: Shown for a missing value (None, NaN, pandas' NA), as the command line prints one.
MISSING = "n/a"
#: Shown for a scenario key that one scenario does not set.
ABSENT = "(not set)"
#: Result kinds the report knows, with what each folder holds.
KINDS = {
    "run": "one run of one scenario",
    "mc": "Monte Carlo: runs of one scenario on seeds spawned from the root seed",
    "sweep": "parameter sweep: a grid of scenarios, each on the same seeds",
    "compare": "paired comparison of two scenarios on common seeds",
    "explore": "exploration under parameter uncertainty: samples x scenarios x seeds",
    "sensitivity": "global sensitivity analysis (Morris or Sobol indices)",
    "calibrate": "calibration of parameters to targets (ABC-SMC)",
}
#: Columns of long text, wrapped in a table (the others keep each cell on one line).
WRAPPED = frozenset({"note", "source", "error"})


# --------------------------------------------------------------------------- the page

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ report.title }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  margin: 0 auto; max-width: 1180px; padding: 1.5em 2em 4em; color: #1d232a;
  line-height: 1.45; font-size: 15px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #d0d7de;
  padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin-top: 1.5em; }
.subtitle { color: #57606a; margin-top: 0; }
nav a { margin-right: 1em; }
a { color: #0b5cad; }
table { border-collapse: collapse; font-size: 0.86em; margin: 0.5em 0 0.3em; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.55em; vertical-align: top;
  white-space: nowrap; }
th { background: #f3f5f7; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.wrap { white-space: normal; min-width: 16em; max-width: 40em; }
tbody tr:nth-child(even) { background: #fafbfc; }
.scroll { overflow-x: auto; }
.caption { color: #57606a; font-size: 0.86em; max-width: 60em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1.2em; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; word-break: break-word; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 0.9em; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; max-height: 40em; }
details { margin: 0.6em 0; }
summary { cursor: pointer; color: #0b5cad; }
ul.caveats li { margin-bottom: 0.4em; }
.none { color: #57606a; }
.figures { display: flex; flex-wrap: wrap; gap: 1em 1.5em; align-items: flex-start; }
figure { margin: 0; max-width: 100%; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; display: block; }
figcaption { color: #57606a; font-size: 0.86em; }
footer { margin-top: 3em; color: #57606a; font-size: 0.8em; }
</style>
</head>
<body>
<h1>{{ report.title }}</h1>
<p class="subtitle">{{ report.description }} &middot; folder <code>{{ report.folder }}</code></p>
<nav>
<a href="#manifest">Manifest</a><a href="#caveats">Caveats</a>
{%- if report.changes %}<a href="#scenario-difference">Scenario difference</a>{% endif %}
{%- if report.tables %}<a href="#tables">Tables</a>{% endif %}
{%- if report.figures or report.figure_notes %}<a href="#figures">Figures</a>{% endif %}
</nav>

<section id="manifest">
<h2>Manifest</h2>
<dl class="facts">
{%- for label, value in report.facts %}
<dt>{{ label }}</dt><dd>{{ value }}</dd>
{%- endfor %}
</dl>
{%- if report.packages %}
<details id="packages">
<summary>Installed packages when the results were made ({{ report.packages | length }})</summary>
<table><thead><tr><th>package</th><th>version</th></tr></thead><tbody>
{%- for name, version in report.packages %}
<tr><td>{{ name }}</td><td>{{ version }}</td></tr>
{%- endfor %}
</tbody></table>
</details>
{%- endif %}
{%- for name, text in report.configs %}
<details class="config">
<summary>Resolved scenario: {{ name }}</summary>
<pre>{{ text }}</pre>
</details>
{%- endfor %}
</section>

<section id="caveats">
<h2>Caveats</h2>
{%- if report.caveats %}
<ul class="caveats">
{%- for caveat in report.caveats %}
<li>{{ caveat }}</li>
{%- endfor %}
</ul>
{%- else %}
<p class="none">None found.</p>
{%- endif %}
</section>

{%- macro render_table(table) %}
{%- if table.title %}<h3 id="{{ table.id }}-title">{{ table.title }}</h3>{% endif %}
{%- if table.caption %}<p class="caption">{{ table.caption }}</p>{% endif %}
{%- if table.rows %}
<div class="scroll"><table id="{{ table.id }}">
<thead><tr>{% for column in table.columns %}<th>{{ column }}</th>{% endfor %}</tr></thead>
<tbody>
{%- for row in table.rows %}
<tr>
{%- for cell in row %}<td class="{{ table.classes[loop.index0] }}">{{ cell }}</td>{% endfor %}</tr>
{%- endfor %}
</tbody></table></div>
{%- else %}
<p class="none" id="{{ table.id }}">No rows.</p>
{%- endif %}
{%- endmacro %}

{%- if report.changes %}
<section id="scenario-difference">
<h2>Scenario difference</h2>
{{ render_table(report.changes) }}
</section>
{%- endif %}

{%- if report.tables %}
<section id="tables">
<h2>Tables</h2>
{%- for table in report.tables %}
{%- if table.collapsed %}
<details><summary>{{ table.title }}</summary>
{{ render_table(table) }}
</details>
{%- else %}
{{ render_table(table) }}
{%- endif %}
{%- endfor %}
</section>
{%- endif %}

{%- if report.figures or report.figure_notes %}
<section id="figures">
<h2>Figures</h2>
{%- for note in report.figure_notes %}
<p class="none">{{ note }}</p>
{%- endfor %}
<div class="figures">
{%- for picture in report.figures %}
<figure>
<img src="{{ picture.uri }}" alt="{{ picture.title }}">
<figcaption>{{ picture.title }}</figcaption>
</figure>
{%- endfor %}
</div>
</section>
{%- endif %}

<footer>Written by agentsim {{ report.version }} on {{ report.generated }} from the stored
results only; it requests nothing from any address.</footer>
</body>
</html>
"""


@dataclass
class HtmlTable:
    """A table as the page shows it: ``columns``, ``rows`` of cells already formatted
    (:func:`format_cell`), the CSS class of each column's cells (``num``: numbers,
    right-aligned; ``wrap``: long text, wrapped; ``""``: short text), a title, a caption and
    whether it is folded away in a ``<details>``. ``id`` is the HTML id of its ``<table>``."""

    id: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    classes: list[str]
    caption: str = ""
    collapsed: bool = False


@dataclass
class Picture:
    """An embedded figure: its caption and a ``data:image/png;base64,...`` URI."""

    title: str
    uri: str


@dataclass
class Report:
    """What :data:`TEMPLATE` renders (see :func:`build_report`)."""

    title: str
    kind: str
    folder: str
    description: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    packages: list[tuple[str, str]] = field(default_factory=list)
    configs: list[tuple[str, str]] = field(default_factory=list)
    changes: HtmlTable | None = None
    tables: list[HtmlTable] = field(default_factory=list)
    figures: list[Picture] = field(default_factory=list)
    figure_notes: list[str] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    version: str = ""
    generated: str = ""


# --------------------------------------------------------------------------- cells and tables


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def format_cell(value: Any) -> str:
    """A table cell as the report shows it: ``n/a`` for a missing value (None, NaN, pandas'
    NA), ``true``/``false`` for a boolean, a float to four significant digits (as the command
    line prints tables), anything else as text."""
    if _is_missing(value):
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(value)


def frame_table(
    frame: pd.DataFrame,
    id: str,
    title: str,
    caption: str = "",
    collapsed: bool = False,
) -> HtmlTable:
    """A data frame as an :class:`HtmlTable`: every cell through :func:`format_cell`, numeric
    columns (by dtype, booleans excepted) right-aligned, the columns of :data:`WRAPPED`
    wrapped."""
    classes = [
        "num"
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        else "wrap"
        if str(c) in WRAPPED
        else ""
        for c in frame.columns
    ]
    rows = [[format_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return HtmlTable(id, title, [str(c) for c in frame.columns], rows, classes, caption, collapsed)


# --------------------------------------------------------------------------- scenarios


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested scenario (dicts of dicts, as a manifest stores it) as dotted key -> value;
    lists and other values are leaves (``labs.OpenAI.cash_billions``, ``jurisdictions``)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


_NOT_SET = object()


def changed_keys(configs: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, list[Any]]]:
    """The dotted keys whose values differ between the scenarios of ``configs`` (name ->
    nested config), in the order they first appear, each with its value in every scenario
    (:data:`ABSENT` where a scenario does not set it). Empty for fewer than two scenarios."""
    flats = [flatten(config) for config in configs.values()]
    if len(flats) < 2:
        return []
    keys = list(dict.fromkeys(key for flat in flats for key in flat))
    changed = []
    for key in keys:
        values = [flat.get(key, _NOT_SET) for flat in flats]
        if any(not _same(values[0], value) for value in values[1:]):
            changed.append((key, [ABSENT if v is _NOT_SET else v for v in values]))
    return changed


def _same(a: Any, b: Any) -> bool:
    if a is _NOT_SET or b is _NOT_SET:
        return a is b
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def format_value(value: Any) -> str:
    """A scenario value as YAML would show it: ``true``/``false``, ``null``, numbers and text
    as they are, lists and mappings as JSON."""
    if isinstance(value, str) and value == ABSENT:
        return value
    if value is None or isinstance(value, bool | list | dict):
        return json.dumps(value, default=str)
    return str(value)


def _config_yaml(config: Mapping[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True, width=100)


# --------------------------------------------------------------------------- folders


def result_kind(folder: str | Path) -> str:
    """What kind of result ``folder`` holds: ``run`` or a batch manifest's kind (one of
    :data:`KINDS`).

    Raises :class:`ConfigError` (key: the folder, one line) when it does not exist, is not a
    folder, or holds neither a run (``summary.json`` with ``seed`` and ``steps``, and
    ``config.yaml``) nor a batch (``manifest.json`` with ``kind`` and ``fingerprint``) of a
    kind the report knows.
    """
    folder = Path(folder)
    key = str(folder)
    if not folder.exists():
        raise ConfigError(key, "folder not found")
    if not folder.is_dir():
        raise ConfigError(key, "is not a folder")
    if is_batch_dir(folder):
        manifest = read_manifest(folder, key)
        kind = manifest.get("kind")
        if not isinstance(kind, str) or "fingerprint" not in manifest:
            raise ConfigError(key, f"its {MANIFEST} is not an agentsim manifest (no kind)")
        if kind not in KINDS or kind == "run":
            raise ConfigError(key, f"holds results of kind {quote(kind)}, which has no report")
        return kind
    if is_run_dir(folder):
        try:
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            reason = exc.__class__.__name__
            raise ConfigError(key, f"summary.json cannot be read ({reason})") from None
        if isinstance(summary, dict) and {"seed", "steps"} <= set(summary):
            return "run"
    raise ConfigError(
        key,
        "is not an agentsim result folder (no run summary.json, no batch manifest.json)",
    )


def report_path(folder: str | Path, out: str | Path | None = None) -> Path:
    """Where the report of ``folder`` goes: ``out``, or ``folder/report.html``.

    Raises :class:`ConfigError` (key ``--out``) when ``out`` is a folder, lies in a folder
    that does not exist or cannot be written, or would replace a file of the result folder
    other than an HTML file. Nothing is created.
    """
    folder = Path(folder)
    path = Path(out) if out is not None else folder / REPORT_NAME
    if path.is_dir():
        raise ConfigError("--out", f"{path} is a folder; give the HTML file to write")
    parent = path.parent
    if not parent.is_dir():
        raise ConfigError("--out", f"{parent} does not exist (or is not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError("--out", f"cannot write in {parent} (permission denied)")
    stored = path.exists() and parent.resolve() == folder.resolve()
    if stored and path.suffix.lower() not in (".html", ".htm"):  # summary.csv, manifest.json...
        raise ConfigError("--out", f"{path} is a file of the result folder; choose another name")
    return path


def write_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the HTML report of the result folder ``folder`` to ``out`` (default
    ``folder/report.html``) atomically; return its path.

    Checks ``out`` (:func:`report_path`) and the folder (:func:`result_kind`) before reading
    anything. Raises :class:`ConfigError` (one line) for a folder that is not an agentsim
    result, an unfinished batch, a stored file that cannot be read, or a bad ``out``; and
    ``OSError`` when the file cannot be written (nothing half-written stays).
    """
    result_kind(folder)  # a folder that is not a result is named before a bad --out
    path = report_path(folder, out)
    report = build_report(folder)
    write_text(path, render_report(report))
    return path


def render_report(report: Report) -> str:
    """The HTML text of ``report`` (:data:`TEMPLATE` rendered by jinja2, every value
    escaped)."""
    from jinja2 import DictLoader, Environment, StrictUndefined

    environment = Environment(
        loader=DictLoader({"report.html.j2": TEMPLATE}),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    return environment.get_template("report.html.j2").render(report=report)


def build_report(folder: str | Path) -> Report:
    """Everything the report of ``folder`` shows (see the module's notes); draws its figures
    in memory. Raises :class:`ConfigError` as :func:`write_report`."""
    folder = Path(folder)
    kind = result_kind(folder)
    report = Report(
        title=f"agentsim {kind}: {folder.resolve().name}",
        kind=kind,
        folder=str(folder),
        description=KINDS[kind],
        version=_version(),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    if kind == "run":
        _run_report(folder, report)
    elif kind == "calibrate":
        _calibration_report(folder, report)
    else:
        _batch_report(folder, kind, report)
    return report


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("agentsim")
    except PackageNotFoundError:  # pragma: no cover - a source tree without installing
        from agentsim import __version__

        return __version__


# --------------------------------------------------------------------------- manifest


def _manifest_facts(manifest: Mapping[str, Any], report: Report, runs: str = "") -> None:
    """The manifest's facts (with ``runs``, what the folder's runs are, when given), package
    list and scenarios into ``report``; caveats about the git tree."""
    versions = manifest.get("versions") if isinstance(manifest.get("versions"), dict) else {}
    commit = manifest.get("git_commit")
    dirty = manifest.get("git_dirty")
    if commit:
        tree = " (tracked files had uncommitted changes)" if dirty else ""
        tree = tree if dirty is not None else " (whether the tree was clean is not recorded)"
        commit_text = f"{commit}{tree}"
    else:
        commit_text = "not recorded"
    facts = [
        ("kind", f"{manifest.get('kind')}: {KINDS.get(str(manifest.get('kind')), '')}"),
        ("command", str(manifest.get("command") or "not recorded")),
        ("agentsim version", str(versions.get("agentsim") or "not recorded")),
        ("Python", str(versions.get("python") or "not recorded")),
        ("git commit", commit_text),
    ]
    if "root_seed" in manifest:
        facts.append(("root seed", str(manifest["root_seed"])))
    if runs:
        facts.append(("runs", runs))
    configs = manifest.get("configs") if isinstance(manifest.get("configs"), dict) else {}
    if configs:
        facts.append(("scenarios", ", ".join(str(name) for name in configs)))
    for label, key in (("started", "started"), ("finished", "finished")):
        if manifest.get(key):
            facts.append((label, str(manifest[key])))
    report.facts += facts
    packages = manifest.get("packages")
    if isinstance(packages, dict):
        report.packages = [(str(k), str(v)) for k, v in packages.items()]
    for name, config in configs.items():
        if isinstance(config, dict):
            report.configs.append((str(name), _config_yaml(config)))
    if not commit:
        report.caveats.append(
            "The manifest records no git commit: the code that made these results cannot be "
            "identified, so they may not be reproducible."
        )
    elif dirty:
        report.caveats.append(
            f"The results were made from commit {str(commit)[:12]} with uncommitted changes to "
            "tracked files: rerunning that commit may not reproduce them."
        )


def _scenario_difference(configs: Mapping[str, Any], compare: bool) -> HtmlTable | None:
    """The table of changed keys between the scenarios of a manifest (None for one)."""
    configs = {str(k): v for k, v in configs.items() if isinstance(v, dict)}
    if len(configs) < 2:
        return None
    names = list(configs)
    headers = [f"{s}: {n}" for s, n in zip("AB", names, strict=False)] if compare else []
    headers += names[len(headers) :]
    rows = [[key, *(format_value(v) for v in values)] for key, values in changed_keys(configs)]
    caption = (
        "Every key of the resolved scenarios whose value differs"
        + (" between A and B" if compare else "")
        + f" ({len(rows)} keys); all other keys are equal."
    )
    classes = ["", *(["wrap"] * len(headers))]
    return HtmlTable("scenario-changes", "", ["key", *headers], rows, classes, caption)


# --------------------------------------------------------------------------- figures


def _png(fig: Any) -> str:
    """``fig`` as a PNG data URI (closed afterwards)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _draw(report: Report, title: str, draw: Callable[[], Any]) -> None:
    """Draw one figure into the report; a figure that cannot be drawn is named, with why,
    and the rest of the report stands."""
    try:
        report.figures.append(Picture(title, _png(draw())))
    except Exception as exc:  # one figure's failure must not lose the report
        reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
        report.figure_notes.append(f"{title}: not drawn ({reason}).")


def _embed_pngs(report: Report, paths: Iterable[Path]) -> None:
    """Embed PNG files already drawn in a result folder as they are."""
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            report.figure_notes.append(f"{path.name}: cannot be read ({os_reason(exc)}).")
            continue
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        report.figures.append(Picture(path.stem.replace("_", " "), uri))


def _batch_figures(
    report: Report, runs: pd.DataFrame, timeseries: pd.DataFrame, manifest: Mapping[str, Any]
) -> None:
    """The figures ``agentsim plot`` draws of a Monte Carlo, sweep or comparison, drawn in
    memory: fan charts, Kaplan-Meier curves, talent flows and a sweep's heatmaps."""
    from agentsim import figures

    keys = figures.swept_keys(manifest, runs)
    if len(timeseries):
        for column, ylabel, _ in figures.FANS:
            if column in timeseries:
                title = ylabel.split(" (")[0]
                _draw(
                    report,
                    f"{title}: median with 50% and 90% bands",
                    lambda c=column, y=ylabel, t=title: figures.fan_chart(
                        timeseries, runs, c, y, t, keys
                    ),
                )
    else:
        report.figure_notes.append("No run has a time series: no fan charts.")
    from agentsim.survival import TIME_TO_EVENT

    for outcome in figures.survival_outcomes(runs):
        _draw(
            report,
            f"Kaplan-Meier: time until {TIME_TO_EVENT[outcome]} ({outcome})",
            lambda o=outcome: figures.survival_chart(runs, o, keys),
        )
    if any(c.startswith("talent_flow_") for c in runs.columns):
        _draw(report, "Mean researcher moves per run", lambda: figures.mean_talent_flows(runs))
    if keys:
        grid = {key: manifest["grid"][key] for key in keys}
        _draw(
            report,
            "Sweep: probability of a non-US overtake",
            lambda: figures.sweep_heatmap(runs, grid),
        )
        _draw(
            report,
            "Sweep: final US share of users",
            lambda: figures.sweep_heatmap(
                runs, grid, "final_us_user_share", "final US share of users"
            ),
        )


# --------------------------------------------------------------------------- caveats


def _failure_caveat(runs: pd.DataFrame, report: Report) -> None:
    if "error" not in runs:
        return
    failed = runs[runs["error"].notna()]
    if not len(failed):
        return
    messages = failed["error"].astype(str).value_counts()
    shown = "; ".join(f"{count} x {message}" for message, count in messages.head(3).items())
    more = f"; and {len(messages) - 3} other errors" if len(messages) > 3 else ""
    report.caveats.append(
        f"{len(failed)} of {len(runs)} runs failed and are left out of every table and "
        f"figure ({shown}{more})."
    )


def _censoring_caveats(survival: pd.DataFrame, report: Report) -> None:
    """One caveat per time-to-event outcome with censored runs (from a survival table)."""
    from agentsim.survival import TIME_TO_EVENT

    if not len(survival):
        return
    for outcome, rows in survival.groupby("outcome", sort=False):
        censored, n = int(rows["censored"].sum()), int(rows["n"].sum())
        if not censored:
            continue
        horizons = sorted({float(h) for h in rows["horizon"] if not _is_missing(h)})
        at = (
            f"month {horizons[0]:g}"
            if len(horizons) == 1
            else f"months {horizons[0]:g}-{horizons[-1]:g}"
        )
        unreached = int(rows["median"].isna().sum())
        median = (
            f"; the median is not reached in {unreached} of {len(rows)} groups" if unreached else ""
        )
        report.caveats.append(
            f"{outcome} (the month {TIME_TO_EVENT.get(str(outcome), 'of an event')}) is censored "
            f"in {censored} of {n} runs: the event did not happen by the horizon ({at}). Its "
            "rows are Kaplan-Meier estimates (median and restricted mean to the horizon), not "
            f"plain means over the runs with the event{median}."
        )


def _seed_caveat(runs_per_point: int, unit: str, report: Report) -> None:
    if 0 < runs_per_point < MIN_SEEDS:
        report.caveats.append(
            f"Only {runs_per_point} runs (seeds) per {unit}: with fewer than {MIN_SEEDS} the 95% "
            "intervals are wide and the p-values coarse; run more seeds (--runs) before "
            "reading small differences."
        )


# --------------------------------------------------------------------------- batches


def _batch_report(folder: Path, kind: str, report: Report) -> None:
    from agentsim.survival import survival_table
    from agentsim.tables import outcome_tables

    batch = read_batch(folder)
    manifest, runs, timeseries = batch.manifest, batch.runs, batch.timeseries
    failed = int(runs["error"].notna().sum()) if "error" in runs else 0
    per_point = int(manifest.get("runs_per_point") or 0)
    unit = {"compare": "scenario", "mc": "scenario", "sweep": "grid point"}.get(kind, "point")
    _manifest_facts(
        manifest, report, f"{len(runs)} stored, {failed} failed; {per_point} seeds per {unit}"
    )
    configs = manifest.get("configs") if isinstance(manifest.get("configs"), dict) else {}
    names = [str(name) for name in configs]
    root_seed = manifest.get("root_seed")
    _failure_caveat(runs, report)
    if kind == "compare":
        report.changes = _scenario_difference(configs, compare=True)
        survival = _compare_tables(runs, names, per_point, root_seed, report)
        _seed_caveat(per_point, "scenario", report)
        _censoring_caveats(survival, report)
        _batch_figures(report, runs, timeseries, manifest)
    elif kind in ("mc", "sweep"):
        grid = manifest.get("grid") if isinstance(manifest.get("grid"), dict) else {}
        grid = grid if kind == "sweep" else {}
        if grid:
            report.facts.append(
                ("grid", "; ".join(f"{k} = {format_value(v)}" for k, v in grid.items()))
            )
        name = names[0] if names else "scenario"
        summary = outcome_tables(runs, name, per_point, root_seed, grid)["summary"]
        report.tables.append(frame_table(summary.frame, "outcomes", summary.title, summary.caption))
        by = list(grid)
        _seed_caveat(per_point, "grid point" if kind == "sweep" else "scenario", report)
        _censoring_caveats(survival_table(runs, by=by), report)
        _batch_figures(report, runs, timeseries, manifest)
    elif kind == "explore":
        report.changes = _scenario_difference(configs, compare=False)
        _explore_report(folder, manifest, runs, report)
    elif kind == "sensitivity":
        report.changes = _scenario_difference(configs, compare=False)
        _sensitivity_report(folder, manifest, report)


def _compare_tables(
    runs: pd.DataFrame, names: Sequence[str], per_point: int, root_seed: Any, report: Report
) -> pd.DataFrame:
    """The comparison's tables as ``agentsim compare`` saves and prints them
    (:func:`agentsim.tables.comparison_tables`), and the caveat naming the outcomes that
    cannot be told apart from noise; returns the Kaplan-Meier summary (empty without two
    scenarios)."""
    from agentsim.tables import comparison_tables, with_units

    if len(names) != 2:
        report.caveats.append(f"The manifest names {len(names)} scenarios, not two: no table.")
        return pd.DataFrame()
    tables = comparison_tables(runs, names[0], names[1], per_point, root_seed)
    summary = tables["summary"]
    if tables["comparison"].frame.empty:
        report.tables.append(
            HtmlTable("outcomes", summary.title, [], [], [], "No pair of runs succeeded in both.")
        )
        return tables["survival"].frame
    report.tables.append(frame_table(summary.frame, "outcomes", summary.title, summary.caption))
    for name, collapsed in (("relative", False), ("survival", False), ("comparison", True)):
        table = tables[name]
        frame = with_units(table.frame)
        report.tables.append(frame_table(frame, name, table.title, table.caption, collapsed))
    family = int(tables["comparison"].frame["tests_in_family"].iloc[0])
    _noise_caveat(summary.frame, report, per_point, family)
    return tables["survival"].frame


def _noise_caveat(key: pd.DataFrame, report: Report, seeds: int, family: int) -> None:
    """Name the shown outcomes whose difference cannot be told apart from seed noise: a 95%
    interval that holds 0, or a Holm-adjusted p-value of at least :data:`ALPHA`."""
    undefined, noise = [], []
    for row in key.itertuples(index=False):
        if row.n_pairs == 0 or _is_missing(row.difference):
            undefined.append(str(row.outcome))
            continue
        low, high, p = row.ci_low, row.ci_high, row.p_holm
        holds_zero = not _is_missing(low) and not _is_missing(high) and low <= 0 <= high
        if holds_zero or _is_missing(p) or p >= ALPHA:
            noise.append(str(row.outcome))
    if noise:
        report.caveats.append(
            f"Cannot be told apart from noise at {seeds} seeds ({len(noise)} of {len(key)} "
            "outcomes shown: the 95% interval of B - A holds 0, or the Holm-adjusted p-value "
            f"over the {family} outcomes tested is {ALPHA:g} or more): " + ", ".join(noise) + "."
        )
    if undefined:
        report.caveats.append(
            "Undefined in every pair of runs, so not compared: " + ", ".join(undefined) + "."
        )


def _explore_report(
    folder: Path, manifest: Mapping[str, Any], runs: pd.DataFrame, report: Report
) -> None:
    """An explore folder: outcome spreads under uncertainty per scenario, its figures."""
    from agentsim import figures
    from agentsim.tables import explore_tables

    design = manifest.get("design") if isinstance(manifest.get("design"), dict) else {}
    samples, seeds = design.get("samples"), design.get("seeds")
    report.facts.append(
        ("design", f"{design.get('design', '?')}: {samples} samples x {seeds} seeds per scenario")
    )
    uncertainty = design.get("uncertainty") if isinstance(design.get("uncertainty"), dict) else {}
    parameters = uncertainty.get("parameters")
    if isinstance(parameters, dict):
        report.facts.append(("uncertain parameters", ", ".join(map(str, parameters))))
    path = folder / "experiments.parquet"
    experiments = pd.read_parquet(path) if path.is_file() else runs
    summary = explore_tables(experiments)["summary"]
    report.tables.append(frame_table(summary.frame, "outcomes", summary.title, summary.caption))
    if isinstance(seeds, int) and seeds < MIN_SEEDS:
        report.caveats.append(
            f"{seeds} seeds per sample: the spreads mix seed noise with parameter uncertainty; "
            "use agentsim sensitivity to separate them."
        )
    _draw(
        report,
        "Outcomes under parameter uncertainty",
        lambda: figures.outcome_distributions(experiments),
    )
    discovery = folder / "discovery"
    if (discovery / "prim_box.csv").is_file():
        report.tables.append(
            frame_table(
                pd.read_csv(discovery / "prim_box.csv"),
                "prim-box",
                "Scenario discovery (PRIM): the chosen box",
                "As agentsim discover wrote it in discovery/prim_box.csv.",
            )
        )
    _embed_pngs(report, sorted(discovery.glob("*.png")) if discovery.is_dir() else [])


def _sensitivity_report(folder: Path, manifest: Mapping[str, Any], report: Report) -> None:
    """A sensitivity folder: indices ranked per outcome, the seed noise, the figures and the
    parameters below the noise floor."""
    from agentsim import figures

    design = manifest.get("design") if isinstance(manifest.get("design"), dict) else {}
    method = design.get("method")
    report.facts.append(
        (
            "design",
            f"{method}: {design.get('samples')} samples x {design.get('seeds')} seeds; "
            f"outcomes {', '.join(map(str, design.get('outcomes') or []))}"
            + (f"; effect against {design['against']}" if design.get("against") else ""),
        )
    )
    indices_path, noise_path = folder / "indices.csv", folder / "noise.csv"
    if not indices_path.is_file():
        report.caveats.append(
            "The folder holds no indices.csv (the analysis did not finish): no indices."
        )
        return
    from agentsim.explore import ranking

    indices = pd.read_csv(indices_path)
    if "below_noise_floor" in indices:
        indices["below_noise_floor"] = indices["below_noise_floor"].astype(bool)
    noise = pd.read_csv(noise_path) if noise_path.is_file() else pd.DataFrame()
    if len(noise):
        report.tables.append(
            frame_table(
                noise,
                "noise",
                "Seed noise per outcome",
                "seed_noise_share: the part of the variance of the design points' seed means "
                "that seed noise alone makes (0: none; near 1: the parameters explain nothing).",
            )
        )
    for outcome in dict.fromkeys(indices["outcome"]):
        shown = ranking(indices, outcome)
        report.tables.append(
            frame_table(
                shown,
                f"indices-{outcome}",
                f"{outcome}: parameters by influence ({method})",
                "Flagged parameters are below the seed-noise floor and not ranked.",
            )
        )
        flagged = shown.loc[shown["below_noise_floor"], "parameter"].astype(str).tolist()
        if flagged:
            report.caveats.append(
                f"{outcome}: {len(flagged)} parameters are below the seed-noise floor (their "
                "influence cannot be told apart from seed noise, and they are not ranked): "
                + ", ".join(flagged)
                + "."
            )
        morris = (indices.loc[indices["outcome"] == outcome, "method"] == "morris").any()
        _draw(
            report,
            f"Sensitivity of {outcome}",
            lambda o=outcome, m=morris: (
                figures.morris_screening(indices, o) if m else figures.sobol_bars(indices, o)
            ),
        )
    for row in noise.itertuples(index=False) if len(noise) else ():
        share = getattr(row, "seed_noise_share", math.nan)
        if not _is_missing(share) and share >= 0.5:
            report.caveats.append(
                f"{row.outcome}: seed noise makes {share:.0%} of the variance between design "
                "points; the indices say little (use more seeds)."
            )


# --------------------------------------------------------------------------- run folders


def _run_report(folder: Path, report: Report) -> None:
    """A run folder: its summary, config and figures; it has no manifest."""
    from agentsim import figures
    from agentsim.survival import TIME_TO_EVENT
    from agentsim.tables import outcome_unit

    stored = read_run(folder)
    summary = stored["summary"]
    config_text = stored["config"]
    name = "scenario"
    try:
        import yaml

        parsed = yaml.safe_load(config_text)
        name = str(parsed.get("name", name)) if isinstance(parsed, dict) else name
    except Exception:  # the name only labels the report
        pass
    steps = summary.get("steps")
    report.facts += [
        ("kind", f"run: {KINDS['run']}"),
        ("scenario", name),
        ("seed", str(summary.get("seed"))),
        ("months", str(steps)),
        ("command, version, commit", "not recorded (a run folder stores no manifest)"),
    ]
    report.configs.append((name, config_text))
    rows = []
    for key, value in summary.items():
        shown = value
        if key in TIME_TO_EVENT and value is None:
            shown = f"never within {steps} months"
        rows.append({"outcome": key, "unit": outcome_unit(key), "value": shown})
    frame = pd.DataFrame(rows, columns=["outcome", "unit", "value"])
    table = frame_table(frame, "outcomes", f"{name}: run summary (seed {summary.get('seed')})")
    table.classes = ["", "", "num"]
    report.tables.append(table)
    report.caveats.append(
        f"One run (seed {summary.get('seed')}): a single draw of the model's randomness, with "
        "no interval; use agentsim mc for estimates with intervals."
    )
    report.caveats.append(
        "A run folder records no command, agentsim version or git commit: the code that made "
        "it cannot be identified from the folder."
    )
    censored = [key for key in TIME_TO_EVENT if key in summary and summary[key] is None]
    if censored:
        report.caveats.append(
            f"Censored at month {steps} (the event did not happen within the run): "
            + ", ".join(f"{key} ({TIME_TO_EVENT[key]})" for key in censored)
            + "."
        )
    model, labs = stored["model"], stored["labs"]
    _draw(report, "Frontier capability: US and the rest", lambda: figures.frontier_race(model))
    _draw(report, "Deployed capability of every lab", lambda: figures.capability_paths(labs))
    _draw(report, "US shares", lambda: figures.share_panels(model))
    _draw(report, "Researcher moves", lambda: figures.talent_flows(stored["flows"]))
    _draw(
        report,
        "Network at the end of the run",
        lambda: figures.network_snapshot(stored["network"], labs),
    )


# --------------------------------------------------------------------------- calibration


def _calibration_report(folder: Path, report: Report) -> None:
    """A calibration folder: the fit report and posterior summary tables, its figures."""
    manifest = read_manifest(folder, str(folder))
    _manifest_facts(manifest, report)
    for label in ("status", "budget", "generations", "evaluations", "seconds"):
        if label in manifest:
            report.facts.append((label, str(manifest[label])))
    if manifest.get("status") != "complete":
        report.caveats.append(
            f"The calibration's status is {quote(manifest.get('status'))}, not complete: "
            "resume it (agentsim calibrate --resume) before reading its tables."
        )
    fit_path = folder / "fit_report.csv"
    if fit_path.is_file():
        fit = pd.read_csv(fit_path)
        report.tables.append(
            frame_table(
                fit,
                "fit",
                "Fit to the targets",
                "Posterior-predictive median and central 90% interval per target; "
                "within_tolerance: the median lies within the target's tolerance.",
            )
        )
        if "within_tolerance" in fit:
            missed = fit.loc[~fit["within_tolerance"].astype(bool), "target"].astype(str)
            if len(missed):
                report.caveats.append(
                    f"Targets not met within their tolerance ({len(missed)} of {len(fit)}): "
                    + ", ".join(missed)
                    + "."
                )
    summary_path = folder / "posterior_summary.csv"
    if summary_path.is_file():
        parameters = pd.read_csv(summary_path)
        report.tables.append(
            frame_table(
                parameters,
                "posterior",
                "Posterior of the parameters",
                "Prior, posterior median and 90% interval, and how much the targets inform "
                "each parameter.",
            )
        )
        if "note" in parameters:
            edge = parameters[parameters["note"].astype(str).str.startswith("against")]
            if len(edge):
                report.caveats.append(
                    "Posterior against a bound of its prior (the targets are met only at the "
                    "edge of the prior's range): "
                    + ", ".join(f"{r.parameter} ({r.note})" for r in edge.itertuples())
                    + "."
                )
    if not fit_path.is_file() and not summary_path.is_file():
        report.caveats.append("The folder holds no fit report: the calibration did not finish.")
    figures_dir = folder / "figures"
    _embed_pngs(report, sorted(figures_dir.glob("*.png")) if figures_dir.is_dir() else [])


__all__ = [
    "REPORT_NAME",
    "TEMPLATE",
    "HtmlTable",
    "Picture",
    "Report",
    "build_report",
    "changed_keys",
    "flatten",
    "format_cell",
    "format_value",
    "frame_table",
    "render_report",
    "report_path",
    "result_kind",
    "write_report",
]

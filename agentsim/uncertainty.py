"""Uncertainty specifications: which scenario parameters are uncertain, and correlated draws.

An uncertainty spec is a YAML file (shipped ones live in ``configs/uncertainty/``, installed
as ``agentsim/scenarios/uncertainty/``; :func:`uncertainty_path` finds them by name)::

    parameters:                 # dotted keys, as for --set; order kept
      flywheel.strength: {distribution: uniform, low: 0.0, high: 1.5}
      market.capability_sensitivity: {distribution: loguniform, low: 1.0, high: 4.0}
      research.noise: {distribution: normal, mean: 0.25, sd: 0.05}
      capital.policy_risk_aversion: {distribution: lognormal, median: 1.0, sigma: 0.5}
      capital.home_bias: {distribution: triangular, low: 0.75, mode: 1.5, high: 2.5}
      market.price_erosion: {distribution: beta, alpha: 2, beta: 5, low: 0.0, high: 1.0}
    correlations:               # Spearman rank correlations (optional)
      - [flywheel.strength, market.capability_sensitivity, 0.4]

**Parameters.** A key is any dotted key that :func:`agentsim.scenario_io.apply_overrides`
takes and that ends at a numeric parameter (``int`` or ``float``) of the schema: a section's
parameter (``market.price_erosion``), a jurisdiction's or lab's parameter
(``jurisdictions.US.immigration_friction``, ``labs.OpenAI.cash_billions``) or an entry of a
mapping of numbers (``capital.capital_billions.GULF``). Switches, text and lists are refused.
Whether the named lab or jurisdiction exists depends on the scenario; see
:meth:`UncertaintySpec.check_scenario`.

**Distributions** and their arguments (every argument a finite number):

=============  ==============================  ============================================
distribution   arguments                       support
=============  ==============================  ============================================
uniform        low, high                       [low, high]
loguniform     low, high (low > 0)             [low, high], uniform in log
triangular     low, mode, high                 [low, high]
beta           alpha, beta; low, high          [low, high] (default [0, 1])
normal         mean, sd; low, high optional    truncated to the schema's bounds and [low, high]
lognormal      median, sigma; low, high opt.   the same; log X ~ Normal(log median, sigma)
=============  ==============================  ============================================

The support of a bounded distribution (the first four) must lie within the schema's bounds
of the parameter. A normal or lognormal is truncated to the schema's bounds (and to
``low``/``high`` where given); a truncation that keeps less than :data:`MIN_MASS` of the
distribution's probability is refused.

**Integer parameters** are drawn as continuous values and rounded to the nearest integer
(halves up), so a uniform from 3.5 to 12.5 gives each of 4..12 the same probability. A
distribution whose rounded support holds a single value is refused.

**Correlations** are Spearman rank correlations rho_s, imposed by a Gaussian copula: the
normal scores of the unit points are mixed by the Cholesky factor of the Pearson matrix
R = 2 sin(pi rho_s / 6) (Kruskal 1958; Iman and Conover 1982), which gives the requested rank
correlations whatever the marginals. Unlisted pairs are uncorrelated.

Every problem raises a one-line :class:`~agentsim.config.ConfigError` naming the parameter
(or ``correlations``, ``--samples``...) and the rule.
"""

from __future__ import annotations

import difflib
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel
from scipy import special, stats
from scipy.stats import qmc

from agentsim.config import Config, ConfigError, ParameterSpec, clip, parameter_spec, quote
from agentsim.scenario_io import (
    SCENARIO_DIR,
    apply_overrides,
    config_to_dict,
    read_yaml,
    validate_config,
)

__all__ = [
    "DESIGNS",
    "DISTRIBUTIONS",
    "MIN_MASS",
    "UNCERTAINTY_DIR",
    "Marginal",
    "UncertaintySpec",
    "load_uncertainty",
    "shipped_uncertainty_specs",
    "uncertainty_path",
]

#: Folder of the shipped uncertainty specs (``configs/uncertainty/`` in the repository).
UNCERTAINTY_DIR: Path = SCENARIO_DIR / "uncertainty"

#: Distribution -> (required arguments, optional arguments), in the order they are written.
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "uniform": (("low", "high"), ()),
    "loguniform": (("low", "high"), ()),
    "triangular": (("low", "mode", "high"), ()),
    "beta": (("alpha", "beta"), ("low", "high")),
    "normal": (("mean", "sd"), ("low", "high")),
    "lognormal": (("median", "sigma"), ("low", "high")),
}
#: Distributions truncated to the schema's bounds rather than required to lie within them.
_TRUNCATED = frozenset({"normal", "lognormal"})
#: Designs of :meth:`UncertaintySpec.sample`.
DESIGNS: tuple[str, ...] = ("lhs", "sobol", "random")
#: Least probability a truncated normal or lognormal must keep within its bounds.
MIN_MASS = 1e-6
#: Top-level keys of a spec.
_TOP_KEYS = ("parameters", "correlations")
#: Unit points are kept this far inside (0, 1) before the inverse normal and the ppf.
_TINY = np.finfo(float).eps / 2
#: Smallest eigenvalue of the normal-copula correlation matrix still taken as positive.
_MIN_EIGENVALUE = 1e-10


# --------------------------------------------------------------------------- shipped specs


def shipped_uncertainty_specs() -> list[str]:
    """Names of the shipped uncertainty specs (file names without ``.yaml``), sorted."""
    return sorted(p.stem for p in UNCERTAINTY_DIR.glob("*.yaml"))


def uncertainty_path(name_or_path: str | Path) -> Path:
    """The uncertainty spec file for a path or a shipped spec's name.

    As :func:`agentsim.scenario_io.scenario_path`: a path that exists wins; otherwise a bare
    name (no folder), with or without ``.yaml``, names a shipped spec
    (``uncertainty_path("default")`` is ``configs/uncertainty/default.yaml``); anything else is
    returned unchanged, so reading it reports the missing file. Raises :class:`ConfigError`
    for a bare name that is neither (listing the shipped specs) and a path the system refuses
    to look up.
    """
    path = Path(name_or_path)
    if _exists(path) or path.parent != Path(".") or not path.name:
        return path
    shipped = UNCERTAINTY_DIR / (path.name if path.suffix == ".yaml" else f"{path.name}.yaml")
    if _exists(shipped):
        return shipped
    raise ConfigError(
        clip(str(name_or_path)),
        f"file not found, and not a shipped uncertainty spec "
        f"(shipped: {shipped_uncertainty_specs()})",
    )


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError as exc:  # e.g. a name too long to look up
        raise ConfigError(clip(str(path)), f"cannot be read ({exc.strerror or exc})") from None


def load_uncertainty(path: str | Path) -> UncertaintySpec:
    """Read and validate an uncertainty spec file (a path or a shipped spec's name).

    The file is read as scenarios are (:func:`agentsim.scenario_io.read_yaml`: YAML 1.2, the
    same limits on aliases and nesting, duplicate keys refused; ``extends:`` merges another
    spec file as it merges scenarios). Raises :class:`ConfigError` (one line) for a missing
    or malformed file and for every rule of :meth:`UncertaintySpec.from_dict`.
    """
    source = uncertainty_path(path)
    return UncertaintySpec.from_dict(read_yaml(source), source=str(source))


# --------------------------------------------------------------------------- the schema side


@cache
def _numeric_templates() -> tuple[str, ...]:
    """Dotted keys of every numeric parameter, with ``<name>`` for a lab's or jurisdiction's
    name and ``<code>`` for a key of a mapping of numbers (for did-you-mean hints)."""
    found: list[str] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            annotation, path = info.annotation, f"{prefix}{name}"
            args = typing.get_args(annotation)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{path}.")
            elif typing.get_origin(annotation) is dict:
                value = args[-1]
                if isinstance(value, type) and issubclass(value, BaseModel):
                    walk(value, f"{path}.<name>.")
                elif typing.get_args(value)[:1] in ((int,), (float,)):
                    found.append(f"{path}.<code>")
            else:
                kinds = set(args) - {type(None)} if args else {annotation}
                if kinds <= {int, float}:
                    found.append(path)

    walk(Config, "")
    return tuple(found)


def _field_at(parts: list[str]) -> Any:
    """The pydantic field at a dotted path whose parent sections exist (free keys skipped)."""
    model: type[BaseModel] = Config
    i = 0
    while True:
        info = model.model_fields[parts[i]]
        if i == len(parts) - 1:
            return info
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model, i = annotation, i + 1
        else:
            model, i = typing.get_args(annotation)[-1], i + 2


def _entry_spec(path: str) -> ParameterSpec | None:
    """The declaration of one entry of a mapping of numbers (``capital.capital_billions.US``),
    which :func:`~agentsim.config.parameter_spec` does not address; None if ``path`` is not
    such an entry."""
    parts = path.split(".")
    if len(parts) < 2 or not parts[-1]:
        return None
    try:
        parent = parameter_spec(".".join(parts[:-1]))
    except ConfigError:
        return None
    if parent.type is not dict:
        return None
    value = typing.get_args(_field_at(parts[:-1]).annotation)[-1]
    kind, *extras = typing.get_args(value) or (value,)
    if kind not in (int, float):
        return None
    bounds: dict[str, Any] = {}
    for extra in extras:
        for item in getattr(extra, "metadata", [extra]):
            for attr in ("ge", "gt", "le", "lt"):
                if getattr(item, attr, None) is not None:
                    bounds[attr] = getattr(item, attr)
    default = parent.default.get(parts[-1]) if isinstance(parent.default, dict) else None
    return ParameterSpec(
        path=path,
        type=kind,
        default=default,
        lower=bounds.get("ge", bounds.get("gt")),
        lower_inclusive="ge" in bounds,
        upper=bounds.get("le", bounds.get("lt")),
        upper_inclusive="le" in bounds,
        unit=parent.unit,
        description=parent.description,
    )


def _schema_parameter(name: str, where: str) -> ParameterSpec:
    """The schema's declaration of the numeric parameter ``name``; refuses anything else."""
    try:
        spec = parameter_spec(name)
    except ConfigError as exc:
        entry = _entry_spec(name)
        if entry is not None:
            return entry
        if exc.rule.startswith("is a "):  # a section, or a path going on past a value
            raise ConfigError(where, f"not a parameter ({exc})") from None
        parts = name.split(".")
        candidates = []
        for template in _numeric_templates():
            pieces = template.split(".")
            candidates.append(
                ".".join(
                    parts[i] if p.startswith("<") and i < len(parts) else p
                    for i, p in enumerate(pieces)
                )
            )
        guess = difflib.get_close_matches(name, candidates, n=1) if len(name) < 300 else []
        if guess:
            raise ConfigError(where, f"unknown parameter (did you mean {guess[0]!r}?)") from None
        raise ConfigError(where, f"unknown parameter ({exc})") from None
    if spec.type not in (int, float):
        kind = {bool: "a switch (true/false)", str: "text"}.get(spec.type, spec.type.__name__)
        raise ConfigError(where, f"is {kind}, not a number: only numeric parameters can vary")
    return spec


def _bounds_text(spec: ParameterSpec) -> str:
    parts = []
    if spec.lower is not None:
        parts.append(f"{'>=' if spec.lower_inclusive else '>'} {spec.lower:g}")
    if spec.upper is not None:
        parts.append(f"{'<=' if spec.upper_inclusive else '<'} {spec.upper:g}")
    return ", ".join(parts) or "unbounded"


# --------------------------------------------------------------------------- one marginal


@dataclass(frozen=True)
class Marginal:
    """One uncertain parameter: its distribution as written and the support of its draws.

    ``args`` are the distribution's arguments as written (name, value), required ones first.
    ``support`` is the closed interval every continuous draw lies in: the distribution's
    support (bounded distributions) or the truncation interval (normal, lognormal), moved one
    floating-point step inward where the schema excludes the bound itself. ``values`` is the
    range of an integer parameter's rounded draws (None for a float parameter).
    """

    name: str
    distribution: str
    args: tuple[tuple[str, int | float], ...]
    support: tuple[float, float]
    values: tuple[int, int] | None = None

    @property
    def integer(self) -> bool:
        """Whether the parameter is an integer (draws are rounded)."""
        return self.values is not None

    @property
    def bounds(self) -> tuple[float, float] | tuple[int, int]:
        """Smallest and largest value a draw can take (integers for an integer parameter)."""
        return self.values if self.values is not None else self.support

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantile function: unit values (shape (n,), in [0, 1]) to parameter values (n,).

        Uniform and loguniform are computed directly; triangular, beta and the truncated
        normal (``scipy.stats.truncnorm``, also on the log scale for the lognormal) come from
        ``scipy.stats``. Integer parameters are rounded to the nearest integer (halves up).
        """
        a = {key: float(value) for key, value in self.args}
        lo, hi = self.support
        u = np.clip(np.asarray(u, dtype=float), _TINY, 1.0 - _TINY)
        match self.distribution:
            case "uniform":
                x = a["low"] + u * (a["high"] - a["low"])
            case "loguniform":
                log_lo, log_hi = math.log(a["low"]), math.log(a["high"])
                x = np.exp(log_lo + u * (log_hi - log_lo))
            case "triangular":
                width = a["high"] - a["low"]
                x = stats.triang.ppf(u, (a["mode"] - a["low"]) / width, a["low"], width)
            case "beta":
                low, high = a.get("low", 0.0), a.get("high", 1.0)
                x = stats.beta.ppf(u, a["alpha"], a["beta"], low, high - low)
            case "normal":
                mean, sd = a["mean"], a["sd"]
                x = stats.truncnorm.ppf(u, (lo - mean) / sd, (hi - mean) / sd, mean, sd)
            case "lognormal":
                mu, sigma = math.log(a["median"]), a["sigma"]
                log_lo = math.log(lo) if lo > 0 else -math.inf
                zl, zh = (log_lo - mu) / sigma, (math.log(hi) - mu) / sigma
                x = np.exp(stats.truncnorm.ppf(u, zl, zh, mu, sigma))
            case _:  # pragma: no cover - from_dict admits only the distributions above
                raise ConfigError(self.name, f"unknown distribution {self.distribution!r}")
        x = np.clip(x, lo, hi)
        if self.values is not None:
            x = np.clip(np.floor(x + 0.5), *self.values)
        return x


def _number(where: str, key: str, value: Any) -> int | float:
    """A finite int or float argument (NumPy scalars taken as Python ones)."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        what = "a boolean" if isinstance(value, bool) else quote(value)
        raise ConfigError(where, f"{key} must be a number (got {what})")
    try:
        finite = math.isfinite(value)
    except OverflowError:
        finite = False
    if not finite:
        raise ConfigError(where, f"{key} must be a finite number (got {quote(value)})")
    return value


def _marginal(name: Any, entry: Any, where: str) -> Marginal:
    """Validate one parameter's entry into a :class:`Marginal` (see the module's rules)."""
    if not isinstance(name, str) or not name:
        raise ConfigError(where, f"a parameter must be a dotted key (got {quote(name)})")
    spec = _schema_parameter(name, where)
    if not isinstance(entry, Mapping):
        raise ConfigError(
            where, f"must be a mapping: {{distribution: ..., its arguments}} (got {quote(entry)})"
        )
    kind = entry.get("distribution")
    if kind is None:
        raise ConfigError(where, f"distribution is required (one of {list(DISTRIBUTIONS)})")
    if kind not in DISTRIBUTIONS:
        guess = difflib.get_close_matches(str(kind), DISTRIBUTIONS, n=1)
        hint = f"did you mean {guess[0]!r}?" if guess else f"known: {list(DISTRIBUTIONS)}"
        raise ConfigError(where, f"unknown distribution {quote(kind)} ({hint})")
    required, optional = DISTRIBUTIONS[kind]
    given = [str(key) for key in entry if key != "distribution"]
    missing = [key for key in required if key not in given]
    extra = [key for key in given if key not in required + optional]
    if missing:
        raise ConfigError(where, f"{kind} needs {', '.join(missing)} (arguments: {_arity(kind)})")
    if extra:
        raise ConfigError(
            where, f"{kind} takes no {', '.join(map(quote, extra))} (arguments: {_arity(kind)})"
        )
    args = tuple(
        (key, _number(where, key, entry[key])) for key in required + optional if key in entry
    )
    a = {key: float(value) for key, value in args}

    if "low" in a and "high" in a and not a["low"] < a["high"]:
        raise ConfigError(where, f"low must be < high (got low {a['low']:g}, high {a['high']:g})")
    for key in ("sd", "sigma", "alpha", "beta"):
        if key in a and not a[key] > 0:
            raise ConfigError(where, f"{key} must be > 0 (got {a[key]:g})")
    if kind == "loguniform" and not a["low"] > 0:
        raise ConfigError(where, f"loguniform needs low > 0 (got {a['low']:g})")
    if kind == "lognormal" and not a["median"] > 0:
        raise ConfigError(where, f"median must be > 0 (got {a['median']:g})")
    if kind == "triangular" and not a["low"] <= a["mode"] <= a["high"]:
        raise ConfigError(
            where, f"mode must lie in [low, high] = [{a['low']:g}, {a['high']:g}] "
            f"(got {a['mode']:g})"
        )  # fmt: skip

    lower = -math.inf if spec.lower is None else float(spec.lower)
    upper = math.inf if spec.upper is None else float(spec.upper)
    if kind in _TRUNCATED:
        lo, hi = max(lower, a.get("low", -math.inf)), min(upper, a.get("high", math.inf))
        if kind == "lognormal":
            lo = max(lo, 0.0)
        if not spec.allows(lo) and math.isfinite(lo):  # an excluded bound: one step inside
            lo = math.nextafter(lo, math.inf)
        if not spec.allows(hi) and math.isfinite(hi):
            hi = math.nextafter(hi, -math.inf)
        if not lo < hi:
            raise ConfigError(
                where, f"low/high and the schema's bounds ({_bounds_text(spec)}) leave no values"
            )
        mass = _truncated_mass(kind, a, lo, hi)
        if mass < MIN_MASS:
            raise ConfigError(
                where,
                f"truncating the {kind} to [{lo:g}, {hi:g}] (the schema's bounds "
                f"{_bounds_text(spec)} and low/high) keeps only {mass:.2g} of its probability "
                f"(at least {MIN_MASS:g} needed); move its centre or widen the bounds",
            )
    else:
        lo, hi = a.get("low", 0.0), a.get("high", 1.0)
        if not (spec.allows(lo) and spec.allows(hi)):
            raise ConfigError(
                where,
                f"support [{lo:g}, {hi:g}] reaches outside the schema's bounds "
                f"({_bounds_text(spec)})",
            )

    values = None
    if spec.type is int:
        # the integers whose rounding interval [k - 1/2, k + 1/2) the support overlaps
        first, last = math.floor(lo + 0.5), math.ceil(hi - 0.5)
        if not spec.allows(first):
            first += 1
        if not spec.allows(last):
            last -= 1
        if first >= last:
            raise ConfigError(
                where,
                f"an integer parameter: its draws round to the single value {first}; "
                "widen the range",
            )
        values = (first, last)
    return Marginal(name, kind, args, (lo, hi), values)


def _arity(kind: str) -> str:
    required, optional = DISTRIBUTIONS[kind]
    return ", ".join([*required, *(f"{key} (optional)" for key in optional)])


def _truncated_mass(kind: str, a: dict[str, float], lo: float, hi: float) -> float:
    """Probability that the untruncated normal (or lognormal) puts in [lo, hi]."""
    if kind == "normal":
        zl, zh = (lo - a["mean"]) / a["sd"], (hi - a["mean"]) / a["sd"]
    else:
        mu = math.log(a["median"])
        zl = (math.log(lo) - mu) / a["sigma"] if lo > 0 else -math.inf
        zh = (math.log(hi) - mu) / a["sigma"]
    if zl > 0:  # both in the upper tail: subtract the small upper-tail areas instead
        return float(special.ndtr(-zl) - special.ndtr(-zh))
    return float(special.ndtr(zh) - special.ndtr(zl))


# --------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class UncertaintySpec:
    """Uncertain parameters, their distributions and their rank correlations.

    Build one with :meth:`from_dict` or :func:`load_uncertainty` (they validate); ``source``
    says where it came from (a file's path) and takes no part in equality.
    """

    marginals: tuple[Marginal, ...]
    correlations: tuple[tuple[str, str, float], ...] = ()
    source: str | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ reading and writing

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> UncertaintySpec:
        """Validate a spec given as a mapping (``parameters``, optional ``correlations``).

        Raises a one-line :class:`ConfigError` naming the parameter (prefixed with
        ``source`` where given) for: a top level that is not a mapping or holds an unknown
        key; empty or missing ``parameters``; a key that is not a numeric parameter of the
        schema (with a did-you-mean); an unknown distribution; missing, unknown or
        non-numeric arguments; low >= high; sd, sigma, alpha or beta <= 0; loguniform low
        <= 0; lognormal median <= 0; a triangular mode outside [low, high]; a bounded
        distribution reaching outside the schema's bounds; a truncated normal or lognormal
        keeping less than :data:`MIN_MASS` of its probability; an integer parameter whose
        draws round to one value; a correlation that is not ``[name, name, rho]``, names a
        parameter not in ``parameters`` (or one twice), repeats a pair or has
        |rho| >= 1; and a correlation matrix that is not positive definite once converted
        to the normal copula's (Pearson) correlations.
        """

        def key(text: str) -> str:
            return f"{source}: {text}" if source else text

        if not isinstance(data, Mapping):
            raise ConfigError(key("uncertainty spec"), f"must be a mapping (got {quote(data)})")
        for top in data:
            if top not in _TOP_KEYS:
                guess = difflib.get_close_matches(str(top), _TOP_KEYS, n=1)
                hint = f"did you mean {guess[0]!r}?" if guess else f"known keys: {list(_TOP_KEYS)}"
                raise ConfigError(key(clip(str(top))), f"unknown key ({hint})")
        parameters = data.get("parameters")
        if not isinstance(parameters, Mapping) or not parameters:
            raise ConfigError(
                key("parameters"),
                "must map at least one dotted parameter key to its distribution",
            )
        marginals = tuple(
            _marginal(name, entry, key(clip(str(name)))) for name, entry in parameters.items()
        )
        names = [m.name for m in marginals]
        raw = data.get("correlations")
        raw = [] if raw is None else raw
        if not isinstance(raw, list | tuple):
            raise ConfigError(
                key("correlations"), f"must be a list of [name, name, rho] (got {quote(raw)})"
            )
        correlations: list[tuple[str, str, float]] = []
        seen: dict[frozenset[str], int] = {}
        for i, item in enumerate(raw):
            where = key(f"correlations[{i}]")
            if not isinstance(item, list | tuple) or len(item) != 3:
                raise ConfigError(where, f"must be [name, name, rho] (got {quote(item)})")
            first, second, rho = item
            for name in (first, second):
                if name not in names:
                    guess = difflib.get_close_matches(str(name), names, n=1)
                    hint = f" (did you mean {guess[0]!r}?)" if guess else ""
                    raise ConfigError(
                        where, f"{quote(name)} is not one of the spec's parameters{hint}"
                    )
            if first == second:
                raise ConfigError(where, f"correlates {first} with itself")
            pair = frozenset((first, second))
            if pair in seen:
                raise ConfigError(
                    where,
                    f"{first} and {second} are correlated twice (also correlations[{seen[pair]}])",
                )
            seen[pair] = i
            rho = _number(where, f"the correlation of {first} and {second}", rho)
            if not abs(rho) < 1:
                raise ConfigError(
                    where, f"the correlation of {first} and {second} must lie in (-1, 1) "
                    f"(got {rho:g})"
                )  # fmt: skip
            correlations.append((first, second, rho))
        spec = cls(marginals, tuple(correlations), source)
        if correlations:
            smallest = float(np.linalg.eigvalsh(spec.normal_correlation).min())
            if smallest <= _MIN_EIGENVALUE:
                raise ConfigError(
                    key("correlations"),
                    f"the correlation matrix is not positive definite (smallest eigenvalue "
                    f"{smallest:.2g}); lower the correlations",
                )
        return spec

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (JSON- and YAML-ready) that :meth:`from_dict` reads back
        as an equal spec: ``{"parameters": {name: {"distribution": ..., args}},
        "correlations": [[name, name, rho], ...]}``."""
        return {
            "parameters": {
                m.name: {"distribution": m.distribution, **dict(m.args)} for m in self.marginals
            },
            "correlations": [[a, b, rho] for a, b, rho in self.correlations],
        }

    # ------------------------------------------------------------------ shape

    @property
    def names(self) -> list[str]:
        """Dotted keys of the uncertain parameters, in the order of the spec."""
        return [m.name for m in self.marginals]

    @property
    def bounds(self) -> dict[str, tuple[float, float] | tuple[int, int]]:
        """Parameter -> (smallest, largest) value a draw can take (the support, after
        truncation; integers for an integer parameter)."""
        return {m.name: m.bounds for m in self.marginals}

    @property
    def spearman(self) -> np.ndarray:
        """Requested Spearman rank correlations, shape (d, d) in the order of :attr:`names`
        (1 on the diagonal, 0 for unlisted pairs)."""
        index = {name: i for i, name in enumerate(self.names)}
        matrix = np.eye(len(index))
        for a, b, rho in self.correlations:
            matrix[index[a], index[b]] = matrix[index[b], index[a]] = rho
        return matrix

    @property
    def normal_correlation(self) -> np.ndarray:
        """Pearson correlations of the Gaussian copula's normal scores, shape (d, d):
        R = 2 sin(pi rho_s / 6) for Spearman rho_s (Kruskal 1958), the conversion under
        which the copula's draws have rank correlations rho_s."""
        return 2.0 * np.sin(np.pi * self.spearman / 6.0)

    # ------------------------------------------------------------------ drawing

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """The marginal quantile functions, column by column.

        ``u`` has shape (n, d) with values in [0, 1] (d = number of parameters, columns in
        the order of :attr:`names`); returns parameter values of shape (n, d), in the
        parameters' units, integer parameters rounded (as floats). Applies no correlation
        (see :meth:`correlate`). Raises :class:`ConfigError` (key ``u``) for a wrong shape or
        values outside [0, 1].
        """
        u = self._unit(u)
        if u.shape[0] == 0:
            return np.empty_like(u)
        return np.column_stack([m.ppf(u[:, j]) for j, m in enumerate(self.marginals)])

    def correlate(self, u: np.ndarray) -> np.ndarray:
        """Impose the rank correlations on independent unit points (Gaussian copula).

        ``u`` (n, d) in [0, 1] -> (n, d) in (0, 1): z = Phi^-1(u), z' = z L^T with L the
        Cholesky factor of :attr:`normal_correlation`, u' = Phi(z') (Iman and Conover 1982
        use the same normal-score construction). Without correlations ``u`` comes back
        unchanged, so a design keeps its structure. Raises :class:`ConfigError` (key ``u``)
        for a wrong shape or values outside [0, 1].
        """
        u = self._unit(u)
        if not self.correlations:
            return u
        lower = np.linalg.cholesky(self.normal_correlation)
        z = special.ndtri(np.clip(u, _TINY, 1.0 - _TINY))
        return special.ndtr(z @ lower.T)

    def sample(
        self, n: int, design: str = "lhs", seed: int | np.random.SeedSequence = 0
    ) -> pd.DataFrame:
        """``n`` correlated draws: a frame of n rows, one column per parameter (spec order).

        The unit points come from ``scipy.stats.qmc``: ``"lhs"`` a Latin hypercube
        (``LatinHypercube``), ``"sobol"`` a scrambled Sobol sequence (``Sobol``), or
        ``"random"`` independent uniforms; every generator is a ``numpy`` Generator seeded by
        ``seed`` (an int becomes ``SeedSequence(seed)``, whose stream differs from all its
        spawned children, such as the replicates' seeds of :mod:`agentsim.ensemble`). Then
        :meth:`correlate` and :meth:`ppf`. Float parameters are float64 columns, integer
        parameters int64. The same spec, ``n``, design and seed give an identical frame.

        Raises :class:`ConfigError`: key ``--samples`` unless ``n`` is an integer >= 1 (and,
        for ``"sobol"``, a power of 2), key ``--design`` for an unknown design, key
        ``--seed`` for a seed that is not a non-negative integer or a ``SeedSequence``.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ConfigError("--samples", f"must be an integer >= 1 (got {quote(n)})")
        n = int(n)
        if design not in DESIGNS:
            raise ConfigError("--design", f"must be one of {list(DESIGNS)} (got {quote(design)})")
        if design == "sobol" and n & (n - 1):
            below, above = 1 << (n.bit_length() - 1), 1 << n.bit_length()
            raise ConfigError(
                "--samples",
                f"a Sobol design needs a power of 2 samples (got {n}; use {below} or {above})",
            )
        if isinstance(seed, np.random.SeedSequence):
            sequence = seed
        elif isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0:
            sequence = np.random.SeedSequence(int(seed))
        else:
            raise ConfigError(
                "--seed", f"must be an integer >= 0 or a SeedSequence (got {quote(seed)})"
            )
        rng = np.random.default_rng(sequence)
        d = len(self.marginals)
        if design == "lhs":
            u = qmc.LatinHypercube(d, rng=rng).random(n)
        elif design == "sobol":
            u = qmc.Sobol(d, scramble=True, rng=rng).random_base2(n.bit_length() - 1)
        else:
            u = rng.random((n, d))
        values = self.ppf(self.correlate(u))
        return pd.DataFrame(
            {
                m.name: values[:, j].astype(np.int64) if m.integer else values[:, j]
                for j, m in enumerate(self.marginals)
            }
        )

    def _unit(self, u: Any) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        d = len(self.marginals)
        if u.ndim != 2 or u.shape[1] != d:
            raise ConfigError("u", f"must have shape (n, {d}) (got {u.shape})")
        if not np.all((u >= 0) & (u <= 1)):
            raise ConfigError("u", "unit points must lie in [0, 1]")
        return u

    # ------------------------------------------------------------------ using the draws

    def overrides(self, row: Mapping[str, Any] | pd.Series | Sequence[float]) -> dict[str, Any]:
        """One drawn row as dotted-key overrides for :func:`~agentsim.scenario_io.apply_overrides`.

        ``row`` is a row of :meth:`sample` (a ``Series`` or mapping by parameter) or a
        sequence of d values in the order of :attr:`names`. Values come back as Python
        ``int`` (integer parameters, which must hold whole numbers) or ``float``. Raises
        :class:`ConfigError` naming the parameter for a missing, non-numeric or (integer
        parameter) fractional value, and (key ``row``) for a sequence of the wrong length.
        """
        if hasattr(row, "keys"):
            values = []
            for name in self.names:
                try:
                    values.append(row[name])
                except (KeyError, IndexError):
                    raise ConfigError(name, "is missing from the row") from None
        else:
            values = list(row)
            if len(values) != len(self.marginals):
                raise ConfigError(
                    "row", f"must hold {len(self.marginals)} values (got {len(values)})"
                )
        result: dict[str, Any] = {}
        for m, value in zip(self.marginals, values, strict=True):
            number = _number(m.name, "the drawn value", value)
            if m.integer:
                if number != math.floor(number):
                    raise ConfigError(m.name, f"must be a whole number (got {number:g})")
                result[m.name] = int(number)
            else:
                result[m.name] = float(number)
        return result

    def check_scenario(self, scenario: Mapping[str, Any] | Config) -> None:
        """Refuse parameters that name a lab or jurisdiction the scenario does not have.

        ``scenario`` is a validated :class:`~agentsim.config.Config` or a scenario mapping
        (as :func:`~agentsim.scenario_io.read_yaml` returns). Raises :class:`ConfigError`
        naming the parameter and listing the scenario's labs or jurisdictions.
        """
        data = config_to_dict(scenario) if isinstance(scenario, Config) else scenario
        for name in self.names:
            parts = name.split(".")
            if parts[0] in ("labs", "jurisdictions"):
                section, key = parts[0], parts[1]
            elif parts[:2] == ["capital", "capital_billions"]:
                section, key = "jurisdictions", parts[2]
            else:
                continue
            known = data.get(section) or {}
            if key not in known:
                what = "lab" if section == "labs" else "jurisdiction"
                raise ConfigError(
                    name,
                    f"names {what} {quote(key)}, which the scenario does not have "
                    f"({section}: {quote(list(known), 400)})",
                )

    def validate_draws(self, draws: pd.DataFrame, scenario: Mapping[str, Any] | Config) -> None:
        """Check that every drawn row, applied to ``scenario``, gives a valid config.

        Applies :meth:`overrides` of each row of ``draws`` (a frame from :meth:`sample`) with
        :func:`~agentsim.scenario_io.apply_overrides` and validates the result with
        :func:`~agentsim.scenario_io.validate_config` (which also checks rules across
        parameters, such as researcher shares summing to 1). Raises :class:`ConfigError` as
        :meth:`check_scenario`, or the validation's error with the row's index added.
        """
        self.check_scenario(scenario)
        data = config_to_dict(scenario) if isinstance(scenario, Config) else dict(scenario)
        for index, row in draws.iterrows():
            try:
                validate_config(apply_overrides(data, self.overrides(row)))
            except ConfigError as exc:
                raise ConfigError(exc.key, f"{exc.rule} (draw {index})") from None

"""Reading scenarios: YAML files, ``extends:`` chains, dotted overrides, validation and dumping.

A scenario is a YAML file validated into :class:`~agentsim.config.Config`. Files may ``extends:``
another file (path relative to the extending file, or the bare name of a shipped scenario) and
override any key; command-line ``--set a.b=v`` expressions and keyword overrides of
:func:`agentsim.simulate` use the same dotted paths. Every failure raises
:class:`~agentsim.config.ConfigError` with a one-line message naming the key and the rule.

The shipped scenarios (the repository's ``configs/`` folder) are package data of the package
``agentsim.scenarios``, so an installed agentsim finds them: :data:`DEFAULT_SCENARIO` is the
calibrated baseline that ``load_config(None)`` returns, and :func:`scenario_path` turns a bare
name such as ``"baseline"`` into the shipped file.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from agentsim.config import Config, ConfigError

#: Folder of the shipped scenario files (``configs/`` in the repository).
SCENARIO_DIR: Path = Path(str(files("agentsim.scenarios")))
#: The calibrated baseline: the scenario used wherever none is given.
DEFAULT_SCENARIO: Path = SCENARIO_DIR / "baseline.yaml"


def shipped_scenarios() -> list[str]:
    """Names of the shipped scenarios (file names without ``.yaml``), sorted."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def scenario_path(name_or_path: str | Path) -> Path:
    """The scenario file for a path or a shipped scenario's name.

    A path that exists wins. Otherwise a bare name (no folder), with or without ``.yaml``,
    names a shipped scenario: ``scenario_path("baseline")`` is :data:`DEFAULT_SCENARIO`.
    Anything else is returned unchanged, so reading it reports the missing file. A bare name
    that is neither raises :class:`ConfigError` listing the shipped scenarios.
    """
    path = Path(name_or_path)
    if path.exists() or path.parent != Path(".") or not path.name:
        return path
    shipped = SCENARIO_DIR / (path.name if path.suffix == ".yaml" else f"{path.name}.yaml")
    if shipped.is_file():
        return shipped
    raise ConfigError(
        str(name_or_path),
        f"file not found, and not a shipped scenario (shipped: {shipped_scenarios()})",
    )


def _format_location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if not str(part).startswith("function-"))


def _walk_schema(parts: list[str]) -> list[str]:
    """Follow a dotted path through the schema; return the field names valid at its end.

    Keys of free mappings (lab names, jurisdiction codes) are skipped. Raises a did-you-mean
    :class:`ConfigError` where the path leaves the schema.
    """
    current: Any = Config
    i = 0
    while i < len(parts):
        fields = current.model_fields
        if parts[i] not in fields:
            guess = difflib.get_close_matches(parts[i], list(fields), n=1)
            hint = f" (did you mean {guess[0]!r}?)" if guess else f"; known keys: {list(fields)}"
            raise ConfigError(".".join(parts[: i + 1]), f"unknown key{hint}")
        annotation = fields[parts[i]].annotation
        args = getattr(annotation, "__args__", ())
        is_mapping = getattr(annotation, "__origin__", None) is dict
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            current, i = annotation, i + 1
        elif args and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
            current, i = args[-1], i + 2  # dict[str, Section]: skip the free key
        elif i == len(parts) - 1 or (is_mapping and i == len(parts) - 2):
            return []  # a value, or one entry of a mapping of values
        else:
            raise ConfigError(".".join(parts[: i + 1]), "is a value, not a section")
    return list(current.model_fields)


def _rule_from_error(err: dict[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx", {})
    got = err.get("input")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "is required"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {
            "greater_than_equal": ">=",
            "greater_than": ">",
            "less_than_equal": "<=",
            "less_than": "<",
        }[kind]
        bound = next(iter(ctx.values()))
        return f"must be {op} {bound} (got {got!r})"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')} (got {got!r})"
    msg = str(err["msg"]).replace("Input should be", "must be")
    return f"{msg} (got {got!r})" if got is not None and not isinstance(got, dict) else msg


def validate_config(data: Mapping[str, Any]) -> Config:
    """Validate a nested mapping into a :class:`Config`, raising a one-line :class:`ConfigError`."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = tuple(err["loc"])
        key = _format_location(loc)
        if err["type"] == "value_error":
            text = str(err["msg"]).removeprefix("Value error, ")
            if ": " in text:
                key, rule = text.split(": ", 1)
                raise ConfigError(key, rule) from None
            raise ConfigError(key or "config", text) from None
        rule = _rule_from_error(err)
        if err["type"] == "extra_forbidden":
            try:
                allowed = _walk_schema([str(p) for p in loc[:-1]])
            except ConfigError:
                allowed = []
            guess = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            rule += f" (did you mean {guess[0]!r}?)" if guess else f"; known keys: {allowed}"
        raise ConfigError(key, rule) from None


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; nested mappings merge, the rest replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a scenario file and the chain of files it ``extends:``, merged into one mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "file not found")
    resolved = path.resolve()
    if resolved in _seen:
        raise ConfigError(str(path), "extends: forms a cycle")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        lines = max(len(path.read_text(encoding="utf-8", errors="replace").splitlines()), 1)
        where = f" at line {min(mark.line + 1, lines)}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(str(path), f"malformed YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot be read ({exc.__class__.__name__})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "must hold a mapping of keys to values at the top level")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError("extends", f"must be a file path (got {parent!r})")
    target = path.parent / parent
    if not target.is_file() and Path(parent).parent == Path("."):
        try:  # a bare name not found beside the file: a shipped scenario
            target = scenario_path(parent)
        except ConfigError:
            pass  # reading ``target`` reports the missing file
    base = read_yaml(target, (*_seen, resolved))
    return deep_merge(base, data)


def parse_assignment(expression: str) -> tuple[str, Any]:
    """Split ``a.b.c=value`` into the dotted key and the YAML-parsed value."""
    key, sep, raw = expression.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError("--set", f"expects KEY=VALUE with a dotted key (got {expression!r})")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        raise ConfigError(key, f"value {raw!r} is not valid YAML") from None
    return key, value


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``key='a.b.c'`` once the path is checked."""
    parts = key.split(".")
    _walk_schema(parts)
    node = data
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(".".join(parts[: depth + 1]), "is a value, not a section")
        node = child
    node[parts[-1]] = value


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted-path overrides applied."""
    result = copy.deepcopy(data)
    for key, value in overrides.items():
        set_dotted(result, key, value)
    return result


def load_config(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    assignments: Iterable[str] = (),
) -> Config:
    """Load a scenario, apply overrides, validate.

    ``path`` is a scenario file, the name of a shipped scenario (see :func:`scenario_path`) or
    None for the calibrated baseline (:data:`DEFAULT_SCENARIO`). ``overrides`` maps dotted keys
    to values; ``assignments`` are ``KEY=VALUE`` strings as given to ``--set``. Raises
    :class:`ConfigError` on any bad input.
    """
    source = scenario_path(path) if path is not None else DEFAULT_SCENARIO
    data = read_yaml(source)
    if "name" not in data:
        data["name"] = source.stem
    merged = dict(overrides or {})
    for expression in assignments:
        key, value = parse_assignment(expression)
        merged[key] = value
    data = apply_overrides(data, merged)
    return validate_config(data)


def config_to_dict(config: Config) -> dict[str, Any]:
    """Plain, YAML-ready mapping of a resolved config (tuples become lists)."""
    return config.model_dump(mode="json")


def dump_config(config: Config) -> str:
    """The resolved config as YAML text."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False, allow_unicode=True)

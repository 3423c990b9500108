"""Reading scenarios: YAML files, ``extends:`` chains, dotted overrides, validation and dumping.

A scenario is a YAML file validated into :class:`~agentsim.config.Config`. Files may ``extends:``
another file (path relative to the extending file, or the bare name of a shipped scenario) and
override any key; command-line ``--set a.b=v`` expressions and keyword overrides of
:func:`agentsim.simulate` use the same dotted paths. Every failure raises
:class:`~agentsim.config.ConfigError` with a one-line message naming the key and the rule.

**How a file is read.** Files and ``--set``/``--grid`` values are read as YAML 1.2 (the core
schema, through ``ruamel.yaml``'s safe loader): only ``true``/``false`` are booleans (``yes``,
``no``, ``on`` and ``off`` are text), numbers are decimal whatever their leading zeros
(``012`` is twelve; octal must be written ``0o12``), ``1e3`` is a number, and a key given twice
in one mapping is an error naming the key and both lines. The schema then takes numbers and
booleans strictly (see :class:`agentsim.config.Section`).

**One merge rule.** A scenario file over the file it extends, ``--set`` and ``--grid`` values
over the scenario, keyword overrides of :func:`agentsim.simulate` and the model's levers all
combine by :func:`deep_merge`: a mapping merges into the mapping it lands on key by key, at
every depth; any other value (number, text, list, null) replaces. Two explicit forms do the
rest: :data:`REMOVE` (``!remove`` in YAML) deletes a key, such as a lab or a jurisdiction, and
:class:`Replace` (``!replace`` in YAML) puts a mapping in place of the whole mapping it lands
on (keys it leaves out fall back to the schema's defaults, or vanish from a mapping of labs,
jurisdictions or values).

The shipped scenarios (the repository's ``configs/`` folder) are package data of the package
``agentsim.scenarios``, so an installed agentsim finds them: :data:`DEFAULT_SCENARIO` is the
calibrated baseline that ``load_config(None)`` returns, and :func:`scenario_path` turns a bare
name such as ``"baseline"`` into the shipped file.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import ConstructorError, SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.scanner import Scanner
from ruamel.yaml.tokens import TagToken

from agentsim.config import PATTERN_RULES, Config, ConfigError, clip, quote

#: Folder of the shipped scenario files (``configs/`` in the repository).
SCENARIO_DIR: Path = Path(str(files("agentsim.scenarios")))
#: The calibrated baseline: the scenario used wherever none is given.
DEFAULT_SCENARIO: Path = SCENARIO_DIR / "baseline.yaml"

#: Deepest nesting of a scenario (mappings and lists inside one another, counted from the
#: top level), in a file, a ``--set`` value or a mapping given to :func:`validate_config`.
#: The shipped scenarios nest 5 levels deep (lists of pairs under ``market.closed``); 100 is
#: far beyond any scenario and far below the depth at which Python's recursion gives out.
MAX_DEPTH = 100
#: Most values (nodes: mappings, lists and scalars, keys included) that one YAML document
#: may hold once its aliases are expanded. The baseline holds about 560; this refuses a
#: "billion laughs" file of nested aliases while it is read, before it can fill memory.
MAX_YAML_NODES = 100_000
#: Most files in one ``extends:`` chain (the file itself included).
MAX_EXTENDS = 20


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
    if _is_file(path, exists=True) or path.parent != Path(".") or not path.name:
        return path
    shipped = SCENARIO_DIR / (path.name if path.suffix == ".yaml" else f"{path.name}.yaml")
    if _is_file(shipped):
        return shipped
    raise ConfigError(
        str(name_or_path),
        f"file not found, and not a shipped scenario (shipped: {shipped_scenarios()})",
    )


def _is_file(path: Path, exists: bool = False) -> bool:
    """``path.is_file()`` (or ``path.exists()``); a path the system refuses to look up (a name
    too long) raises :class:`ConfigError` instead of ``OSError``."""
    try:
        return path.exists() if exists else path.is_file()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(str(path), f"cannot be read ({reason})") from None


def _format_location(loc: tuple[Any, ...]) -> str:
    return _dotted([str(part) for part in loc if not str(part).startswith("function-")])


def _dotted(parts: Iterable[Any]) -> str:
    """A dotted key for a message; each part (a lab's name, a key the reader wrote) clipped."""
    return ".".join(clip(str(part)) for part in parts)


def _close_match(key: str, known: Iterable[Any]) -> str | None:
    """The known key closest to ``key`` (difflib), or None; long keys are not compared."""
    if len(key) > 200:
        return None
    guess = difflib.get_close_matches(key, [str(k) for k in known], n=1)
    return guess[0] if guess else None


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
            guess = _close_match(parts[i], fields)
            hint = f" (did you mean {guess!r}?)" if guess else f"; known keys: {list(fields)}"
            raise ConfigError(_dotted(parts[: i + 1]), f"unknown key{hint}")
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
            raise ConfigError(_dotted(parts[: i + 1]), "is a value, not a section")
    return list(current.model_fields)


def _shown(value: Any) -> str:
    """A value as the reader wrote it: booleans and null in YAML spelling, the rest quoted
    (:func:`~agentsim.config.quote`: one line, a short prefix of a long value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return quote(value)


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
        return f"must be {op} {bound} (got {quote(got)})"
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern")
        rule = PATTERN_RULES.get(pattern, f"text matching {pattern}")
        return f"must be {rule} (got {quote(got)})"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        what = "an integer, not a boolean" if isinstance(got, bool) else "an integer"
        return f"must be {what} (got {_shown(got)})"
    if kind in ("float_type", "float_parsing"):
        what = "a number, not a boolean" if isinstance(got, bool) else "a number"
        return f"must be {what} (got {_shown(got)})"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be a boolean, true or false (got {_shown(got)})"
    if kind == "finite_number":
        return f"must be a finite number (got {_shown(got)})"
    if kind == "string_type" and isinstance(got, dt.date):
        return f"must be text; YAML reads {got.isoformat()} as a date (quote it)"
    if kind == "string_type":
        return f"must be text (got {_shown(got)})"
    msg = str(err["msg"]).replace("Input should be", "must be")
    return f"{msg} (got {quote(got)})" if got is not None and not isinstance(got, dict) else msg


#: Types :func:`_plain` returns as they are.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any, where: str, depth: int = 0) -> Any:
    """``value`` with NumPy scalars made Python scalars (``numpy.bool_`` a bool, ``numpy.int64``
    an int); a :data:`REMOVE` or :class:`Replace` left over (never merged) is an error, and so
    is nesting deeper than :data:`MAX_DEPTH`."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Mapping):
        if depth >= MAX_DEPTH:
            raise ConfigError(where or "config", _TOO_DEEP)
        return {
            key: _plain(item, f"{where}.{clip(str(key))}" if where else clip(str(key)), depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        if depth >= MAX_DEPTH:
            raise ConfigError(where or "config", _TOO_DEEP)
        return type(value)(_plain(item, where, depth + 1) for item in value)
    if value is REMOVE or isinstance(value, Replace):
        form = "!remove" if value is REMOVE else "!replace"
        raise ConfigError(where or "config", f"{form} only applies as the value of a key")
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def validate_config(data: Mapping[str, Any]) -> Config:
    """Validate a nested mapping into a :class:`Config`.

    NumPy scalars count as the Python scalars they hold. Raises a one-line
    :class:`ConfigError` naming the key and the rule: an unknown key (with a did-you-mean), a
    value of the wrong type (a boolean is never a number, a number never a boolean, text never
    either), a value out of bounds, a world that does not hold together, or a :data:`REMOVE`
    or :class:`Replace` outside a merge.
    """
    try:
        data = _plain(data, "")
        return Config.model_validate(data)
    except RecursionError:  # a last resort: _plain refuses deep nesting first
        raise ConfigError("config", _TOO_DEEP) from None
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
            guess = _close_match(str(loc[-1]), allowed)
            rule += f" (did you mean {guess!r}?)" if guess else f"; known keys: {allowed}"
        raise ConfigError(key, rule) from None


# --------------------------------------------------------------------------- the merge rule


class _Remove:
    """The type of :data:`REMOVE` (one instance)."""

    _instance: _Remove | None = None

    def __new__(cls) -> _Remove:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "REMOVE"

    def __reduce__(self) -> str:
        return "REMOVE"  # pickles as this module's REMOVE: still the one instance


#: As the value of a key in a merge (``!remove`` in YAML): delete that key, e.g. a lab
#: (``{"labs.Meta": REMOVE}``), a jurisdiction, or a parameter (which then takes the schema's
#: default). Removing a key that is not there is an error.
REMOVE = _Remove()


@dataclass(frozen=True)
class Replace:
    """A value that replaces what it lands on instead of merging into it (``!replace``).

    ``Replace({"noise": 0.1})`` given for ``research`` sets ``research.noise`` and returns every
    other research parameter to the schema's default; given for ``labs`` (or a lab, a
    jurisdiction, ``capital.capital_billions``) it leaves exactly the entries it holds.
    """

    value: Any


def _did_you_mean(key: str, known: Iterable[Any]) -> str:
    guess = _close_match(key, known)
    return f" (did you mean {quote(guess)}?)" if guess else ""


def _merged(old: Any, new: Any, where: str) -> Any:
    if isinstance(new, Replace):
        return _merged(None, new.value, where)
    if isinstance(new, Mapping):
        return deep_merge(old if isinstance(old, Mapping) else {}, new, where)
    if isinstance(new, list | tuple):
        return [_merged(None, item, where) for item in new]
    if new is REMOVE:
        raise ConfigError(where or "config", "!remove only applies as the value of a key")
    return new


def deep_merge(
    base: Mapping[str, Any], override: Mapping[str, Any], where: str = ""
) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base`` by the one merge rule.

    A mapping merges into the mapping it lands on, key by key, at every depth; any other
    value replaces. :data:`REMOVE` deletes its key; :class:`Replace` puts its value in place
    of what was there. Neither argument is changed, and the result holds neither marker.
    ``where`` is the dotted path of ``base`` (for messages). Raises :class:`ConfigError` when
    :data:`REMOVE` names a key that is not there (with a did-you-mean) or stands elsewhere
    than as the value of a key.
    """
    merged = dict(base)
    for key, value in override.items():
        path = f"{where}.{key}" if where else str(key)
        if value is REMOVE:
            if key not in merged:
                hint = _did_you_mean(str(key), merged)
                raise ConfigError(path, f"!remove: there is no such key to remove{hint}")
            del merged[key]
        else:
            merged[key] = _merged(merged.get(key), value, path)
    return merged


def _holds_marker(value: Any) -> bool:
    if value is REMOVE or isinstance(value, Replace):
        return True
    if isinstance(value, Mapping):
        return any(_holds_marker(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_marker(item) for item in value)
    return False


def _nested(key: str, value: Any) -> dict[str, Any]:
    """``{"a": {"b": value}}`` for ``key="a.b"``, once the path is checked against the schema."""
    parts = key.split(".")
    _walk_schema(parts)
    nested: Any = value
    for part in reversed(parts):
        nested = {part: nested}
    return nested


def _leaves(key: str, value: Any) -> list[str]:
    """The dotted keys an override sets: a plain mapping sets its leaves, anything else
    (a value, a :class:`Replace`, :data:`REMOVE`) the key itself."""
    if isinstance(value, Mapping) and value:
        return [leaf for k, v in value.items() for leaf in _leaves(f"{key}.{k}", v)]
    return [key]


def check_distinct(
    option: str, items: Iterable[tuple[str, Any]], written: Iterable[str] | None = None
) -> None:
    """Refuse overrides that set one key twice, so that no result depends on their order.

    ``items`` are (dotted key, value) pairs given to ``option`` (``--set``, ``--grid``...);
    ``written`` says how each was written, for the message (default ``KEY=VALUE``). Two
    overlap when they set the same key, or one sets a key inside what the other sets whole
    (``research.noise=0.1`` and ``research=!replace {noise: 0.2}``). Raises
    :class:`ConfigError` (key ``option``) naming the key and both expressions.
    """
    items = list(items)
    if written is not None:
        shown = [clip(text) for text in written]
    else:
        shown = [f"{clip(str(k))}={quote(v)}" for k, v in items]
    seen: dict[str, int] = {}
    for i, (key, value) in enumerate(items):
        leaves = _leaves(key, value)
        for leaf in leaves:
            for other, j in seen.items():
                if leaf == other or leaf.startswith(f"{other}.") or other.startswith(f"{leaf}."):
                    raise ConfigError(
                        option,
                        f"{clip(min(leaf, other, key=len))} is given twice ({shown[j]} and "
                        f"{shown[i]}); give it once",
                    )
        seen.update((leaf, i) for leaf in leaves)


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with dotted-path overrides merged in by the one merge rule.

    ``{"research": {"noise": 0.1}}`` changes only ``research.noise``, as
    ``{"research.noise": 0.1}`` does; :data:`REMOVE` and :class:`Replace` are the explicit
    forms. Raises :class:`ConfigError` for a path outside the schema (with a did-you-mean),
    two overrides of one key (see :func:`check_distinct`) and a :data:`REMOVE` of a key that
    is not there.
    """
    try:
        check_distinct("overrides", overrides.items())
        result = copy.deepcopy(dict(data))
        for key, value in overrides.items():
            result = deep_merge(result, _nested(key, value))
    except RecursionError:  # nesting too deep to follow (validate_config names the rule)
        raise ConfigError("overrides", _TOO_DEEP) from None
    return result


# --------------------------------------------------------------------------- reading YAML


#: The rule broken by nesting deeper than :data:`MAX_DEPTH`.
_TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


class _DuplicateKeyError(YAMLError):
    def __init__(self, key: Any, line: int, first: int | None) -> None:
        self.key, self.line, self.first = key, line, first
        super().__init__(f"duplicate key {quote(key)}")


class _LimitError(MarkedYAMLError):
    """YAML that is well formed but refused as too big or too deep to read safely."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(None, None, problem, mark)


class _Composer(Composer):
    """The composer, refusing a document as it is read (before it is built or expanded)
    when it nests deeper than :data:`MAX_DEPTH` or holds more than :data:`MAX_YAML_NODES`
    values, each alias counted as the whole node it names, at the depth it is used.

    An alias does not copy its node while the document is composed, but everything that
    reads the document afterwards (the merge, the validation, an error message quoting it)
    walks the expansion, which grows tenfold per level in a "billion laughs" file. An alias
    inside the node it names (a structure holding itself) is refused too. An anchor given
    again is no warning: YAML 1.2 lets an alias name the latest node with its anchor.
    """

    def compose_document(self) -> Any:
        self.warn_double_anchors = False
        self._nodes = 0  # values so far, aliases expanded
        self._level = 0  # level of the node whose children are being composed
        self._deepest = 0  # deepest level reached in the node being composed
        self._aliased = False
        self._extent: dict[int, tuple[int, int]] = {}  # anchored node -> (values, levels)
        return super().compose_document()

    def _add(self, nodes: int, levels: int, mark: Any) -> None:
        """Count ``nodes`` values more, reaching ``levels`` levels below the current one."""
        self._nodes += nodes
        self._deepest = max(self._deepest, self._level + levels)
        if self._deepest > MAX_DEPTH:
            raise _LimitError(_TOO_DEEP, mark)
        if self._nodes > MAX_YAML_NODES:
            if self._aliased:
                problem = f"YAML aliases expand to more than {MAX_YAML_NODES} values"
                raise _LimitError(f"{problem}; write the values out", mark)
            raise _LimitError(f"holds more than {MAX_YAML_NODES} values", mark)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:  # (the base class reports an undefined alias)
                extent = self._extent.get(id(target))
                if extent is None:
                    raise _LimitError(
                        f"alias *{clip(str(event.anchor))} is used inside the node it names "
                        "(a structure that holds itself)",
                        event.start_mark,
                    )
                self._aliased = True
                self._add(*extent, event.start_mark)
            return super().compose_node(parent, index)
        self._add(1, 1, event.start_mark)
        outer, first = self._deepest, self._nodes
        self._level += 1
        self._deepest = self._level
        node = super().compose_node(parent, index)
        self._level -= 1
        if event.anchor is not None:
            self._extent[id(node)] = (self._nodes - first + 1, self._deepest - self._level)
        self._deepest = max(outer, self._deepest)
        return node


class _Constructor(SafeConstructor):
    """YAML 1.2 safe constructor that refuses duplicate keys and knows ``!remove``/``!replace``.

    A scalar that its tag cannot read (``2026-02-31``, ``!!int abc``, an integer of more
    digits than Python turns into a number) is a YAML error naming its line, not a crash.
    """

    def construct_non_recursive_object(self, node: Any, tag: str | None = None) -> Any:
        """The node's value; a value its tag's reader refuses raises ``ConstructorError``."""
        try:
            return super().construct_non_recursive_object(node, tag)
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            kind = str(tag or node.tag).rsplit(":", 1)[-1]
            shown = f" {quote(node.value)}" if isinstance(node, ScalarNode) else ""
            reason = "too many digits" if "digits" in str(exc) else type(exc).__name__
            raise ConstructorError(
                None, None, f"cannot read{shown} as {clip(kind)} ({reason})", node.start_mark
            ) from None

    def check_mapping_key(self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any):
        """Refuse a key already in the mapping, naming it and both lines."""
        if key in mapping:
            first = next(
                (
                    k.start_mark.line + 1
                    for k, _ in node.value
                    if k is not key_node and getattr(k, "value", None) == key_node.value
                ),
                None,
            )
            raise _DuplicateKeyError(key, key_node.start_mark.line + 1, first)
        return True


def _construct_remove(constructor: SafeConstructor, node: Any) -> _Remove:
    if not isinstance(node, ScalarNode) or node.value.strip() not in ("", "~", "null"):
        raise ConstructorError(None, None, "!remove takes no value", node.start_mark)
    return REMOVE


def _construct_replace(constructor: SafeConstructor, node: Any) -> Replace:
    if isinstance(node, MappingNode):
        return Replace(constructor.construct_mapping(node, deep=True))
    if isinstance(node, SequenceNode):
        return Replace(constructor.construct_sequence(node, deep=True))
    raise ConstructorError(None, None, "!replace takes a mapping or a list", node.start_mark)


_Constructor.add_constructor("!remove", _construct_remove)
_Constructor.add_constructor("!replace", _construct_replace)


class _Scanner(Scanner):
    """The safe scanner, except that ``!remove`` and ``!replace`` end at a flow indicator, as
    YAML 1.2 says a tag does (``{Meta: !remove, TII: !remove}`` reads as written)."""

    def scan_tag(self) -> Any:
        """A tag token; ``!remove``/``!replace`` before a blank or ``,[]{}`` read directly."""
        for name in ("remove", "replace"):
            size = len(name) + 1
            if self.reader.prefix(size) == f"!{name}" and self.reader.peek(size) in _TAG_END:
                start = self.reader.get_mark()
                self.reader.forward(size)
                return TagToken(("!", name), start, self.reader.get_mark())
        return super().scan_tag()


#: What may follow ``!remove``/``!replace``: flow indicators, blanks, line ends, the end.
_TAG_END = frozenset(",[]{} \t\r\n\x00\ufeff\x85\u2028\u2029")


def _loader() -> YAML:
    yaml = YAML(typ="safe", pure=True)  # pure: the same YAML 1.2 reading with or without C
    yaml.Composer = _Composer
    yaml.Constructor = _Constructor
    yaml.Scanner = _Scanner
    return yaml


def load_yaml(text: str) -> Any:
    """Parse YAML text as agentsim reads every file and ``--set``/``--grid`` value.

    YAML 1.2 core schema: ``true``/``false`` are the only booleans, integers are decimal
    (``012`` is 12; ``0o12`` is octal), ``1e3`` is a float, ``2026-01-15`` a date;
    ``!remove`` gives :data:`REMOVE` and ``!replace`` a :class:`Replace`. Raises
    ``ruamel.yaml`` errors (``YAMLError``) for malformed text, a duplicate key, an unknown
    tag, a value its tag cannot read, and text nested deeper than :data:`MAX_DEPTH` or whose
    aliases expand to more than :data:`MAX_YAML_NODES` values (refused while it is read).
    """
    return _loader().load(text)


def _yaml_problem(exc: YAMLError) -> tuple[str, int | None, int | None]:
    """The problem and its (1-based) line and column, from a YAML error."""
    if isinstance(exc, _DuplicateKeyError):
        first = f" (first at line {exc.first})" if exc.first else ""
        return f"duplicate key {quote(exc.key)}{first}", exc.line, None
    mark = getattr(exc, "problem_mark", None)
    problem = clip(str(getattr(exc, "problem", None) or "not valid YAML"), 200)
    if mark is None:
        return problem, None, None
    return problem, mark.line + 1, mark.column + 1


def read_yaml(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a scenario file and the chain of files it ``extends:``, merged into one mapping.

    The file merges into its parent by :func:`deep_merge`; the result holds no
    :data:`REMOVE` or :class:`Replace`. Raises :class:`ConfigError` for a missing or
    unreadable file, malformed YAML or a duplicate key (naming the line), a top level that is
    not a mapping, a bad or cyclic ``extends:`` and a bad ``!remove``.
    """
    path = Path(path)
    if not _is_file(path):
        raise ConfigError(str(path), "file not found")
    resolved = path.resolve()
    if resolved in _seen:
        raise ConfigError(str(path), "extends: forms a cycle")
    if len(_seen) >= MAX_EXTENDS:
        raise ConfigError(str(path), f"extends: a chain of more than {MAX_EXTENDS} files")
    try:
        text = path.read_text(encoding="utf-8")
        data = load_yaml(text)
    except YAMLError as exc:
        problem, line, column = _yaml_problem(exc)
        if line is not None:
            line = min(line, max(len(text.splitlines()), 1))
        where = (
            "" if line is None else f" at line {line}" + (f", column {column}" if column else "")
        )
        if isinstance(exc, _LimitError):
            place = f" ({where.strip()})" if where else ""
            raise ConfigError(str(path), f"{problem}{place}") from None
        if isinstance(exc, _DuplicateKeyError):
            raise ConfigError(str(path), f"{problem}{where}") from None
        raise ConfigError(str(path), f"malformed YAML{where}: {problem}") from None
    except RecursionError:  # a last resort: the composer refuses deep nesting first
        raise ConfigError(str(path), _TOO_DEEP) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot be read ({exc.__class__.__name__})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "must hold a mapping of keys to values at the top level")
    parent = data.pop("extends", None)
    if parent is None:
        return deep_merge({}, data)
    if not isinstance(parent, str):
        raise ConfigError("extends", f"must be a file path (got {quote(parent)})")
    target = path.parent / parent
    if not _is_file(target) and Path(parent).parent == Path("."):
        try:  # a bare name not found beside the file: a shipped scenario
            target = scenario_path(parent)
        except ConfigError:
            pass  # reading ``target`` reports the missing file
    base = read_yaml(target, (*_seen, resolved))
    return deep_merge(base, data)


def parse_value(key: str, raw: str, option: str = "--set") -> Any:
    """Read one ``--set`` value as YAML, as files are read (see :func:`load_yaml`).

    Empty text is the empty string. Raises :class:`ConfigError` naming ``key`` when the text
    is not valid YAML, repeats a key or holds an unknown tag.
    """
    if not raw.strip():
        return ""
    return _parse(key, raw, raw, option)


def _parse(key: str, text: str, raw: str, option: str) -> Any:
    try:
        return load_yaml(text)
    except _LimitError as exc:
        raise ConfigError(key, f"{option} value {quote(raw)}: {exc.problem}") from None
    except YAMLError as exc:
        problem, _, _ = _yaml_problem(exc)
        raise ConfigError(
            key, f"{option} value {quote(raw)} is not valid YAML ({problem})"
        ) from None
    except RecursionError:  # a last resort: the composer refuses deep nesting first
        raise ConfigError(key, f"{option} value {quote(raw)}: {_TOO_DEEP}") from None


def parse_assignment(expression: str) -> tuple[str, Any]:
    """Split ``a.b.c=value`` into the dotted key and the YAML-parsed value.

    Raises :class:`ConfigError` (key ``--set``) for an expression without ``=`` or with an
    empty part in the key, and as :func:`parse_value` for the value.
    """
    key, sep, raw = expression.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError("--set", f"expects KEY=VALUE with a dotted key (got {quote(expression)})")
    return key, parse_value(key, raw)


def parse_assignments(expressions: Iterable[str]) -> dict[str, Any]:
    """``--set`` expressions as dotted key -> value, in order.

    Raises :class:`ConfigError` as :func:`parse_assignment`, and when two expressions set one
    key (see :func:`check_distinct`).
    """
    expressions = list(expressions)
    pairs = [parse_assignment(expression) for expression in expressions]
    check_distinct("--set", pairs, expressions)
    return dict(pairs)


def parse_grid(expressions: Iterable[str]) -> dict[str, list[Any]]:
    """``--grid KEY=V1,V2,...`` expressions as dotted key -> list of values.

    The values are read as one YAML flow list, ``[V1, V2, ...]``, so a value may itself be a
    list or a mapping (``research={noise: 0.1},{noise: 0.2}``) and numbers read as in files.
    Raises :class:`ConfigError` for an expression without a key or values, values that are
    not valid YAML, a key outside the schema, a key given twice (or inside another's value,
    see :func:`check_distinct`), and :data:`REMOVE` or :class:`Replace` as a grid value
    (a grid point must be a plain value; use ``--set`` for those).
    """
    grid: dict[str, list[Any]] = {}
    items: list[tuple[str, Any]] = []
    written: list[str] = []
    for expression in expressions:
        key, sep, raw = expression.partition("=")
        key = key.strip()
        if not sep or not key or not raw.strip() or any(not p for p in key.split(".")):
            raise ConfigError("--grid", f"expects KEY=V1,V2,... (got {quote(expression)})")
        _walk_schema(key.split("."))
        values = _parse(key, f"[{raw}\n]", raw, "--grid")  # the values as one flow list
        if any(_holds_marker(value) for value in values):
            raise ConfigError(key, "!remove and !replace are not --grid values; use --set")
        grid[key] = values
        # what the key sets across all its values: the leaves of mapping values, else itself
        covered: Any = None
        if all(isinstance(value, Mapping) for value in values):
            covered = {}
            for value in values:
                covered = deep_merge(covered, value, key)
        items.append((key, covered))
        written.append(expression)
    check_distinct("--grid", items, written)
    return grid


def load_config(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    assignments: Iterable[str] = (),
) -> Config:
    """Load a scenario, apply overrides, validate.

    ``path`` is a scenario file, the name of a shipped scenario (see :func:`scenario_path`) or
    None for the calibrated baseline (:data:`DEFAULT_SCENARIO`). ``overrides`` maps dotted keys
    to values; ``assignments`` are ``KEY=VALUE`` strings as given to ``--set``, applied after
    ``overrides`` (an assignment wins over an override of the same key). Both merge by the one
    merge rule (:func:`deep_merge`). Raises :class:`ConfigError` on any bad input, including
    one key given twice among the overrides or among the assignments, and a file (with what it
    extends) that lists no jurisdictions or no labs: an empty file is refused rather than read
    as the schema's small test world.
    """
    source = scenario_path(path) if path is not None else DEFAULT_SCENARIO
    data = read_yaml(source)
    for section in ("jurisdictions", "labs"):  # an empty file is not a world
        if section not in data:
            raise ConfigError(
                section,
                f"{source.name} describes no {section}: list them, or start from a shipped "
                "scenario with extends: baseline",
            )
    if "name" not in data:
        data["name"] = source.stem
    assigned = parse_assignments(assignments)
    data = apply_overrides(data, dict(overrides or {}))
    data = apply_overrides(data, assigned)
    return validate_config(data)


def config_to_dict(config: Config) -> dict[str, Any]:
    """Plain, YAML-ready mapping of a resolved config (tuples become lists)."""
    return config.model_dump(mode="json")


def dump_config(config: Config) -> str:
    """The resolved config as YAML text that reads back as the same config.

    Text that a YAML 1.1 reader or agentsim's YAML 1.2 reader would take for anything but
    text (``no``, ``1e3``, ``0o17``) is quoted, so the file reads the same everywhere.
    """
    import yaml

    resolver = _loader().resolver

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        plain = resolver.resolve(ScalarNode, value, (True, False)) == "tag:yaml.org,2002:str"
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, None if plain else "'")

    Dumper.add_representer(str, text)
    return yaml.dump(config_to_dict(config), Dumper=Dumper, sort_keys=False, allow_unicode=True)

"""Generate docs/parameters.md from the config schema and the submodel functions' docstrings.

The parameter table (symbol, default, bounds, unit, meaning) and the table of policy levers are
read from :mod:`agentsim.config`; the equation table from the ``Equation:`` line of each
submodel function's docstring. A test regenerates the text and fails when the committed file
differs (run ``make docs``).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from agentsim import capital, compute, flywheel, market, policy, releases, talent
from agentsim.config import LEVERS, Config

SUBMODEL_MODULES = (flywheel, market, capital, talent, compute, releases, policy)


def _bounds(field: Any) -> str:
    parts = []
    for item in field.metadata:
        for attr, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(item, attr, None)
            if value is not None:
                parts.append(f"{op} {value:g}" if isinstance(value, float) else f"{op} {value}")
    return ", ".join(parts)


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        value = field.default_factory()
    else:
        return "required"
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join("/".join(x) if isinstance(x, tuple) else str(x) for x in value) or "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _section_model(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The section model behind a field and the path fragment it adds ('' or '.<name>')."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    args = getattr(annotation, "__args__", ())
    if args and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
        return args[-1], ".<name>"
    return None, ""


def parameter_rows(model: type[BaseModel] = Config, prefix: str = "") -> Iterator[list[str]]:
    """One row per leaf parameter: path, symbol, default, bounds, unit, description."""
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        section, fragment = _section_model(field.annotation)
        if section is not None and name != "capital_billions":
            yield from parameter_rows(section, f"{path}{fragment}.")
            continue
        extra = field.json_schema_extra or {}
        yield [
            f"`{path}`",
            extra.get("symbol", ""),
            _default(field),
            _bounds(field),
            extra.get("unit", "-"),
            (field.description or "").replace("|", "/"),
        ]


def equation_rows() -> Iterator[list[str]]:
    """One row per submodel function whose docstring states an equation."""
    for module in SUBMODEL_MODULES:
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if func.__module__ != module.__name__ or name.startswith("_"):
                continue
            doc = inspect.getdoc(func) or ""
            lines = [line.strip() for line in doc.splitlines()]
            for i, line in enumerate(lines):
                if line.startswith("Equation:"):
                    text = [line.removeprefix("Equation:").strip()]
                    for follow in lines[i + 1 :]:
                        if not follow:
                            break
                        text.append(follow)
                    yield [
                        f"`{module.__name__.split('.')[-1]}.{name}`",
                        " ".join(text).replace("|", "/"),
                    ]
                    break


def lever_rows() -> Iterator[list[str]]:
    """One row per policy lever: the model's keyword and the config key it sets."""
    for name, path in LEVERS.items():
        yield [f"`{name}`", f"`{path}`"]


def _table(header: list[str], rows: Iterator[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render() -> str:
    """The full text of docs/parameters.md."""
    return "\n".join(
        [
            "# Parameters and equations",
            "",
            "Generated from `agentsim/config.py` and the submodel functions by `make docs`",
            "(`python -m agentsim.docgen docs/parameters.md`); do not edit by hand. Defaults are",
            "the schema's (`Config()`, a small test world); the calibrated values, used when no",
            "scenario is given, are in `configs/baseline.yaml` and `docs/calibration.md`.",
            "`<name>` stands for a jurisdiction code or a lab name.",
            "",
            "## Equations",
            "",
            _table(["function", "equation"], equation_rows()),
            "",
            "## Parameters",
            "",
            _table(["key", "symbol", "default", "bounds", "unit", "meaning"], parameter_rows()),
            "",
            "## Policy levers",
            "",
            "Keywords of `AIRaceModel` and controls of the app (`agentsim.config.LEVERS`); each",
            "sets the config key beside it, with that key's bounds.",
            "",
            _table(["keyword", "key"], lever_rows()),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Write the rendered document to the path given (default: docs/parameters.md)."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else Path("docs/parameters.md")
    from agentsim.store import write_text

    write_text(target, render())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

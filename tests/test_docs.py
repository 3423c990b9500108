"""Docs match code: the generated parameter and equation tables are current."""

from __future__ import annotations

from agentsim.config import LEVERS
from agentsim.docgen import equation_rows, parameter_rows, render

from .conftest import ROOT


def test_parameters_doc_is_current():
    committed = (ROOT / "docs" / "parameters.md").read_text(encoding="utf-8")
    assert committed == render(), "docs/parameters.md is stale: run `make docs`"


def test_every_parameter_has_unit_and_description():
    for key, _symbol, _default, _bounds, unit, meaning in parameter_rows():
        assert unit, key
        assert meaning, key


def test_every_equation_row_names_a_submodel_function():
    rows = list(equation_rows())
    assert len(rows) >= 15
    names = {row[0] for row in rows}
    assert "`market.logit_shares`" in names and "`flywheel.software_progress`" in names


def test_odd_names_each_submodel_function():
    odd = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")
    for function, _equation in equation_rows():
        assert function.strip("`") in odd, f"docs/ODD.md does not mention {function}"


def test_calibration_names_every_parameter():
    calibration = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    for key, *_ in parameter_rows():
        path = key.strip("`")
        variants = {path, path.replace("<name>", "<code>")}
        assert any(f"`{v}`" in calibration for v in variants), f"docs/calibration.md lacks {key}"


def test_parameters_doc_lists_the_levers():
    doc = render()
    for name, path in LEVERS.items():
        assert f"| `{name}` | `{path}` |" in doc

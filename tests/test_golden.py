"""Golden regression: the summaries of baseline and trusted release at two seeds are stored.

A change that moves any number fails here. If the change is meant to move them, regenerate the
file on purpose, saying why (the reason is kept in the file's history):

    .venv/bin/python tests/test_golden.py --reason "what changed and why"
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from agentsim.run import run
from agentsim.scenario_io import load_config, scenario_path

GOLDEN = Path(__file__).resolve().parent / "golden" / "summaries.json"
CASES = [("baseline", 0), ("baseline", 1), ("trusted_release", 0), ("trusted_release", 1)]


def summary(scenario: str, seed: int) -> dict:
    """The run summary of a shipped scenario, as JSON would store it."""
    result = run(load_config(scenario_path(scenario)), seed=seed)
    return json.loads(json.dumps(result.summary))


@pytest.mark.parametrize(("scenario", "seed"), CASES)
def test_summary_matches_the_golden_file(scenario: str, seed: int) -> None:
    stored = json.loads(GOLDEN.read_text(encoding="utf-8"))["summaries"][f"{scenario}/{seed}"]
    now = summary(scenario, seed)
    assert now.keys() == stored.keys()
    moved = {
        key: (stored[key], now[key])
        for key in stored
        if now[key] != stored[key]
        and not (isinstance(now[key], float) and math.isnan(now[key]) and stored[key] is None)
    }
    assert not moved, f"outputs moved (regenerate the golden file on purpose): {moved}"


def main() -> None:
    """Rewrite the golden file, appending the reason to its history."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reason", required=True, help="why the outputs moved")
    args = parser.parse_args()
    history = []
    if GOLDEN.is_file():
        history = json.loads(GOLDEN.read_text(encoding="utf-8")).get("history", [])
    data = {
        "history": [*history, args.reason],
        "summaries": {f"{name}/{seed}": summary(name, seed) for name, seed in CASES},
    }
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()

"""Shared fixtures: scenario paths and a cache of run summaries so paired-seed tests share runs."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd
import pytest

from agentsim.config import Config
from agentsim.run import run
from agentsim.scenario_io import load_config

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


def scenario(name: str, **overrides) -> Config:
    """Load configs/<name>.yaml with dotted-key overrides."""
    return load_config(CONFIGS / f"{name}.yaml", overrides=overrides)


@lru_cache(maxsize=4096)
def _summary(name: str, overrides: tuple, seed: int) -> dict:
    return run(scenario(name, **dict(overrides)), seed=seed).summary


def summaries(name: str, seeds: range, **overrides) -> pd.DataFrame:
    """Run summaries of one scenario over seeds (cached per test process)."""
    frozen = tuple(sorted(overrides.items()))
    return pd.DataFrame([_summary(name, frozen, s) for s in seeds]).set_index("seed")


@pytest.fixture(scope="session")
def baseline() -> Config:
    return scenario("baseline")

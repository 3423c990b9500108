"""Random streams: everything a run draws comes from one root seed through ``SeedSequence``.

Model-wide streams (Mesa's own, the population, the collaboration network and the monthly
dynamics of investors and researchers) are children of the root seed. Each lab's own monthly
draws (research shocks, breakthroughs, leaks) come from a child keyed by the lab's *name*, so
a lab draws the same numbers whatever other labs a scenario lists and in whatever order: two
scenarios that differ in one lab still share every other lab's luck (common random numbers),
and reordering a file changes nothing. Nothing reads global random state.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

#: Spawn-key tags of the streams (children of the root ``SeedSequence``).
MESA, POPULATION, NETWORK, DYNAMICS, LAB = 0, 1, 2, 3, 4


def name_key(name: str) -> int:
    """A stable 64-bit integer for a name (SHA-256; the same on every platform and run)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


def model_streams(seed: int) -> dict[int, np.random.Generator]:
    """Generators for the model-wide streams, keyed by their tag."""
    return {
        tag: np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(tag,)))
        for tag in (MESA, POPULATION, NETWORK, DYNAMICS)
    }


def lab_stream(seed: int, name: str) -> np.random.Generator:
    """The generator of one lab's own draws, keyed by its name."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(LAB, name_key(name))))


@dataclass
class LabDraws:
    """One month of every lab's own standard draws, each of shape (L,)."""

    shock_normal: np.ndarray  #: N(0, 1): research shock
    breakthrough_uniform: np.ndarray  #: U(0, 1): whether a breakthrough happens
    breakthrough_exponential: np.ndarray  #: Exp(1): its size before scaling
    leak_uniform: np.ndarray  #: U(0, 1): whether the newest closed model leaks


class LabTape:
    """Each lab's monthly draws, generated from its keyed stream a block of months at a time.

    Month ``t`` always gets the same numbers for a given seed and lab name, however many
    months are asked for and whatever else the model draws.
    """

    def __init__(self, seed: int, names: list[str], block: int = 60) -> None:
        self._streams = [lab_stream(seed, name) for name in names]
        self._block = block
        self._start = -block
        self._tape = np.zeros((4, len(names), block))

    def month(self, t: int) -> LabDraws:
        """The draws of month ``t`` (months must be asked for in increasing blocks)."""
        if t < self._start:
            raise ValueError(f"month {t} is before the current block ({self._start})")
        while t >= self._start + self._block:
            self._start += self._block
            for i, rng in enumerate(self._streams):
                self._tape[0, i] = rng.standard_normal(self._block)
                self._tape[1, i] = rng.random(self._block)
                self._tape[2, i] = rng.standard_exponential(self._block)
                self._tape[3, i] = rng.random(self._block)
        column = t - self._start
        return LabDraws(*(self._tape[k, :, column].copy() for k in range(4)))

"""Policy arithmetic: export controls, outbound investment, market access, adaptive rules.

Plain functions on numpy arrays; no Mesa. The government agents (see :mod:`agentsim.agents`)
decide *whether* an instrument binds; these functions say *what it does* when it binds. The
trusted-release pipeline has its own module, :mod:`agentsim.releases`; compute prices and
purchases are in :mod:`agentsim.compute`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def access_matrix(
    lab_jurisdiction: np.ndarray, codes: Sequence[str], closed: Iterable[tuple[str, str]]
) -> np.ndarray:
    """Which labs may serve which markets (L x M booleans); ``closed`` lists (lab home, market)."""
    index = {code: i for i, code in enumerate(codes)}
    blocked = np.zeros((len(codes), len(codes)), dtype=bool)
    for home, market in closed:
        blocked[index[home], index[market]] = True
    return ~blocked[lab_jurisdiction]


def allowed_investments(
    investor_home: np.ndarray,
    lab_jurisdiction: np.ndarray,
    codes: Sequence[str],
    banned: Iterable[tuple[str, str]],
) -> np.ndarray:
    """Which investors may fund which labs (I x L booleans) under outbound-investment rules."""
    index = {code: i for i, code in enumerate(codes)}
    blocked = np.zeros((len(codes), len(codes)), dtype=bool)
    for home, target in banned:
        blocked[index[home], index[target]] = True
    return ~blocked[investor_home[:, None], lab_jurisdiction[None, :]]


def months_behind_update(counter: int, us_behind: bool) -> int:
    """Consecutive months the US has trailed the frontier, updated with this month's state."""
    return counter + 1 if us_behind else 0

"""The social network: collaboration ties as seeded arrays, and its networkx view.

Inside a step the model reads neighbours from compressed sparse row (CSR) arrays; the networkx
graph of every tie (employment, collaboration, investment, partnership) is built from the same
arrays on demand by :func:`build_graph`, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np


@dataclass(frozen=True)
class Ties:
    """Undirected ties in CSR form: node i's ties are ``neighbours[indptr[i]:indptr[i + 1]]``."""

    indptr: np.ndarray
    neighbours: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return self.indptr.size - 1

    def edges(self) -> np.ndarray:
        """Each undirected tie once, as an (E, 2) array with u < v."""
        u = np.repeat(np.arange(self.n_nodes), np.diff(self.indptr))
        keep = u < self.neighbours
        return np.column_stack([u[keep], self.neighbours[keep]])

    def degree(self) -> np.ndarray:
        """Number of ties of each node."""
        return np.diff(self.indptr)


def ties_from_edges(n: int, u: np.ndarray, v: np.ndarray) -> Ties:
    """CSR ties from an undirected edge list, dropping self-loops and duplicates.

    Each tie is encoded as the integer key ``src * n + dst`` in both directions; sorting the
    keys orders every node's neighbours ascending, which is the CSR layout. Memory stays a few
    arrays of the edge count (no argsort and gather).
    """
    keep = u != v
    u, v = u[keep], v[keep]
    pairs = np.minimum(u, v).astype(np.int64) * n + np.maximum(u, v)
    del u, v, keep
    pairs.sort()
    if pairs.size:
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    low, high = np.divmod(pairs, n)
    keys = np.concatenate([pairs, high * n + low])  # both directions of every tie
    del pairs, low, high
    keys.sort()
    src, neighbours = np.divmod(keys, n)
    del keys
    counts = np.bincount(src, minlength=n)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Ties(indptr=indptr, neighbours=neighbours.astype(np.int64, copy=False))


def small_world(rng: np.random.Generator, order: np.ndarray, degree: int, rewiring: float) -> Ties:
    """Watts-Strogatz small world over nodes placed on a ring in the given ``order``.

    Each node ties to its ``degree // 2`` successors on the ring; each tie is rewired to a
    uniformly random node with probability ``rewiring``. Placing colleagues next to each other
    on the ring makes most ties fall within a lab and a few cross between labs.
    """
    n = order.size
    half = degree // 2
    if n < 2 or half == 0:
        return ties_from_edges(n, np.zeros(0, np.int64), np.zeros(0, np.int64))
    u = np.repeat(np.arange(n), half)
    v = (u + np.tile(np.arange(1, half + 1), n)) % n
    rewire = rng.random(u.size) < rewiring
    v = np.where(rewire, rng.integers(0, n, size=u.size), v)
    del rewire
    return ties_from_edges(n, order[u], order[v])


def build_graph(
    lab_ids: Sequence[int],
    investor_ids: Sequence[int],
    researcher_ids: Sequence[int],
    employer: np.ndarray,
    collaboration: Ties,
    holdings: np.ndarray,
    partners: np.ndarray,
) -> nx.Graph:
    """The networkx graph of all agents (nodes are Mesa ``unique_id`` values).

    Node attribute ``kind`` is lab, investor or researcher; edge attribute ``kind`` is
    employment, collaboration, investment (``weight`` = holdings in USD) or partnership.
    """
    graph = nx.Graph()
    labs, investors, researchers = (np.asarray(x) for x in (lab_ids, investor_ids, researcher_ids))
    graph.add_nodes_from(labs.tolist(), kind="lab")
    graph.add_nodes_from(investors.tolist(), kind="investor")
    graph.add_nodes_from(researchers.tolist(), kind="researcher")
    employed = employer >= 0
    graph.add_edges_from(
        zip(researchers[employed].tolist(), labs[employer[employed]].tolist(), strict=True),
        kind="employment",
    )
    ties = collaboration.edges()
    graph.add_edges_from(
        zip(researchers[ties[:, 0]].tolist(), researchers[ties[:, 1]].tolist(), strict=True),
        kind="collaboration",
    )
    inv, lab = np.nonzero(holdings > 0)
    graph.add_edges_from(
        (int(investors[i]), int(labs[j]), {"kind": "investment", "weight": float(holdings[i, j])})
        for i, j in zip(inv, lab, strict=True)
    )
    a, b = np.nonzero(np.triu(partners, 1))
    graph.add_edges_from(zip(labs[a].tolist(), labs[b].tolist(), strict=True), kind="partnership")
    return graph

"""Tests for agentsim.network: CSR ties, the small-world collaboration network and the graph."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentsim.network import Ties, build_graph, small_world, ties_from_edges


def _neighbour_sets(ties):
    return [
        set(ties.neighbours[ties.indptr[i] : ties.indptr[i + 1]].tolist())
        for i in range(ties.n_nodes)
    ]


# --- ties_from_edges ----------------------------------------------------------------------------


def test_ties_from_edges_removes_duplicates_and_self_loops():
    # (0, 1) three times in both directions, a self-loop at 2, and (1, 2): two ties remain.
    u = np.array([0, 1, 0, 2, 1])
    v = np.array([1, 0, 1, 2, 2])
    ties = ties_from_edges(4, u, v)
    assert ties.n_nodes == 4
    assert ties.indptr.tolist() == [0, 1, 3, 4, 4]
    assert ties.neighbours.tolist() == [1, 0, 2, 1]
    assert ties.degree().tolist() == [1, 2, 1, 0]
    assert ties.edges().tolist() == [[0, 1], [1, 2]]


def test_ties_from_edges_empty():
    ties = ties_from_edges(3, np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert ties.indptr.tolist() == [0, 0, 0, 0]
    assert ties.neighbours.size == 0
    assert ties.edges().shape == (0, 2)


def test_ties_neighbours_sorted_within_node():
    ties = ties_from_edges(5, np.array([4, 0, 0, 3]), np.array([0, 2, 1, 0]))
    assert ties.neighbours[ties.indptr[0] : ties.indptr[1]].tolist() == [1, 2, 3, 4]


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 30),
    edges=st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29)), max_size=80),
)
def test_ties_from_edges_matches_set_of_undirected_pairs(n, edges):
    edges = [(a % n, b % n) for a, b in edges]
    u = np.array([a for a, _ in edges], dtype=np.int64)
    v = np.array([b for _, b in edges], dtype=np.int64)
    ties = ties_from_edges(n, u, v)
    expected = {(min(a, b), max(a, b)) for a, b in edges if a != b}
    assert {tuple(e) for e in ties.edges().tolist()} == expected
    assert ties.edges().shape[0] == len(expected)
    assert ties.degree().sum() == 2 * len(expected)


# --- small_world --------------------------------------------------------------------------------


@pytest.mark.parametrize("degree", [2, 4, 6, 10])
def test_small_world_without_rewiring_is_a_regular_ring(degree):
    ties = small_world(np.random.default_rng(0), np.arange(50), degree, 0.0)
    assert ties.degree().tolist() == [degree] * 50
    # Node 0 ties to its degree / 2 successors and predecessors on the ring.
    half = degree // 2
    expected = {k % 50 for k in range(-half, half + 1)} - {0}
    assert _neighbour_sets(ties)[0] == expected


def test_small_world_odd_degree_uses_half_rounded_down():
    # degree // 2 = 2 successors each: every node ends with 4 ties, not 5.
    ties = small_world(np.random.default_rng(0), np.arange(20), 5, 0.0)
    assert ties.degree().tolist() == [4] * 20


def test_small_world_places_nodes_on_ring_in_given_order():
    order = np.array([3, 0, 4, 1, 2])
    ties = small_world(np.random.default_rng(0), order, 2, 0.0)
    # Ring 3 - 0 - 4 - 1 - 2 - 3.
    assert ties.edges().tolist() == [[0, 3], [0, 4], [1, 2], [1, 4], [2, 3]]


def test_small_world_with_rewiring_keeps_mean_degree_close():
    n, degree = 2000, 6
    ties = small_world(
        np.random.default_rng(0), np.random.default_rng(1).permutation(n), degree, 0.2
    )
    mean = ties.degree().mean()
    # Rewired ties that hit an existing tie or the node itself are dropped: a little below 6.
    assert degree - 0.1 < mean <= degree
    assert ties.degree().std() > 0  # no longer regular


def test_small_world_is_symmetric_without_self_loops():
    n = 300
    ties = small_world(np.random.default_rng(5), np.arange(n), 8, 0.5)
    sets = _neighbour_sets(ties)
    for i, nbrs in enumerate(sets):
        assert i not in nbrs
        assert len(nbrs) == ties.degree()[i]  # no duplicate ties
        for j in nbrs:
            assert i in sets[j]


def test_small_world_deterministic_with_same_seed():
    order = np.random.default_rng(9).permutation(500)
    a = small_world(np.random.default_rng(42), order, 6, 0.3)
    b = small_world(np.random.default_rng(42), order, 6, 0.3)
    c = small_world(np.random.default_rng(43), order, 6, 0.3)
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.neighbours, b.neighbours)
    assert not (np.array_equal(a.indptr, c.indptr) and np.array_equal(a.neighbours, c.neighbours))


@pytest.mark.parametrize(("n", "degree"), [(0, 6), (1, 6), (10, 0), (10, 1)])
def test_small_world_degenerate_cases_have_no_ties(n, degree):
    ties = small_world(np.random.default_rng(0), np.arange(n), degree, 0.1)
    assert ties.n_nodes == n
    assert ties.neighbours.size == 0


# --- build_graph --------------------------------------------------------------------------------


def test_build_graph_nodes_and_edges():
    labs, investors, researchers = [100, 101], [200, 201], [1, 2, 3]
    employer = np.array([0, 1, -1])  # researcher 3 is unemployed
    collaboration = ties_from_edges(3, np.array([0, 1]), np.array([1, 2]))
    holdings = np.array([[500, 0], [0, 0]], dtype=np.int64)
    partners = np.array([[False, True], [True, False]])
    g = build_graph(labs, investors, researchers, employer, collaboration, holdings, partners)

    assert g.number_of_nodes() == 7
    kinds = {n: d["kind"] for n, d in g.nodes(data=True)}
    assert kinds == {
        100: "lab",
        101: "lab",
        200: "investor",
        201: "investor",
        1: "researcher",
        2: "researcher",
        3: "researcher",
    }

    edges = {frozenset((a, b)): d for a, b, d in g.edges(data=True)}
    assert set(edges) == {
        frozenset(p) for p in [(1, 100), (2, 101), (1, 2), (2, 3), (200, 100), (100, 101)]
    }
    assert edges[frozenset((1, 100))]["kind"] == "employment"
    assert edges[frozenset((2, 101))]["kind"] == "employment"
    assert edges[frozenset((1, 2))]["kind"] == "collaboration"
    assert edges[frozenset((2, 3))]["kind"] == "collaboration"
    assert edges[frozenset((200, 100))]["kind"] == "investment"
    assert edges[frozenset((200, 100))]["weight"] == pytest.approx(500.0)
    assert edges[frozenset((100, 101))]["kind"] == "partnership"
    # Investor 201 holds nothing: isolated. The unemployed researcher has no employment tie.
    assert g.degree(201) == 0
    assert not any(d["kind"] == "employment" for _, _, d in g.edges(3, data=True))


def test_build_graph_without_ties():
    empty = Ties(indptr=np.zeros(3, np.int64), neighbours=np.zeros(0, np.int64))
    g = build_graph(
        [10],
        [20],
        [1, 2],
        np.array([-1, -1]),
        empty,
        np.zeros((1, 1)),
        np.zeros((1, 1), dtype=bool),
    )
    assert g.number_of_nodes() == 4
    assert g.number_of_edges() == 0

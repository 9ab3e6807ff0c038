"""The incremental tree edge equals the full RFC 6962 tree hash at every size, and the nodes
it emits are exactly the perfect subtrees of the tree (golden CT roots pinned as well)."""

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.core.frontier import TreeEdge, edge_of, fold
from evidence.core.merkle import EMPTY_ROOT, leaf_hash, root
from tests.evidence.core.test_merkle import CT_LEAVES, GOLDEN_ROOTS

MAX_SIZE = 70
LEAVES = [hashlib.sha256(f"event-{i}".encode()).digest() for i in range(MAX_SIZE)]


def test_golden_ct_roots_incrementally() -> None:
    edge = TreeEdge()
    for n, data in enumerate(CT_LEAVES, start=1):
        edge.append_data(data)
        assert edge.root().hex() == GOLDEN_ROOTS[n - 1]


def test_equals_the_full_root_for_every_size_up_to_70() -> None:
    edge = TreeEdge()
    assert edge.root() == EMPTY_ROOT == root([])
    for n in range(1, MAX_SIZE + 1):
        edge.append_data(LEAVES[n - 1])
        assert edge.size == n
        assert len(edge.hashes) == n.bit_count()
        assert edge.root() == root(LEAVES[:n]), n


def test_emitted_nodes_are_the_perfect_subtrees() -> None:
    nodes: list[tuple[int, int, bytes]] = []
    edge = TreeEdge()
    for data in LEAVES:
        edge.append_data(data, nodes)
    keys = [(level, index) for level, index, _ in nodes]
    assert len(keys) == len(set(keys)) == sum(MAX_SIZE >> level for level in range(7))
    for level, index, h in nodes:
        span = 1 << level
        assert h == root(LEAVES[index * span : (index + 1) * span])


@pytest.mark.parametrize("split", [0, 1, 2, 3, 7, 8, 31, 32, 33, 64, 69])
def test_restored_edges_continue_exactly(split: int) -> None:
    first = edge_of(LEAVES[:split])
    restored = TreeEdge.restore(first.size, first.hashes)
    for data in LEAVES[split:]:
        restored.append_data(data)
    assert restored.root() == root(LEAVES)


def test_copy_does_not_share_state() -> None:
    edge = edge_of(LEAVES[:5])
    twin = edge.copy()
    twin.append_data(b"x")
    assert edge.size == 5 and edge.root() == root(LEAVES[:5])


@pytest.mark.parametrize(
    ("size", "hashes"), [(3, [b"\x00" * 32]), (1, []), (-1, []), (1, [b"\x00" * 31])]
)
def test_restore_refuses_malformed_frontiers(size: int, hashes: list[bytes]) -> None:
    with pytest.raises(ValueError):
        TreeEdge.restore(size, hashes)


def test_fold_of_one_hash_is_that_hash() -> None:
    assert fold([leaf_hash(b"a")]) == root([b"a"])


@given(st.lists(st.binary(max_size=40), max_size=90), st.integers(min_value=0, max_value=90))
def test_any_split_of_any_leaves(leaves: list[bytes], split: int) -> None:
    split = min(split, len(leaves))
    edge = edge_of(leaves[:split])
    assert edge.root() == root(leaves[:split])
    for data in leaves[split:]:
        edge.append(leaf_hash(data))
    assert edge.root() == root(leaves)

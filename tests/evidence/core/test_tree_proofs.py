"""Proofs assembled from stored perfect-subtree nodes equal merkle.py's proofs from all the
leaves, for every index and size pair up to 70, and they verify."""

import hashlib

import pytest

from evidence.core.frontier import Node, TreeEdge
from evidence.core.merkle import (
    consistency_proof,
    inclusion_proof,
    root,
    verify_consistency,
    verify_inclusion,
)
from evidence.core.tree_proofs import (
    assemble,
    blocks,
    consistency_ranges,
    inclusion_ranges,
    nodes_for,
)

MAX_SIZE = 70
LEAVES = [hashlib.sha256(f"event-{i}".encode()).digest() for i in range(MAX_SIZE)]


def stored_nodes() -> dict[tuple[int, int], bytes]:
    nodes: list[Node] = []
    edge = TreeEdge()
    for data in LEAVES:
        edge.append_data(data, nodes)
    return {(level, index): h for level, index, h in nodes}


NODES = stored_nodes()


def test_blocks_decompose_ranges() -> None:
    assert blocks(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert blocks(8, 12) == [(2, 2)]
    assert blocks(5, 5) == []
    assert blocks(3, 9) == [(0, 3), (2, 1), (0, 8)]


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_inclusion_from_nodes_equals_proof_from_leaves(size: int) -> None:
    tree_root = root(LEAVES[:size])
    for index in range(size):
        ranges = inclusion_ranges(index, size)
        needed = {key: NODES[key] for key in nodes_for(ranges)}
        proof = assemble(ranges, needed)
        assert proof == inclusion_proof(LEAVES[:size], index)
        assert verify_inclusion(LEAVES[index], index, size, proof, tree_root)


@pytest.mark.parametrize("new", range(1, MAX_SIZE + 1))
def test_consistency_from_nodes_equals_proof_from_leaves(new: int) -> None:
    for old in range(1, new + 1):
        ranges = consistency_ranges(old, new)
        proof = assemble(ranges, {key: NODES[key] for key in nodes_for(ranges)})
        assert proof == consistency_proof(LEAVES[:new], old)
        assert verify_consistency(old, new, root(LEAVES[:old]), root(LEAVES[:new]), proof)


def test_proofs_never_need_nodes_beyond_the_tree() -> None:
    for size in range(1, MAX_SIZE + 1):
        for level, index in nodes_for(inclusion_ranges(size - 1, size)):
            assert (index + 1) << level <= size


def test_out_of_range_is_refused() -> None:
    for bad in [(-1, 3), (3, 3), (0, 0)]:
        with pytest.raises(ValueError):
            inclusion_ranges(*bad)
    for bad in [(0, 3), (4, 3)]:
        with pytest.raises(ValueError):
            consistency_ranges(*bad)


def test_a_missing_node_is_a_key_error() -> None:
    ranges = inclusion_ranges(0, 8)
    with pytest.raises(KeyError):
        assemble(ranges, {})

"""RFC 6962 / RFC 9162 Merkle trees, pinned by the Certificate Transparency test leaves.

If a golden root below stops matching, leaf/node hashing changed and every stored checkpoint
stops verifying: do not "fix" the test.
"""

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.core.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]

# Roots of the first n CT_LEAVES, n = 1..8 (the published Certificate Transparency values).
GOLDEN_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

MAX_SIZE = 33
LEAVES = [f"leaf-{i}".encode() * (i % 3 + 1) for i in range(MAX_SIZE)]
ROOTS = [root(LEAVES[:n]) for n in range(MAX_SIZE + 1)]


def reference_root(leaves: Sequence[bytes]) -> bytes:
    """Independent, deliberately naive reading of RFC 6962 section 2.1."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    left, right = reference_root(leaves[:k]), reference_root(leaves[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def flipped(proof: list[bytes], i: int) -> list[bytes]:
    element = bytearray(proof[i])
    element[len(element) // 2] ^= 0x01
    return [*proof[:i], bytes(element), *proof[i + 1 :]]


def flip_root(value: bytes) -> bytes:
    return bytes([value[0] ^ 0x80]) + value[1:]


@pytest.mark.parametrize("n", range(1, len(CT_LEAVES) + 1))
def test_golden_roots(n: int) -> None:
    leaves = CT_LEAVES[:n]
    assert reference_root(leaves) == root(leaves)
    assert root(leaves).hex() == GOLDEN_ROOTS[n - 1]


def test_primitives() -> None:
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert root([b"x"]) == leaf_hash(b"x")


@pytest.mark.parametrize("size", range(MAX_SIZE + 1))
def test_roots_match_reference(size: int) -> None:
    assert ROOTS[size] == reference_root(LEAVES[:size])


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_inclusion_exhaustive(size: int) -> None:
    leaves, tree_root = LEAVES[:size], ROOTS[size]
    for index in range(size):
        proof = inclusion_proof(leaves, index)
        data = leaves[index]
        assert verify_inclusion(data, index, size, proof, tree_root)
        for i in range(len(proof)):
            assert not verify_inclusion(data, index, size, flipped(proof, i), tree_root)
        if proof:
            assert not verify_inclusion(data, index, size, proof[:-1], tree_root)
        assert not verify_inclusion(data, index, size, [*proof, tree_root], tree_root)
        assert not verify_inclusion(data + b"!", index, size, proof, tree_root)
        assert not verify_inclusion(data, index, size, proof, flip_root(tree_root))
        for other in (index - 1, index + 1, size, -1):
            assert not verify_inclusion(data, other, size, proof, tree_root)
        for other_size in range(index + 1, MAX_SIZE + 1):
            if other_size != size:
                assert not verify_inclusion(data, index, other_size, proof, ROOTS[other_size])
        assert not verify_inclusion(data, index, 0, proof, tree_root)


@pytest.mark.parametrize("new", range(1, MAX_SIZE + 1))
def test_consistency_exhaustive(new: int) -> None:
    leaves, new_root = LEAVES[:new], ROOTS[new]
    for old in range(1, new + 1):
        proof = consistency_proof(leaves, old)
        old_root = ROOTS[old]
        assert verify_consistency(old, new, old_root, new_root, proof)
        for i in range(len(proof)):
            assert not verify_consistency(old, new, old_root, new_root, flipped(proof, i))
        assert not verify_consistency(old, new, flip_root(old_root), new_root, proof)
        assert not verify_consistency(old, new, old_root, flip_root(new_root), proof)
        if proof:
            assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
        assert not verify_consistency(old, new, old_root, new_root, [*proof, new_root])
        for other_old in (old - 1, old + 1):
            if 0 < other_old <= new:
                assert not verify_consistency(other_old, new, ROOTS[other_old], new_root, proof)
        for other_new in (new - 1, new + 1):
            if old <= other_new <= MAX_SIZE:
                assert not verify_consistency(old, other_new, old_root, ROOTS[other_new], proof)
        assert not verify_consistency(new + 1, new, old_root, new_root, proof)


def test_equal_sizes_need_empty_proof_and_equal_roots() -> None:
    assert consistency_proof(LEAVES[:5], 5) == []
    assert verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[4], [])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[5], [ROOTS[5]])


def test_out_of_range_raises() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(LEAVES[:4], 4)
    with pytest.raises(ValueError):
        inclusion_proof(LEAVES[:4], -1)
    with pytest.raises(ValueError):
        inclusion_proof([], 0)
    with pytest.raises(ValueError):
        consistency_proof(LEAVES[:4], 0)
    with pytest.raises(ValueError):
        consistency_proof(LEAVES[:4], 5)


def test_verifiers_reject_bad_sizes() -> None:
    assert not verify_consistency(0, 4, EMPTY_ROOT, ROOTS[4], [])
    assert not verify_consistency(-1, 4, ROOTS[1], ROOTS[4], [ROOTS[1]])
    assert not verify_inclusion(LEAVES[0], 0, 0, [], EMPTY_ROOT)


leaf_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=80)


@settings(max_examples=150, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_inclusion_round_trip(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = inclusion_proof(leaves, index)
    assert verify_inclusion(leaves[index], index, len(leaves), proof, root(leaves))
    assert root(leaves) == reference_root(leaves)


@settings(max_examples=150, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_consistency_round_trip(leaves: list[bytes], data: st.DataObject) -> None:
    old = data.draw(st.integers(1, len(leaves)))
    proof = consistency_proof(leaves, old)
    assert verify_consistency(old, len(leaves), root(leaves[:old]), root(leaves), proof)

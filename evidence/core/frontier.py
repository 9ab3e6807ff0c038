"""The compact right edge ("frontier") of an RFC 6962 Merkle tree, extended leaf by leaf.

A tree of n leaves is the right fold of its perfect subtrees, one per set bit of n, largest
first: MTH = node(P1, node(P2, ... node(Pk-1, Pk))). Keeping those k <= log2(n) + 1 hashes is
all it takes to append leaves (amortised O(1) node hashes per leaf) and to compute the root
(O(log n)). Appending reports every perfect subtree it completes as a Node (level, index,
hash): level 0 index i is the leaf hash of leaf i; level l index i covers the leaves
[i * 2**l, (i + 1) * 2**l).
"""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from evidence.core.merkle import EMPTY_ROOT, leaf_hash, node_hash

Node = tuple[int, int, bytes]  # (level, index, hash)
HASH_BYTES = 32


def fold(hashes: Sequence[bytes]) -> bytes:
    """The right fold node(h0, node(h1, ...)); the empty sequence is the empty tree."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


@dataclass(slots=True)
class TreeEdge:
    """Size and right-edge hashes of a tree; `append` mutates, `copy` before sharing."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    @classmethod
    def restore(cls, size: int, hashes: Sequence[bytes]) -> "TreeEdge":
        """Rebuild from stored values; ValueError unless they have the shape of a frontier."""
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} holds {size.bit_count()} hashes")
        if any(len(h) != HASH_BYTES for h in hashes):
            raise ValueError("frontier hashes are 32 bytes")
        return cls(size, list(hashes))

    def copy(self) -> "TreeEdge":
        return TreeEdge(self.size, list(self.hashes))

    def append(self, leaf: bytes, nodes: list[Node] | None = None) -> None:
        """Append one leaf given by its leaf hash (level-0 node)."""
        index, level, h = self.size, 0, leaf
        if nodes is not None:
            nodes.append((0, index, h))
        while index & 1:
            h = node_hash(self.hashes.pop(), h)
            index >>= 1
            level += 1
            if nodes is not None:
                nodes.append((level, index, h))
        self.hashes.append(h)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """`append` each leaf hash (no nodes reported), in one loop: verification's hot path."""
        hashes, sha256 = self.hashes, hashlib.sha256
        size = self.size
        for leaf in leaves:
            h, index = leaf, size
            while index & 1:
                h = sha256(b"\x01" + hashes.pop() + h).digest()
                index >>= 1
            hashes.append(h)
            size += 1
        self.size = size

    def append_data(self, data: bytes, nodes: list[Node] | None = None) -> None:
        self.append(leaf_hash(data), nodes)

    def root(self) -> bytes:
        return fold(self.hashes)


def shares_prefix(old: TreeEdge, new: TreeEdge) -> bool:
    """Whether the perfect subtrees the two trees must share (the leading ones of the binary
    decompositions of both sizes) are equal: a cheap necessary condition of consistency."""
    i = 0
    for level in range(max(old.size, new.size).bit_length() - 1, -1, -1):
        bit = (old.size >> level) & 1
        if bit != (new.size >> level) & 1:
            return True
        if bit:
            if old.hashes[i] != new.hashes[i]:
                return False
            i += 1
    return True


def edge_of(leaves: Sequence[bytes]) -> TreeEdge:
    """The frontier of the tree over these leaf data (a convenience for tests and tools)."""
    edge = TreeEdge()
    for data in leaves:
        edge.append_data(data)
    return edge

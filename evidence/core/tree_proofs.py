"""RFC 6962 / 9162 proofs assembled from stored perfect-subtree hashes (pure).

`merkle.inclusion_proof` and `merkle.consistency_proof` need every leaf. A store that keeps
each perfect subtree as a Node (level, index, hash; see `frontier`) can answer in O(log n)
node lookups instead: the proof elements are Merkle Tree Hashes of ranges [start, end) of
leaves, and every such range met by the RFC recursion is a run of perfect subtrees of
decreasing size (its binary decomposition), whose MTH is their right fold.

Usage: `ranges = inclusion_ranges(i, n)`; fetch `nodes_for(ranges)`; `assemble(ranges, got)`.
"""

from collections.abc import Iterable, Mapping

from evidence.core.frontier import fold

Range = tuple[int, int]  # leaves [start, end)
NodeKey = tuple[int, int]  # (level, index)


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def blocks(start: int, end: int) -> list[NodeKey]:
    """The maximal aligned perfect subtrees covering [start, end), left to right."""
    out: list[NodeKey] = []
    pos = start
    while pos < end:
        level = (pos & -pos).bit_length() - 1 if pos else (end - pos).bit_length() - 1
        while pos + (1 << level) > end:
            level -= 1
        out.append((level, pos >> level))
        pos += 1 << level
    return out


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose MTH form the audit path of leaf `index`, leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range for tree size {size}")
    path: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
    return path[::-1]


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """The ranges whose MTH form the consistency proof from `old_size` to `new_size`."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"old size {old_size} out of range for tree size {new_size}")
    return _subproof(old_size, 0, new_size, True)


def _subproof(m: int, start: int, end: int, complete: bool) -> list[Range]:
    if m == end - start:
        return [] if complete else [(start, end)]
    k = _split(end - start)
    if m <= k:
        return [*_subproof(m, start, start + k, complete), (start + k, end)]
    return [*_subproof(m - k, start + k, end, False), (start, start + k)]


def nodes_for(ranges: Iterable[Range]) -> set[NodeKey]:
    return {key for start, end in ranges for key in blocks(start, end)}


def assemble(ranges: Iterable[Range], nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    """The proof; KeyError names the first node the store did not have."""
    return [fold([nodes[key] for key in blocks(start, end)]) for start, end in ranges]

"""Peer-group baselines (pure): principals compared with those of their kind.

A principal's peer group is what its evidence says it is, pseudonymously: the scope
contexts granted, the type of its fhirUser and its client (`DetectionEvent.peer_group`,
e.g. "user:Practitioner@portal"). Each principal keeps its own EWMA baseline of a quantity
per active hour (`Stats`); a group's baseline pools its members' own baselines: the mean of
their means, and a variance that adds the spread between members to their average spread.
A principal seen for the first time is thus judged by its peers from its first hour.

Pooled from the detector's state at every compaction (`pool`); with Kafka each worker pools
the principals of its own partitions.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stream.detection.baseline import Stats


@dataclass(frozen=True, slots=True)
class PeerBaseline:
    members: int  # principals with at least one observed hour
    samples: int  # their observed hours, all together
    stats: Stats  # pooled: n = samples


PeerBook = Mapping[str, PeerBaseline]  # peer group -> its pooled baseline


def pool(members: Iterable[tuple[str, Stats]]) -> dict[str, PeerBaseline]:
    """Each group's pooled baseline from (group, a member's own stats) pairs; members
    without an observed hour are left out."""
    grouped: dict[str, list[Stats]] = {}
    for group, stats in members:
        if stats.n > 0:
            grouped.setdefault(group, []).append(stats)
    return {group: _pooled(stats) for group, stats in sorted(grouped.items())}


def _pooled(members: list[Stats]) -> PeerBaseline:
    count = len(members)
    mean = sum(s.mean for s in members) / count
    within = sum(s.var for s in members) / count
    between = sum((s.mean - mean) ** 2 for s in members) / count
    samples = sum(s.n for s in members)
    return PeerBaseline(count, samples, Stats(samples, mean, within + between))


def trusted(book: PeerBook, group: str, min_members: int, min_samples: int) -> Stats | None:
    """The group's pooled stats when enough peers and hours back them, else None."""
    peers = book.get(group)
    if peers is None or peers.members < min_members or peers.samples < min_samples:
        return None
    return peers.stats


def book_to_dict(book: PeerBook) -> dict[str, Any]:
    return {
        group: {"members": p.members, "samples": p.samples, "mean": p.stats.mean,
                "var": p.stats.var}
        for group, p in book.items()
    }  # fmt: skip

"""Naming what changed under a checkpoint, and which erasures the chain records (pure).

When a batch of stored events does not reproduce a checkpoint's signed root, the leaf
hashes sealed with it (from the node store) are first authenticated: from the trusted tree
before the batch they must fold to that very signed root. Authentic leaves then say, event
by event, which stored row is genuine, which was rewritten or inserted (forged), which holds
the event of another sequence (reordered) and which erasure record changed its hash.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evidence.core.erasure import ErasedEvent, erasure_digest, parse_marker
from evidence.core.merkle import leaf_hash
from evidence.core.problems import ChainProblem
from evidence.core.seal.verify import ChainRow, ErasureRecord, Suspect

_LINK_KINDS = frozenset({"forged", "duplicate"})


@dataclass(slots=True)
class Diagnosis:
    problems: list[ChainProblem] = field(default_factory=list)
    genuine: set[tuple[int, str]] = field(default_factory=set)  # (sequence, event_id)


def _leaf(event_hash: str) -> bytes | None:
    try:
        return leaf_hash(bytes.fromhex(event_hash))
    except ValueError:
        return None


def authentic_leaves(suspect: Suspect, sealed: Mapping[int, Sequence[bytes]]) -> list[bytes] | None:
    """The sealed leaf hashes of the batch, if they reproduce the signed root."""
    cp = suspect.checkpoint.checkpoint
    if suspect.start is None or cp is None:
        return None
    edge, leaves = suspect.start.copy(), []
    for index in range(suspect.start_size, cp.tree_size):
        candidates = sealed.get(index, ())
        if len(candidates) != 1:
            return None
        edge.append(candidates[0])
        leaves.append(candidates[0])
    return leaves if edge.root() == cp.root else None


def diagnose(
    producer: str,
    suspect: Suspect,
    sealed: Mapping[int, Sequence[bytes]],
    rows: Iterable[ChainRow],
    erasures: Mapping[int, ErasureRecord],
) -> Diagnosis:
    stored, first = suspect.checkpoint, suspect.start_size + 1
    leaves = authentic_leaves(suspect, sealed)
    if leaves is None:
        detail = (
            f"{stored.label}: the stored events {first}..{stored.tree_size} do not reproduce "
            "its signed root, and no authentic sealed leaves say which"
        )
        return Diagnosis([ChainProblem("checkpoint.root", producer, stored.tree_size, "", detail)])
    sealed_at = {leaf: first + offset for offset, leaf in enumerate(leaves)}
    by_seq: dict[int, list[ChainRow]] = {}
    for row in rows:
        by_seq.setdefault(row.sequence, []).append(row)
    out = Diagnosis()
    for offset, expected in enumerate(leaves):
        seq = first + offset
        for row in by_seq.get(seq, []):
            _judge_row(producer, seq, row, expected, sealed_at, out)
        record = erasures.get(seq)
        if seq not in by_seq and record is not None and _leaf(record.event_hash) != expected:
            detail = f"the hash recorded by erasure {record.erasure_id} is not the sealed one"
            out.problems.append(
                ChainProblem("erasure.altered", producer, seq, record.event_id, detail)
            )
    return out


def settle(problems: Iterable[ChainProblem], diagnoses: Iterable[Diagnosis]) -> list[ChainProblem]:
    """The stream's problems plus the diagnoses', without the link and duplicate problems of
    rows the sealed leaves proved genuine (the neighbour of a rewritten row is not forged)."""
    diagnoses = list(diagnoses)
    genuine = {key for d in diagnoses for key in d.genuine}
    kept = [
        p for p in problems if not (p.kind in _LINK_KINDS and (p.sequence, p.event_id) in genuine)
    ]
    found = kept + [p for d in diagnoses for p in d.problems]
    return sorted(dict.fromkeys(found), key=lambda p: (p.sequence, p.kind, p.event_id))


def _judge_row(
    producer: str,
    seq: int,
    row: ChainRow,
    expected: bytes,
    sealed_at: Mapping[bytes, int],
    out: Diagnosis,
) -> None:
    got = _leaf(row.event_hash)
    if got == expected:
        if row.content_ok:
            out.genuine.add((seq, row.event_id))
        return
    elsewhere = sealed_at.get(got) if got is not None else None
    if elsewhere is not None:
        kind, detail = "reordered", f"holds the event sealed at sequence {elsewhere}"
    else:
        kind, detail = "forged", "not the event the checkpoint sealed at this sequence"
    out.problems.append(ChainProblem(kind, producer, seq, row.event_id, detail))


@dataclass(slots=True)
class Backing:
    recorded_by: dict[str, str] = field(default_factory=dict)  # erasure id -> "<prod>/<seq>"
    altered: set[str] = field(default_factory=set)  # erasure ids whose records changed
    problems: list[ChainProblem] = field(default_factory=list)


def erasure_backing(
    records: Iterable[Mapping[str, Any]], erase_events: Iterable[Mapping[str, Any]]
) -> Backing:
    """Which erasures an erasure event of the chain commits to, with exactly the records the
    store holds for them; a problem for each erasure whose records no longer match."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault(str(record["erasure_id"]), []).append(record)
    events: dict[str, list[Mapping[str, Any]]] = {}
    for event in erase_events:
        parsed = parse_marker(str(event["policy_version"]))
        if parsed is not None:
            events.setdefault(parsed[0], []).append({**event, "digest": parsed[1]})
    out = Backing()
    for erasure_id, group in sorted(groups.items()):
        candidates = events.get(erasure_id, [])
        if not candidates:
            continue
        digest = _digest_of(erasure_id, group)
        match = next((e for e in candidates if e["digest"] == digest), None)
        if match is not None:
            out.recorded_by[erasure_id] = f"{match['producer_id']}/{int(match['sequence'])}"
            continue
        event = candidates[0]
        out.altered.add(erasure_id)
        detail = f"the stored records of erasure {erasure_id} differ from what its event recorded"
        out.problems.append(
            ChainProblem(
                "erasure.altered",
                str(event["producer_id"]),
                int(event["sequence"]),
                str(event["event_id"]),
                detail,
            )
        )
    return out


def _digest_of(erasure_id: str, group: Sequence[Mapping[str, Any]]) -> str:
    reasons = {str(r["reason"]) for r in group}
    reason = reasons.pop() if len(reasons) == 1 else "\x00mixed"
    erased = [
        ErasedEvent(
            str(r["producer_id"]), int(r["sequence"]), str(r["event_hash"]), str(r["event_id"])
        )
        for r in group
    ]
    return erasure_digest(erasure_id, reason, erased)

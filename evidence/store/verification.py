"""Verify what the evidence store holds: chains, signed checkpoints, erasures and the
by-patient index, over a time window (imperative shell around `evidence.core.seal.verify`).

Per producer the window becomes a range of sequences: it starts after the newest checkpoint
older than the window (the anchor, whose signed frontier restarts the tree; genesis for a
full check) and ends at the last event or checkpoint of the window. Every event of that
range is checked whatever its time stamp, so an event stamped slightly out of order never
shows up as a gap.
"""

from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from evidence.core.problems import ChainProblem, ErasedEntry, VerificationReport
from evidence.core.seal.checkpoint import VerifyFn
from evidence.core.seal.diagnosis import Diagnosis, diagnose, erasure_backing, settle
from evidence.core.seal.rows import StoredCheckpoint, stored_checkpoint
from evidence.core.seal.trust import start_state, trusted_checkpoints
from evidence.core.seal.verify import ChainRow, ErasureRecord, ProducerResult, ProducerVerifier
from evidence.store.alert_actions import action_check_problems
from evidence.store.chain_reader import ChainReader
from evidence.store.clickhouse import EvidenceStore
from evidence.store.engine_queue import EngineQueue
from evidence.store.index_check import patient_index_problems
from evidence.store.seal.store import SealStore

NO_LIMIT = 2**63


def verify_store(
    store: EvidenceStore,
    since_us: int,
    until_us: int,
    keys: Mapping[str, VerifyFn] | None = None,
    floor_us: int = 0,
) -> VerificationReport:
    """`keys`: kid -> signature check of the published checkpoint keys. `floor_us`: the
    retention horizon (older evidence may have expired lawfully; it is not checked)."""
    engine: EngineQueue[list[ChainProblem]] = EngineQueue()
    try:
        return _verify(store, engine, max(since_us, floor_us), until_us, keys or {})
    finally:
        engine.close()


def _verify(
    store: EvidenceStore,
    engine: EngineQueue[list[ChainProblem]],
    since: int,
    until_us: int,
    keys: Mapping[str, VerifyFn],
) -> VerificationReport:
    """The index check runs on the store thread between the chain reads (`EngineQueue`)."""
    reader, seals = ChainReader(store, engine=engine), SealStore(store)
    engine.add_fillers([partial(patient_index_problems, store, since, until_us)])
    ranges = reader.sequence_ranges(since, until_us)
    producers = set(ranges) | set(seals.checkpoint_producers(since, until_us))
    erase_events = reader.erase_events()
    report = VerificationReport()
    checks = {p: _ProducerCheck(reader, seals, p, keys, erase_events) for p in sorted(producers)}
    spans = {p: check.prepare(ranges.get(p), since, until_us) for p, check in checks.items()}
    for window in reader.windows_of_all(spans):
        for producer, rows in window.items():
            checks[producer].verifier.feed_all(rows)
    for check in checks.values():
        check.complete()
        check.report_into(report)
    for problems in engine.drain():
        report.problems.extend(problems)
    report.problems.extend(action_check_problems(store, since, until_us))
    report.problems.extend(
        ChainProblem("forged", producer, 0, event_id, "sequence 0: chains start at 1")
        for producer, event_id in reader.sequence_zero(since, until_us)
    )
    report.problems[:] = list(dict.fromkeys(report.problems))
    return report


class _ProducerCheck:
    def __init__(
        self,
        reader: ChainReader,
        seals: SealStore,
        producer: str,
        keys: Mapping[str, VerifyFn],
        erase_events: list[dict[str, Any]],
    ) -> None:
        self.reader, self.seals, self.producer = reader, seals, producer
        self.keys, self.erase_events = keys, erase_events
        self.result = ProducerResult()
        self.diagnoses: list[Diagnosis] = []

    def prepare(self, window: tuple[int, int] | None, since: int, until: int) -> tuple[int, int]:
        """Anchor, trusted checkpoints and erasures; the span of sequences to feed."""
        anchor = self._anchor(window, since)
        start = start_state(self.producer, anchor, self.keys, self.result)
        after_us = anchor.time_us if anchor is not None else -NO_LIMIT
        rows = self.seals.checkpoints_after(self.producer, start.size, after_us, until)
        checkpoints = [stored_checkpoint(row) for row in rows]
        trusted = trusted_checkpoints(
            self.producer, anchor, start, checkpoints, self.keys, self.result
        )
        signed_sizes = [c.checkpoint.tree_size for c in trusted if c.checkpoint is not None]
        self.last = max([window[1] if window else 0, *signed_sizes])
        self.erasures = self._erasures(start.size + 1, self.last)
        self.verifier = ProducerVerifier(
            self.producer, start.edge, start.size, start.head, trusted, self.erasures, self.result
        )
        return start.size + 1, self.last

    def complete(self) -> None:
        """After every row was fed: gaps up to the end, checkpoint roots, diagnoses."""
        self.verifier.finish(self.last)
        for suspect in self.result.suspects:
            first, end = suspect.start_size, suspect.checkpoint.tree_size
            sealed = self.seals.leaf_nodes(self.producer, first, end)
            rows_of_batch = map(ChainRow._make, self.reader.rows(self.producer, first + 1, end))
            self.diagnoses.append(
                diagnose(self.producer, suspect, sealed, rows_of_batch, self.erasures)
            )

    def _anchor(self, window: tuple[int, int] | None, since: int) -> StoredCheckpoint | None:
        if since <= 0:
            return None
        below = window[0] if window else NO_LIMIT
        row = self.seals.anchor_before(self.producer, below, since)
        return stored_checkpoint(row) if row is not None else None

    def _erasures(self, low: int, high: int) -> dict[int, ErasureRecord]:
        if high < low:
            return {}
        in_range = self.seals.erasures(self.producer, low, high)
        if not in_range:
            return {}
        ids = {str(r["erasure_id"]) for r in in_range}
        backing = erasure_backing(self.seals.erasure_records(ids), self.erase_events)
        self.result.problems.extend(backing.problems)
        out: dict[int, ErasureRecord] = {}
        for r in in_range:
            erasure_id = str(r["erasure_id"])
            out.setdefault(
                int(r["sequence"]),
                ErasureRecord(
                    erasure_id,
                    int(r["sequence"]),
                    str(r["event_hash"]),
                    str(r["event_id"]),
                    backing.recorded_by.get(erasure_id, ""),
                    erasure_id in backing.altered,
                ),
            )
        return out

    def report_into(self, report: VerificationReport) -> None:
        report.problems.extend(settle(self.result.problems, self.diagnoses))
        report.events_checked += self.result.events_checked
        report.checkpoints_checked += self.result.checkpoints_checked
        report.erased.extend(_erased(self.producer, self.result.erased))


def _erased(producer: str, erased: Iterable[tuple[int, ErasureRecord]]) -> list[ErasedEntry]:
    return [
        ErasedEntry(producer, seq, r.event_id, r.erasure_id, r.recorded_by)
        for seq, r in erased
        if r.recorded_by
    ]

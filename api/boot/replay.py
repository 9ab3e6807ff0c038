"""`fhir-evidence replay`: recorded or generated access events through the real embedded
pipeline, with a controlled clock (composition root and imperative shell; the pure part is
`stream.replay`).

The events go the way a served request's event goes: appended to the data dir's outbox
(pseudonymised, sealed, chained), read in order by the inline processor, enriched from the
data dir's FHIR data, stored as evidence (the data dir's chDB, or
FHIR_EVIDENCE_CLICKHOUSE_URL) and run through the detector, whose "now" is the replay
clock: the time of the newest event fed. A final checkpoint seals what was replayed and
the detector's state is kept, so a later `serve` goes on from it.
"""

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import typer

from api.boot.alerting import Alerting, build_step
from api.boot.checkpointing import build_checkpoint_runner, checkpoint_signer
from api.boot.keys import HASH_KEY_VERSION, hash_key
from api.boot.private_files import make_private
from api.boot.runtime import rules_changed_event
from api.boot.stores import open_evidence
from api.settings import Settings
from evidence.core import AccessEvent, Pseudonymizer
from evidence.core.record import evidence_payload
from evidence.store import EvidenceStore
from evidence.store.alert_actions import alert_kind_counts
from stream.inline import InlineProcessor
from stream.outbox import OutboxReader, OutboxUnavailable, OutboxWriter
from stream.replay import (
    ReplayClock,
    check_lines,
    due_after_s,
    numbered_events,
    shift_us,
    shifted,
)

CHUNK = 2000  # events appended together: one outbox commit, one evidence batch
CONSUMER = "inline-processor"  # the embedded processor's position: serve goes on from it


class ReplayRefused(Exception):
    """The replay cannot run as configured; nothing was written."""


class ReplayStopped(Exception):
    """The outbox refused a chunk: the lines before it were fed, none from it on."""


@dataclass
class ReplayReport:
    events: int = 0
    first_us: int = 0
    last_us: int = 0
    wall_s: float = 0.0
    alerts_by_kind: dict[str, int] = field(default_factory=dict)


@dataclass
class _Pipeline:
    outbox: OutboxWriter
    processor: InlineProcessor
    alerting: Alerting
    store: EvidenceStore
    owns_store: bool
    close_checkpoints: Callable[[], None]  # the last checkpoint pass over what was fed

    def close(self) -> None:
        self.processor.drain(60.0)
        self.processor.stop()
        self.close_checkpoints()
        self.alerting.stop()  # persists the detector's state (compacted at the replay clock)
        self.outbox.close()
        if self.owns_store:
            self.store.close()


def _pipeline(settings: Settings, clock: ReplayClock, store: EvidenceStore | None) -> _Pipeline:
    if settings.kafka_bootstrap:
        raise ReplayRefused(
            "replay feeds the embedded pipeline: unset FHIR_EVIDENCE_KAFKA_BOOTSTRAP "
            "(the evidence store may still be a ClickHouse server: FHIR_EVIDENCE_CLICKHOUSE_URL)"
        )
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    pseudonymizer = Pseudonymizer(hash_key(settings), HASH_KEY_VERSION)
    path = settings.data_dir / "outbox.sqlite"
    outbox = OutboxWriter(path, lambda e: evidence_payload(e, pseudonymizer), HASH_KEY_VERSION)
    owns_store = store is None
    store = store or open_evidence(settings)
    step, alerting = build_step(settings, store, pseudonymizer, "inline", clock=clock)
    processor = InlineProcessor(OutboxReader(path, CONSUMER), step, outbox.wait_for_commit)
    checkpoints = build_checkpoint_runner(settings, store, checkpoint_signer(settings))
    return _Pipeline(outbox, processor, alerting, store, owns_store, checkpoints.stop)


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from handle


def first_event_us(path: Path) -> int:
    for _, event in numbered_events(_lines(path)):
        return event.ts_us
    raise ReplayRefused(f"{path} holds no events")


def replay_file(
    settings: Settings,
    path: Path,
    speed: float = 0.0,
    clock_start_us: int | None = None,
    store: EvidenceStore | None = None,
) -> ReplayReport:
    """Feed a checked file (see `stream.replay.check_lines`) through the pipeline; returns
    what was fed and the alerts of the replayed stretch, by kind."""
    first = first_event_us(path)
    by_us = shift_us(first, clock_start_us)
    clock = ReplayClock(first + by_us)
    pipeline = _pipeline(settings, clock, store)
    try:
        report = asyncio.run(_feed(pipeline, path, speed, by_us, clock))
        report.alerts_by_kind = alert_kind_counts(pipeline.store, report.first_us, report.last_us)
    finally:
        pipeline.close()
    return report


async def _feed(
    pipeline: _Pipeline, path: Path, speed: float, by_us: int, clock: ReplayClock
) -> ReplayReport:
    detector, report = pipeline.alerting.detector, ReplayReport()
    began = time.monotonic()
    if detector.rules_changed:
        await pipeline.outbox.append(rules_changed_event(detector.fingerprint, clock.now_us()))
        detector.rules_recorded()
    chunk: list[tuple[int, AccessEvent]] = []
    for number, raw in numbered_events(_lines(path)):
        event = shifted(raw, by_us)
        if not report.events:
            report.first_us = event.ts_us
        wait = began + due_after_s(event.ts_us, report.first_us, speed) - time.monotonic()
        if chunk and (len(chunk) >= CHUNK or wait > 0):
            await _append_and_process(pipeline, chunk, clock)
            chunk = []
        if wait > 0:
            await asyncio.sleep(wait)
        chunk.append((number, event))
        report.events, report.last_us = report.events + 1, max(report.last_us, event.ts_us)
    if chunk:
        await _append_and_process(pipeline, chunk, clock)
    report.wall_s = time.monotonic() - began
    return report


async def _append_and_process(
    pipeline: _Pipeline, chunk: list[tuple[int, AccessEvent]], clock: ReplayClock
) -> None:
    """One outbox commit for the chunk, then the processor until it has taken all of it;
    the detector's clock is the chunk's newest event."""
    try:
        await asyncio.gather(*(pipeline.outbox.append(event) for _, event in chunk))
    except OutboxUnavailable:
        raise ReplayStopped(
            f"the outbox refused lines {chunk[0][0]}-{chunk[-1][0]} (an event id it already "
            "holds? a file is replayed into a data dir once); the lines before were fed"
        ) from None
    clock.advance_to(max(event.ts_us for _, event in chunk))
    processor = pipeline.processor
    while processor.position < pipeline.outbox.last_sequence:
        if not processor.process_available(patience_s=30.0):
            break


def replay_and_report(settings: Settings, path: Path, speed: float, clock_start: str) -> int:
    """The command: check the whole file first, then replay it; prints what happened and
    returns the exit code (0 done, 1 stopped part-way, 2 refused with nothing written)."""
    from api.audit.views import parse_instant_us
    from api.errors import InvalidRequest
    from evidence.core import StoreUnavailable

    try:
        start_us = parse_instant_us(clock_start, -1) if clock_start else None
        count, bad, bad_count = check_lines(_lines(path))
    except (InvalidRequest, OSError) as exc:
        return _refused(str(exc) if isinstance(exc, OSError) else "--clock-start: ISO 8601")
    if bad_count or not count:
        for line in bad:
            typer.echo(f"{path}: {line}", err=True)
        more = f" ({bad_count - len(bad)} more not shown)" if bad_count > len(bad) else ""
        return _refused(f"{path}: {bad_count} bad lines{more}" if bad_count else "no events")
    make_private(settings)  # the data dir (0700) only once the file is known good
    try:
        report = replay_file(settings, path, speed, start_us)
    except ReplayRefused as exc:
        return _refused(str(exc))
    except StoreUnavailable:
        return _refused("the evidence store cannot be opened (stop the server using this data "
                        "dir first: the embedded store is one process's)")  # fmt: skip
    except ReplayStopped as exc:
        typer.echo(f"fhir-evidence replay: {exc}", err=True)
        return 1
    typer.echo(summary(report))
    return 0


def _refused(reason: str) -> int:
    typer.echo(f"fhir-evidence replay: refused, nothing written: {reason}", err=True)
    return 2


def summary(report: ReplayReport) -> str:
    def iso(us: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us / 1_000_000))

    kinds = ", ".join(f"{k} {n}" for k, n in sorted(report.alerts_by_kind.items())) or "none"
    return (
        f"replayed {report.events} events from {iso(report.first_us)} to "
        f"{iso(report.last_us)} in {report.wall_s:.1f} s; alerts: {kinds}"
    )

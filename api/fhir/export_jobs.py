"""Bulk export jobs: the background runner (the jobs' files are kept by
api.fhir.export_store.JobStore).

The runner reads through the same policy applied inside the query as a FHIR search
(`FhirData.search` counts what labels withhold, `FhirData.scan` reads the rest batch by
batch), in a worker thread so the event loop stays free. It beats the job's lease at
every batch, so replicas sharing the job directory never run a job twice.
"""

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import orjson
import structlog

from api.data.port import FhirData, RepositoryUnavailable
from api.data.query import Criterion, OwnerIn
from api.fhir.export_params import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    ExportJob,
    OutputFile,
)
from api.fhir.export_store import JobStore, write_private
from api.fhir.search import constraint_alternatives, parse_search
from api.security.access import PatientReach, Reach
from api.security.redaction import redact

log = structlog.get_logger("fhir_evidence.export")
PAGE_SIZE = 500
PATIENT_CHUNK = 500  # group members per query (bounded query size)
RETENTION_S = 24 * 3600
LEASE_S = 30.0  # a job whose runner has not beaten for this long is resumed elsewhere
MAX_ATTEMPTS = 3
_EVERY_PATIENT = PatientReach(Reach.ALL)


class Cancelled(Exception):
    pass


def criteria_sets(job: ExportJob, resource_type: str) -> list[list[Criterion]]:
    """One criteria list per query to run for a type (group members come in chunks)."""
    since = []
    if job.since:
        since = parse_search(resource_type, [("_lastUpdated", "ge" + job.since)]).criteria
    if job.patient_ids is None:
        return [since]
    ids = job.patient_ids
    chunks = [ids[i : i + PATIENT_CHUNK] for i in range(0, len(ids), PATIENT_CHUNK)]
    return [[OwnerIn(tuple(chunk)), *since] for chunk in chunks]


@dataclass
class JobControl:
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: str = "queued"
    alive: Callable[[], bool] = lambda: True  # beats the job's lease; False: it was removed

    def check(self) -> None:
        """Stop here when the job was cancelled, here or through another replica."""
        if self.cancel.is_set() or not self.alive():
            raise Cancelled


def write_export(
    repository: FhirData, store: JobStore, job: ExportJob, control: JobControl
) -> list[OutputFile]:
    outputs = []
    for index, resource_type in enumerate(job.types):
        control.check()
        control.progress = f"exporting {resource_type} ({index + 1} of {len(job.types)} types)"
        outputs.append(_write_type(repository, store, job, resource_type, control))
    return outputs


def _write_type(
    repository: FhirData,
    store: JobStore,
    job: ExportJob,
    resource_type: str,
    control: JobControl,
) -> OutputFile:
    target = store.ndjson(job.id, resource_type)
    partial = target.with_name(target.name + ".part")
    partial.touch(mode=0o600)
    granular = constraint_alternatives(resource_type, job.constraints.get(resource_type, ()))
    query = _TypeQuery(
        repository,
        resource_type,
        frozenset(job.hidden_labels),
        granular,
        job.redactions.get(resource_type, ()),
    )
    written = withheld = 0
    patients: set[str] = set()
    with partial.open("wb") as out:
        for criteria in criteria_sets(job, resource_type):
            counts = query.write(out, criteria, control, patients)
            written, withheld = written + counts[0], withheld + counts[1]
    _publish(target, partial, written, patients)
    return OutputFile(resource_type, written, withheld)


@dataclass(frozen=True, slots=True)
class _TypeQuery:
    repository: FhirData
    resource_type: str
    hidden_labels: frozenset[str]
    granular: tuple[tuple[Criterion, ...], ...]
    redacted: tuple[str, ...] = ()

    def write(
        self, out: BinaryIO, criteria: list[Criterion], control: JobControl, patients: set[str]
    ) -> tuple[int, int]:
        """Every visible match, batch by batch: (lines written, matches withheld by labels)."""
        control.check()
        counts = self.repository.search(
            self.resource_type,
            criteria,
            _EVERY_PATIENT,
            self.hidden_labels,
            0,
            0,
            alternatives=self.granular,
        )
        written = 0
        batches = self.repository.scan(
            self.resource_type,
            criteria,
            _EVERY_PATIENT,
            self.hidden_labels,
            self.granular,
            PAGE_SIZE,
        )
        for batch in batches:
            for row in batch:
                out.write(_line(self._served(row.body)))
                if row.patient_id:
                    patients.add(row.patient_id)
            written += len(batch)
            control.check()
        return written, counts.in_reach - counts.total

    def _served(self, body: bytes) -> bytes:
        if not self.redacted:
            return body
        redacted = redact(orjson.loads(body), self.redacted)
        return body if redacted is None else orjson.dumps(redacted)


def _publish(target: Path, partial: Path, written: int, patients: set[str]) -> None:
    """Publish a finished file with its patients list, or drop an empty one."""
    if not written:
        partial.unlink()
        return
    write_private(target.with_name(target.stem + ".patients"), "\n".join(sorted(patients)).encode())
    os.replace(partial, target)


def _line(body: bytes) -> bytes:
    """Stored bodies are compact JSON already; anything else is re-encoded to one line."""
    if b"\n" in body or b"\r" in body:
        body = orjson.dumps(orjson.loads(body))
    return body + b"\n"


@dataclass
class _Running:
    task: "asyncio.Task[None]"
    control: JobControl
    owner: tuple[str, str]


class ExportJobs:
    """Starts, resumes and cancels jobs of this process; everything durable is in the store."""

    def __init__(self, store: JobStore, repository: FhirData, clock: Callable[[], float]) -> None:
        self.store = store
        self._repository = repository
        self._clock = clock
        self._running: dict[str, _Running] = {}

    def running_for(self, owner: tuple[str, str]) -> int:
        return sum(1 for r in self._running.values() if r.owner == owner)

    def progress(self, job_id: str) -> str | None:
        running = self._running.get(job_id)
        return running.control.progress if running else None

    def start(self, job: ExportJob) -> ExportJob:
        """Record the attempt, then run the job in a worker thread (needs a running loop)."""
        job = replace(job, attempts=job.attempts + 1, status=IN_PROGRESS)
        self.store.save(job)
        control = JobControl(alive=lambda: self.store.beat(job.id))
        task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self._execute, job, control)
        )
        self._running[job.id] = _Running(task, control, (job.owner_sub, job.owner_issuer))
        task.add_done_callback(lambda _: self._running.pop(job.id, None))
        return job

    def resume_if_stalled(self, job: ExportJob) -> ExportJob:
        """A job left in progress by an earlier process (or a store failure) runs again,
        unless its runner, in this process or another sharing the job directory, is alive."""
        if job.status != IN_PROGRESS or job.id in self._running:
            return job
        if self.store.beaten_within(job.id, LEASE_S, self._clock()):
            return job
        if job.attempts >= MAX_ATTEMPTS:
            failed = job.finished(FAILED, self._clock())
            self.store.save(failed)
            return failed
        return self.start(job)

    async def cancel(self, job_id: str) -> None:
        running = self._running.get(job_id)
        if running is not None:
            running.control.cancel.set()
            with contextlib.suppress(Exception):
                await asyncio.shield(running.task)
        await asyncio.to_thread(self.store.remove, job_id)

    def sweep(self, now: float) -> int:
        """Remove finished or abandoned jobs older than the retention (not running ones)."""
        removed = 0
        for job_id in self.store.job_ids():
            job = self.store.load(job_id)
            if job is None or job_id in self._running:
                continue
            if (job.finished_at or job.created_at) + RETENTION_S < now:
                self.store.remove(job_id)
                removed += 1
        return removed

    def _execute(self, job: ExportJob, control: JobControl) -> None:
        """The job, in a worker thread; a store failure leaves it in progress (resumable)."""
        try:
            outputs = write_export(self._repository, self.store, job, control)
        except Cancelled:
            return
        except RepositoryUnavailable:
            log.warning("export interrupted by the FHIR store", job_id=job.id)
            return
        except Exception:
            if self.store.load(job.id) is None:
                return  # removed under the runner (cancelled through another replica)
            log.exception("export failed", job_id=job.id)
            with contextlib.suppress(OSError):
                self.store.save(job.finished(FAILED, self._clock()))
            return
        self.store.save(job.finished(COMPLETED, self._clock(), outputs))

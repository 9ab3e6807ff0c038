"""Bulk export jobs against a real SQLite repository: files, policy, chunks, restart, cancel."""

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

import orjson
import pytest

from api.data.sqlite.repository import ResourceRepository
from api.fhir import export_jobs
from api.fhir.export_jobs import (
    Cancelled,
    ExportJobs,
    JobControl,
    write_export,
)
from api.fhir.export_params import COMPLETED, FAILED, IN_PROGRESS, ExportJob, OutputFile
from api.fhir.export_store import JobStore
from api.security.access import SENSITIVE_LABELS

OLD, NEW = "2025-01-01T00:00:00Z", "2026-06-01T00:00:00Z"
JOB_ID = "b" * 32


def _resource(rtype: str, rid: str, patient: str = "", labels: tuple[str, ...] = ()) -> Any:
    body: dict[str, Any] = {"resourceType": rtype, "id": rid}
    if patient:
        body["subject"] = {"reference": f"Patient/{patient}"}
    if labels:
        body["meta"] = {"security": [{"code": code} for code in labels]}
    return body


@pytest.fixture
def repository(tmp_path: Path) -> ResourceRepository:
    repo = ResourceRepository(tmp_path / "fhir.sqlite")
    repo.save_many(
        [
            _resource("Patient", "p1"),
            _resource("Patient", "p2", labels=("R",)),
            _resource("Patient", "p3"),
            _resource("Observation", "o1", "p1"),
            _resource("Observation", "o2", "p2"),
            _resource("Observation", "o3", "p1", labels=("HIV",)),
            _resource("Practitioner", "pr1"),
        ],
        OLD,
    )
    repo.save_many([_resource("Patient", "p4"), _resource("Observation", "o4", "p4")], NEW)
    return repo


def job(**fields: Any) -> ExportJob:
    values: dict[str, Any] = {
        "id": JOB_ID,
        "owner_sub": "s",
        "owner_issuer": "i",
        "request_url": "https://x/fhir/Patient/$export",
        "transaction_time": NEW,
        "types": ("Patient", "Observation", "Practitioner"),
        "hidden_labels": tuple(sorted(SENSITIVE_LABELS)),
        "created_at": 1000.0,
    }
    values.update(fields)
    return ExportJob(**values)


def lines(store: JobStore, rtype: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in store.ndjson(JOB_ID, rtype).read_bytes().splitlines()]


def run(repository: ResourceRepository, store: JobStore, record: ExportJob) -> list[OutputFile]:
    store.save(record)
    return write_export(repository, store, record, JobControl())


def test_export_writes_what_the_labels_allow(
    repository: ResourceRepository, tmp_path: Path
) -> None:
    store = JobStore(tmp_path / "exports")
    outputs = run(repository, store, job())
    assert outputs == [
        OutputFile("Patient", 3, 1),
        OutputFile("Observation", 3, 1),
        OutputFile("Practitioner", 1, 0),
    ]
    assert {r["id"] for r in lines(store, "Patient")} == {"p1", "p3", "p4"}
    assert {r["id"] for r in lines(store, "Observation")} == {"o1", "o2", "o4"}
    assert store.patients(JOB_ID, "Observation") == ["p1", "p2", "p4"]
    assert store.patients(JOB_ID, "Practitioner") == []
    mode = stat.S_IMODE(store.ndjson(JOB_ID, "Patient").stat().st_mode)
    assert mode & 0o077 == 0


def test_clearance_lifts_the_labels(repository: ResourceRepository, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "exports")
    outputs = run(repository, store, job(hidden_labels=()))
    assert [o.count for o in outputs] == [4, 4, 1] and all(o.withheld == 0 for o in outputs)


def test_since_keeps_recent_changes(repository: ResourceRepository, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "exports")
    outputs = run(repository, store, job(since="2026-01-01T00:00:00Z"))
    assert outputs == [
        OutputFile("Patient", 1, 0),
        OutputFile("Observation", 1, 0),
        OutputFile("Practitioner", 0, 0),
    ]
    assert not store.ndjson(JOB_ID, "Practitioner").exists()
    assert not list(store.directory(JOB_ID).glob("*.part"))


def test_group_members_in_chunks_and_small_pages(
    repository: ResourceRepository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_jobs, "PATIENT_CHUNK", 1)
    monkeypatch.setattr(export_jobs, "PAGE_SIZE", 1)
    store = JobStore(tmp_path / "exports")
    record = job(patient_ids=("p1", "p4", "nobody"), types=("Patient", "Observation"))
    outputs = run(repository, store, record)
    assert outputs == [OutputFile("Patient", 2, 0), OutputFile("Observation", 2, 1)]
    assert sorted(r["id"] for r in lines(store, "Observation")) == ["o1", "o4"]


def test_paging_exports_every_row_once(
    repository: ResourceRepository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_jobs, "PAGE_SIZE", 2)
    store = JobStore(tmp_path / "exports")
    run(repository, store, job(hidden_labels=(), types=("Patient",)))
    assert sorted(r["id"] for r in lines(store, "Patient")) == ["p1", "p2", "p3", "p4"]


def test_granular_constraints_apply(repository: ResourceRepository, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "exports")
    constraints = {"Patient": ((("_id", "p1"),), (("_id", "p4"),))}
    outputs = run(repository, store, job(types=("Patient",), constraints=constraints))
    assert outputs == [OutputFile("Patient", 2, 0)]
    assert sorted(r["id"] for r in lines(store, "Patient")) == ["p1", "p4"]


def test_empty_group_exports_nothing(repository: ResourceRepository, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "exports")
    assert all(o.count == 0 for o in run(repository, store, job(patient_ids=())))


def test_cancel_stops_the_writer(repository: ResourceRepository, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "exports")
    store.save(job())
    control = JobControl()
    control.cancel.set()
    with pytest.raises(Cancelled):
        write_export(repository, store, job(), control)


def test_store_round_trip_and_refusals(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "exports")
    record = job(patient_ids=("p1",))
    store.save(record)
    assert JobStore(tmp_path / "exports").load(JOB_ID) == record  # as after a restart
    assert stat.S_IMODE(store.directory(JOB_ID).stat().st_mode) == 0o700
    assert store.load("../../etc") is None and store.load("c" * 32) is None
    with pytest.raises(ValueError):
        store.directory("../x")
    (store.directory(JOB_ID) / "job.json").write_text("{not json")
    assert store.load(JOB_ID) is None


def test_jobs_run_in_the_background(repository: ResourceRepository, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "exports")

    async def scenario() -> ExportJob | None:
        jobs = ExportJobs(store, repository, lambda: 5000.0)
        started = jobs.start(job())
        assert started.attempts == 1 and jobs.running_for(("s", "i")) == 1
        while jobs.progress(JOB_ID) is not None:
            await asyncio.sleep(0.01)
        return store.load(JOB_ID)

    done = asyncio.run(scenario())
    assert done is not None and done.status == COMPLETED and done.finished_at == 5000.0
    assert [o.count for o in done.outputs] == [3, 3, 1]


def test_a_stalled_job_resumes_after_a_restart(
    repository: ResourceRepository, tmp_path: Path
) -> None:
    store = JobStore(tmp_path / "exports")
    store.save(job(attempts=1))  # left in progress by a previous process
    _age(store, JOB_ID)

    async def scenario() -> ExportJob | None:
        jobs = ExportJobs(store, repository, lambda: 5000.0)
        resumed = jobs.resume_if_stalled(store.load(JOB_ID) or job())
        assert resumed.status == IN_PROGRESS and resumed.attempts == 2
        while jobs.progress(JOB_ID) is not None:
            await asyncio.sleep(0.01)
        return store.load(JOB_ID)

    done = asyncio.run(scenario())
    assert done is not None and done.status == COMPLETED


def _age(store: JobStore, job_id: str, beaten_at: float = 1000.0) -> None:
    """The job's runner last beat at `beaten_at` (the tests' clock says 5000)."""
    os.utime(store.directory(job_id) / "job.json", (beaten_at, beaten_at))


def test_a_job_whose_runner_is_alive_elsewhere_is_left_to_it(
    repository: ResourceRepository, tmp_path: Path
) -> None:
    """Replicas sharing the export directory: a poll answered by another replica must not
    start the job a second time while its runner beats its lease."""
    store = JobStore(tmp_path / "exports")
    store.save(job(attempts=1))
    _age(store, JOB_ID, 5000.0 - export_jobs.LEASE_S / 2)
    jobs = ExportJobs(store, repository, lambda: 5000.0)
    left = jobs.resume_if_stalled(job(attempts=1))
    assert left.attempts == 1 and jobs.progress(JOB_ID) is None
    _age(store, JOB_ID, 5000.0 - export_jobs.LEASE_S - 1)
    assert not store.beaten_within(JOB_ID, export_jobs.LEASE_S, 5000.0)


def test_a_job_removed_through_another_replica_stops_its_runner(
    repository: ResourceRepository, tmp_path: Path
) -> None:
    store = JobStore(tmp_path / "exports")
    store.save(job())
    control = JobControl(alive=lambda: store.beat(JOB_ID))
    control.check()
    store.remove(JOB_ID)  # DELETE answered by the other replica
    with pytest.raises(Cancelled):
        write_export(repository, store, job(), control)


def test_a_job_that_keeps_stalling_fails(repository: ResourceRepository, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "exports")
    store.save(job(attempts=export_jobs.MAX_ATTEMPTS))
    _age(store, JOB_ID)
    jobs = ExportJobs(store, repository, lambda: 5000.0)
    assert jobs.resume_if_stalled(job(attempts=export_jobs.MAX_ATTEMPTS)).status == FAILED
    loaded = store.load(JOB_ID)
    assert loaded is not None and loaded.status == FAILED


def test_a_store_failure_leaves_the_job_resumable(tmp_path: Path) -> None:
    repository = ResourceRepository(tmp_path / "closed.sqlite")
    repository.close()
    store = JobStore(tmp_path / "exports")

    async def scenario() -> None:
        jobs = ExportJobs(store, repository, lambda: 5000.0)
        jobs.start(job())
        while jobs.progress(JOB_ID) is not None:
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    loaded = store.load(JOB_ID)
    assert loaded is not None and loaded.status == IN_PROGRESS and loaded.attempts == 1


def test_cancel_and_sweep_remove_jobs(repository: ResourceRepository, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "exports")
    jobs = ExportJobs(store, repository, lambda: 5000.0)
    store.save(job())
    asyncio.run(jobs.cancel(JOB_ID))
    assert not store.directory(JOB_ID).exists() and store.job_ids() == []
    fresh, stale = "d" * 32, "e" * 32
    store.save(job(id=fresh, created_at=100_000.0))
    store.save(job(id=stale).finished(COMPLETED, 2000.0))
    assert jobs.sweep(2000.0 + export_jobs.RETENTION_S + 1) == 1
    assert store.job_ids() == [fresh]

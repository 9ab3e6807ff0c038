"""Where export jobs live: `<root>/<job-id>/` holds `job.json` (what the job needs to run again
and to answer polls; its modification time is the runner's lease), one `<Type>.ndjson` per
exported type and `<Type>.patients` (their owner patients). The root may be shared by every
replica (FHIR_EVIDENCE_EXPORT_DIR); every job id is checked before it becomes a path."""

import os
import re
import shutil
from pathlib import Path

import orjson

from api.fhir.export_params import ExportJob, job_from_dict

JOB_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600)
    path.write_bytes(data)


class JobStore:
    """Job directories under one root; every job id is checked before it becomes a path."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def directory(self, job_id: str) -> Path:
        if not JOB_ID_RE.match(job_id):
            raise ValueError("not a job id")
        return self.root / job_id

    def save(self, job: ExportJob) -> None:
        directory = self.directory(job.id)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = directory / "job.json.tmp"
        write_private(temporary, orjson.dumps(job.as_dict()))
        os.replace(temporary, directory / "job.json")

    def load(self, job_id: str) -> ExportJob | None:
        if not JOB_ID_RE.match(job_id):
            return None
        try:
            job = job_from_dict(orjson.loads((self.root / job_id / "job.json").read_bytes()))
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        return job if job.id == job_id else None

    def remove(self, job_id: str) -> None:
        shutil.rmtree(self.directory(job_id), ignore_errors=True)

    def beat(self, job_id: str) -> bool:
        """The runner of a job says it is alive; False once the job was removed (cancelled,
        possibly through another replica sharing this directory)."""
        try:
            os.utime(self.directory(job_id) / "job.json")
        except OSError:
            return False
        return True

    def beaten_within(self, job_id: str, seconds: float, now: float) -> bool:
        try:
            return now - (self.directory(job_id) / "job.json").stat().st_mtime < seconds
        except OSError:
            return False

    def ndjson(self, job_id: str, resource_type: str) -> Path:
        return self.directory(job_id) / f"{resource_type}.ndjson"

    def patients(self, job_id: str, resource_type: str) -> list[str]:
        path = self.directory(job_id) / f"{resource_type}.patients"
        try:
            return path.read_text().split()
        except OSError:
            return []

    def job_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if JOB_ID_RE.match(p.name))

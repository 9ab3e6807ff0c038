"""Several processes starting on one empty store at once (replicas with demo data): exactly
one of them loads, on each adapter that can be shared."""

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from api.data.port import FhirData
from api.data.sqlite.repository import ResourceRepository
from tests.api.data.port_contract.resources import NOW, patient


def _load_at_once(handles: list[FhirData]) -> list[int]:
    start, loaded = threading.Barrier(len(handles)), []

    def load(store: FhirData) -> None:
        start.wait()
        loaded.append(store.load_into_empty([patient(f"p{n}") for n in range(300)], NOW))

    threads = [threading.Thread(target=load, args=(h,)) for h in handles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(loaded)


def _check(open_handle: Callable[[], FhirData]) -> None:
    handles = [open_handle() for _ in range(4)]
    try:
        assert _load_at_once(handles) == [0, 0, 0, 300]
        stored = handles[0].read("Patient", "p7")
        assert stored is not None and stored.version_id == 1
    finally:
        for handle in handles:
            handle.close()


def test_sqlite_loaders_load_once(tmp_path: Path) -> None:
    _check(lambda: ResourceRepository(tmp_path / "fhir.sqlite"))


@pytest.mark.postgres
def test_postgresql_loaders_load_once(postgres_database: str) -> None:
    from api.data.postgres.repository import PostgresRepository

    _check(lambda: PostgresRepository(postgres_database, max_size=2))

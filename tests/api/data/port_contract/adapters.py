"""The adapters the FHIR data port's contract suite runs against: each factory opens a fresh,
empty store in a directory of its own and closes it afterwards. Append an adapter here and
every contract test runs against it too (with its marks, e.g. the server it needs)."""

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.data.port import FhirData
from api.data.postgres.repository import PostgresRepository
from api.data.sqlite.repository import ResourceRepository
from tests.postgres_server import RecycledDatabases

AdapterFactory = Callable[[Path], AbstractContextManager[FhirData]]


@dataclass(frozen=True, slots=True)
class Adapter:
    """`factory` gets the adapter's store factory from the fixtures it needs (its server)."""

    factory: Callable[[pytest.FixtureRequest], AdapterFactory]
    marks: tuple[pytest.MarkDecorator, ...] = ()


@contextlib.contextmanager
def sqlite_store(directory: Path) -> Iterator[FhirData]:
    store = ResourceRepository(directory / "fhir.sqlite")
    try:
        yield store
    finally:
        store.close()


def postgresql_stores(request: pytest.FixtureRequest) -> AdapterFactory:
    """Stores in emptied databases of the session's server (an empty store per call; the
    directory is not used)."""
    databases: RecycledDatabases = request.getfixturevalue("postgres_recycled")

    @contextlib.contextmanager
    def open_store(directory: Path) -> Iterator[FhirData]:
        with databases.empty() as dsn:
            store = PostgresRepository(dsn, max_size=2)
            try:
                yield store
            finally:
                store.close()

    return open_store


ADAPTERS: dict[str, Adapter] = {
    "sqlite": Adapter(lambda request: sqlite_store),
    "postgresql": Adapter(postgresql_stores, (pytest.mark.postgres,)),
}
ADAPTER_PARAMS = [pytest.param(name, marks=ADAPTERS[name].marks) for name in sorted(ADAPTERS)]

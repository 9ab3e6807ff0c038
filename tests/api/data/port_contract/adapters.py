"""The adapters the FHIR data port's contract suite runs against: each factory opens a fresh,
empty store in a directory of its own and closes it afterwards. Append an adapter here and
every contract test runs against it too."""

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from api.data.port import FhirData
from api.data.sqlite.repository import ResourceRepository

AdapterFactory = Callable[[Path], AbstractContextManager[FhirData]]


@contextlib.contextmanager
def sqlite_store(directory: Path) -> Iterator[FhirData]:
    store = ResourceRepository(directory / "fhir.sqlite")
    try:
        yield store
    finally:
        store.close()


ADAPTERS: dict[str, AdapterFactory] = {"sqlite": sqlite_store}

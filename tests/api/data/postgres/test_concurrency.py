"""Writers of one resource in two clients at once (as two replicas would be): every update
takes its own version and none is lost; conditional saves either apply or conflict."""

import threading
from collections.abc import Callable, Iterator

import pytest

from api.data.port import VersionConflict
from api.data.postgres.repository import PostgresRepository
from tests.api.data.port_contract.resources import NOW, ids_found, observation

WRITERS, UPDATES = 2, 50


@pytest.fixture
def clients(postgres_database: str) -> Iterator[list[PostgresRepository]]:
    """One repository (its own pool) per writer: as separate processes would hold them."""
    opened = [PostgresRepository(postgres_database, max_size=2) for _ in range(WRITERS)]
    yield opened
    for store in opened:
        store.close()


def _together(work: Callable[[int], None]) -> None:
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def run(writer: int) -> None:
        start.wait()
        try:
            work(writer)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []


def test_concurrent_updates_lose_nothing(clients: list[PostgresRepository]) -> None:
    versions: list[list[int]] = [[] for _ in range(WRITERS)]

    def write(writer: int) -> None:
        for n in range(UPDATES):
            body = observation("o1", "p1", code=f"w{writer}-{n}")
            versions[writer].append(clients[writer].save(body, NOW)[0].version_id)

    _together(write)
    taken = sorted(version for mine in versions for version in mine)
    assert taken == list(range(1, WRITERS * UPDATES + 1))  # each version exactly once
    assert all(mine == sorted(mine) for mine in versions)
    stored = clients[0].read("Observation", "o1")
    assert stored is not None and stored.version_id == WRITERS * UPDATES
    assert stored.as_dict()["meta"]["versionId"] == str(WRITERS * UPDATES)
    last = stored.as_dict()["code"]["coding"][0]["code"]
    assert ids_found(clients[1], "Observation", ("code", last)) == ["o1"]  # index is current


def test_concurrent_creations_of_one_resource(clients: list[PostgresRepository]) -> None:
    created: list[bool] = []

    def write(writer: int) -> None:
        for n in range(UPDATES):
            created.append(clients[writer].save(observation(f"c{n}", "p1"), NOW)[1])

    _together(write)
    assert created.count(True) == UPDATES  # each resource created once, then updated
    for n in range(UPDATES):
        read = clients[0].read("Observation", f"c{n}")
        assert read is not None and read.version_id == WRITERS


def test_conditional_updates_apply_or_conflict(clients: list[PostgresRepository]) -> None:
    clients[0].save(observation("o1", "p1"), NOW)
    applied = [0] * WRITERS
    conflicts = [0] * WRITERS

    def write(writer: int) -> None:
        for _ in range(UPDATES):
            seen = clients[writer].read("Observation", "o1")
            assert seen is not None
            try:
                clients[writer].save(observation("o1", "p1"), NOW, seen.version_id)
                applied[writer] += 1
            except VersionConflict:
                conflicts[writer] += 1

    _together(write)
    stored = clients[0].read("Observation", "o1")
    assert stored is not None and stored.version_id == 1 + sum(applied)
    assert sum(applied) + sum(conflicts) == WRITERS * UPDATES


def test_concurrent_bulk_loads_of_the_same_resources(clients: list[PostgresRepository]) -> None:
    """Overlapping loads in opposite orders: no deadlock, every resource saved by both."""
    resources = [observation(f"b{n:03d}", "p1") for n in range(300)]

    def write(writer: int) -> None:
        ordered = resources if writer % 2 else list(reversed(resources))
        for _ in range(3):
            clients[writer].save_many(ordered, NOW)

    _together(write)
    for n in range(300):
        read = clients[0].read("Observation", f"b{n:03d}")
        assert read is not None and read.version_id == WRITERS * 3

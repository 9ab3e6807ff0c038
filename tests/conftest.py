"""Shared fixtures. chDB allows one engine path per process, so every in-process test
shares one engine and gets a database of its own."""

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import clickhouse_connect
import pytest

from evidence.store import EvidenceStore
from tests.containers import clickhouse_server, docker_available, kafka_container
from tests.hapi_server import hapi_upstream  # noqa: F401  (the session fixture, for every test)
from tests.kafka_broker import KafkaBroker, KafkaBrokerError, in_ci
from tests.keycloak_server import keycloak  # noqa: F401  (the session fixture, for every tier)
from tests.postgres_server import (
    URL_VARIABLE,
    PostgresServer,
    PostgresServerError,
    RecycledDatabases,
    fresh_database,
)
from tests.support import unavailable

HAS_SERVER = bool(os.environ.get("CLICKHOUSE_URL")) or docker_available()
STORE_BACKENDS = ["chdb"] + (["server"] if HAS_SERVER else [])


@pytest.fixture(scope="session")
def clickhouse_server_dsn() -> Iterator[str]:
    """$CLICKHOUSE_URL, else a ClickHouse server container (only where Docker runs)."""
    if os.environ.get("CLICKHOUSE_URL"):
        yield os.environ["CLICKHOUSE_URL"]
        return
    with clickhouse_server() as dsn:
        yield dsn


@pytest.fixture(scope="session")
def chdb_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    path: Path = tmp_path_factory.mktemp("chdb-engine")
    client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    yield client
    client.close()


@pytest.fixture(params=STORE_BACKENDS)
def evidence_store(request: pytest.FixtureRequest) -> Iterator[EvidenceStore]:
    """A fresh evidence database on every backend available (chDB always)."""
    if request.param == "chdb":
        client = request.getfixturevalue("chdb_client")
    else:
        client = clickhouse_connect.get_client(dsn=request.getfixturevalue("clickhouse_server_dsn"))
    database = f"t_{uuid.uuid4().hex[:12]}"
    store = EvidenceStore(client, database)  # type: ignore[arg-type]
    store.apply_schema()
    yield store
    store.raw_command(f"DROP DATABASE IF EXISTS {database}")


def _kafka_unavailable(reason: str) -> NoReturn:
    """Under CI a Kafka test must run: error it. Elsewhere skip it, saying why."""
    unavailable(reason, "Kafka tests")


@pytest.fixture(scope="session")
def _kafka_jar_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """The broker this session starts from the Maven jars, on first request only."""
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"))
    try:
        broker.start()
        error = None
    except KafkaBrokerError as exc:
        error = exc
    if error is not None:  # outside the except: no "during handling" chain in the report
        reason = f"no Kafka broker from the Maven jars ({error.summary}); or set KAFKA_BOOTSTRAP"
        _kafka_unavailable(f"{reason}\n{error.details}" if in_ci() else reason)
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def _kafka_container() -> Iterator[str]:
    with kafka_container() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    """Bootstrap servers of a running broker: $KAFKA_BOOTSTRAP, else the jar broker, else
    (no Java or Maven, but a Docker engine) a testcontainers broker."""
    external = os.environ.get("KAFKA_BOOTSTRAP")
    if external:
        return external
    if not (shutil.which("java") and shutil.which("mvn")) and docker_available():
        return str(request.getfixturevalue("_kafka_container"))
    return str(request.getfixturevalue("_kafka_jar_broker").bootstrap)


@pytest.fixture
def kafka_broker(request: pytest.FixtureRequest) -> Iterator[KafkaBroker]:
    """The jar broker behind kafka_bootstrap, to stop/kill/restart (same port, same data);
    started again after the test if the test left it down."""
    if os.environ.get("KAFKA_BOOTSTRAP"):
        _kafka_unavailable("KAFKA_BOOTSTRAP is an external broker: tests cannot stop/restart it")
    broker: KafkaBroker = request.getfixturevalue("_kafka_jar_broker")
    yield broker
    if not broker.running:
        broker.start()


def _postgres_unavailable(reason: str) -> NoReturn:
    """Under CI a PostgreSQL test must run: error it. Elsewhere skip it, saying why."""
    unavailable(reason, "PostgreSQL tests")


@pytest.fixture(scope="session")
def _postgres_started() -> Iterator[PostgresServer]:
    """The server this session starts with scripts/postgres.sh, on first request only (in a
    `mktemp -d` directory: the server's unprivileged user cannot enter pytest's tmp dirs)."""
    state = Path(tempfile.mkdtemp(prefix="fhir-evidence-pg-"))
    server = PostgresServer(state)
    try:
        server.start()
        error = None
    except PostgresServerError as exc:
        error = exc
    if error is not None:
        reason = f"no PostgreSQL server ({error.summary}); or set {URL_VARIABLE}"
        shutil.rmtree(state, ignore_errors=True)
        _postgres_unavailable(f"{reason}\n{error.details}" if in_ci() else reason)
    yield server
    with contextlib.suppress(PostgresServerError):
        server.stop()
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server_dsn(request: pytest.FixtureRequest) -> str:
    """A server where the tests may create databases: $FHIR_EVIDENCE_TEST_POSTGRES_URL, else
    one started from Debian's binaries (scripts/postgres.sh)."""
    external = os.environ.get(URL_VARIABLE)
    if external:
        return external
    server: PostgresServer = request.getfixturevalue("_postgres_started")
    return server.dsn


@pytest.fixture
def postgres_server(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """The server behind postgres_server_dsn, to stop and start again (same port and data);
    started again after the test if the test left it down."""
    if os.environ.get(URL_VARIABLE):
        _postgres_unavailable(f"{URL_VARIABLE} is an external server: tests cannot stop it")
    server: PostgresServer = request.getfixturevalue("_postgres_started")
    yield server
    if not server.running:
        server.start()


@pytest.fixture
def postgres_database(postgres_server_dsn: str) -> Iterator[str]:
    """The DSN of a fresh, empty database, dropped after the test."""
    with fresh_database(postgres_server_dsn) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def postgres_recycled(postgres_server_dsn: str) -> Iterator[RecycledDatabases]:
    """Empty databases reused across tests (emptied, not created, for each store)."""
    databases = RecycledDatabases(postgres_server_dsn)
    yield databases
    databases.drop_all()


POSTGRES_FIXTURES = {
    "postgres_server_dsn",
    "postgres_server",
    "postgres_database",
    "postgres_recycled",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:  # `-m "not kafka"` also leaves out tests that only use the fixtures
        fixtures = set(getattr(item, "fixturenames", ()))
        if {"kafka_bootstrap", "kafka_broker"} & fixtures:
            item.add_marker(pytest.mark.kafka)
        if POSTGRES_FIXTURES & fixtures:
            item.add_marker(pytest.mark.postgres)
        if "hapi_upstream" in fixtures:
            item.add_marker(pytest.mark.hapi)
        if "keycloak" in fixtures:
            item.add_marker(pytest.mark.keycloak)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `pytest -n 2` (the test command), whole work units go to one worker: the tests
    sharing an expensive session server form one unit (`scheduling_unit`), so each server
    starts once per run; every other test module is a unit of its own."""
    from xdist.scheduler import LoadScopeScheduling

    class ServerUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scheduling_unit(nodeid)

    return ServerUnitScheduling(config, log)


SERVER_UNITS = (  # path prefix -> unit: the tests of one expensive session server
    ("tests/gateway/", "hapi"),
    ("tests/test_hapi_upstream.py", "hapi"),
    ("tests/keycloak/", "keycloak"),
    ("tests/conformance/", "conformance"),
    ("tests/interop/", "interop"),
    ("tests/browser/", "browser"),
)


def scheduling_unit(nodeid: str) -> str:
    """The work unit of a test, from its node id alone (the scheduler sees nothing else)."""
    for prefix, unit in SERVER_UNITS:
        if nodeid.startswith(prefix):
            return unit
    module, _, name = nodeid.partition("::")
    store = name.partition("[")[2].split("-")[0].rstrip("]")
    if module.startswith("tests/e2e/") and store in ("sqlite", "postgresql"):
        return f"e2e-{store}"  # the e2e session server of that FHIR store
    return module


def pytest_report_header() -> list[str]:
    backends = ", ".join(STORE_BACKENDS)
    note = "" if "server" in STORE_BACKENDS else " (set CLICKHOUSE_URL to add a server)"
    kafka = os.environ.get("KAFKA_BOOTSTRAP") or "broker from the Maven jars, started on first use"
    return [f"evidence store backends: {backends}{note}", f"kafka: {kafka}"]

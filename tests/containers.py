"""testcontainers, used only where a Docker engine answers (never on our machines): a
ClickHouse server for the store contract tests, a Kafka broker when the jars cannot run."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

CLICKHOUSE_IMAGE = "clickhouse/clickhouse-server:25.8"
KAFKA_IMAGE = "apache/kafka:4.1.0"


@cache
def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@contextmanager
def clickhouse_server() -> Iterator[str]:
    """A DSN (http://user:password@host:port/) of a throw-away ClickHouse server."""
    from testcontainers.community.clickhouse import ClickHouseContainer

    with ClickHouseContainer(CLICKHOUSE_IMAGE) as server:
        host, port = server.get_container_host_ip(), server.get_exposed_port(8123)
        yield f"http://{server.username}:{server.password}@{host}:{port}/"


@contextmanager
def kafka_container() -> Iterator[str]:
    """Bootstrap servers of a throw-away KRaft broker."""
    from testcontainers.community.kafka import KafkaContainer

    with KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka:
        yield kafka.get_bootstrap_server()

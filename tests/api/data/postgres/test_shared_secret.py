"""Values every replica must agree on (the cursor signing key, the pseudonymisation key): the
first one stored under a name stays, whoever asks and however many ask at once."""

import secrets
import threading

from api.data.postgres.repository import PostgresRepository


def test_the_first_value_stays(postgres_database: str) -> None:
    made: list[bytes] = []

    def make() -> bytes:
        made.append(secrets.token_bytes(32))
        return made[-1]

    first = PostgresRepository(postgres_database)
    try:
        key = first.shared_secret("cursor-key", make)
        assert key == made[0] and len(key) == 32
        assert first.shared_secret("cursor-key", make) == key and len(made) == 1
        other = first.shared_secret("hash-key", make)
        assert other != key and len(made) == 2
    finally:
        first.close()
    again = PostgresRepository(postgres_database)
    try:
        assert again.shared_secret("cursor-key", lambda: b"never used") == key
    finally:
        again.close()


def test_replicas_asking_at_once_agree(postgres_database: str) -> None:
    replicas = [PostgresRepository(postgres_database, max_size=1) for _ in range(4)]
    start = threading.Barrier(len(replicas))
    got: list[bytes] = []

    def ask(replica: PostgresRepository) -> None:
        start.wait()
        got.append(replica.shared_secret("k", lambda: secrets.token_bytes(16)))

    threads = [threading.Thread(target=ask, args=(replica,)) for replica in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for replica in replicas:
        replica.close()
    assert len(got) == len(replicas) and len(set(got)) == 1

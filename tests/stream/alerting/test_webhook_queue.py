"""WebhookQueue: durable, idempotent, dead-letters after max attempts, errors translated."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence.core import EvidenceError
from stream.alerting.webhook_queue import WebhookQueue, WebhookQueueError

T0 = 1_700_000_000.0


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "webhook.sqlite"


@pytest.fixture
def queue(path: Path) -> Iterator[WebhookQueue]:
    q = WebhookQueue(path)
    yield q
    q.close()


def test_enqueue_is_idempotent_on_delivery_id(queue: WebhookQueue) -> None:
    assert queue.enqueue("alert-1:1", b'{"v":1}', T0) is True
    assert queue.enqueue("alert-1:1", b'{"v":"other"}', T0 + 5) is False
    assert queue.pending_count() == 1
    [delivery] = queue.due(T0, 10)
    assert delivery.body == b'{"v":1}'  # the first body is kept
    # An updated alert is re-enqueued under a new delivery id: a second delivery.
    assert queue.enqueue("alert-1:2", b'{"v":2}', T0 + 1) is True
    assert queue.pending_count() == 2


def test_delivered_id_is_not_rearmed_by_enqueue(queue: WebhookQueue) -> None:
    queue.enqueue("d1", b"{}", T0)
    assert queue.mark_delivered("d1", T0 + 1) is True
    assert queue.enqueue("d1", b"{}", T0 + 2) is False
    assert queue.due(T0 + 10, 10) == []
    assert queue.counts() == {"pending": 0, "delivered": 1, "dead": 0}


def test_due_respects_next_attempt_and_order(queue: WebhookQueue) -> None:
    queue.enqueue("b", b"{}", T0 + 1)
    queue.enqueue("a", b"{}", T0)
    queue.enqueue("later", b"{}", T0 + 100)
    assert [d.delivery_id for d in queue.due(T0 + 1, 10)] == ["a", "b"]
    assert [d.delivery_id for d in queue.due(T0 + 1, 1)] == ["a"]
    assert queue.mark_failed("a", T0 + 2, T0 + 50, "http_500") == "pending"
    assert [d.delivery_id for d in queue.due(T0 + 2, 10)] == ["b"]
    assert queue.next_due_at() == T0 + 1
    [a] = [d for d in queue.due(T0 + 50, 10) if d.delivery_id == "a"]
    assert a.attempts == 1
    record = queue.get("a")
    assert record is not None
    assert (record.status, record.attempts, record.last_error) == ("pending", 1, "http_500")


def test_dead_after_max_attempts_kept_and_counted(path: Path) -> None:
    queue = WebhookQueue(path, max_attempts=3)
    try:
        queue.enqueue("d1", b"{}", T0)
        assert queue.mark_failed("d1", T0, T0 + 1, "connect") == "pending"
        assert queue.mark_failed("d1", T0 + 1, T0 + 3, "connect") == "pending"
        assert queue.mark_failed("d1", T0 + 3, T0 + 7, "connect") == "dead"
        assert queue.mark_failed("d1", T0 + 7, T0 + 9, "connect") is None  # not pending
        assert queue.due(T0 + 1000, 10) == []
        assert queue.next_due_at() is None
        assert queue.counts() == {"pending": 0, "delivered": 0, "dead": 1}
        assert queue.dead_count() == 1
        [dead] = queue.dead()
        assert (dead.delivery_id, dead.status, dead.attempts) == ("d1", "dead", 3)
        assert queue.prune_delivered(T0 + 10_000) == 0  # dead ones are never pruned
        assert queue.requeue_dead(T0 + 20) == 1
        [again] = queue.due(T0 + 20, 10)
        assert again.attempts == 0
    finally:
        queue.close()


def test_pending_survives_reopen(path: Path) -> None:
    first = WebhookQueue(path)
    first.enqueue("d1", b'{"kind":"break_glass"}', T0)
    first.enqueue("d2", b"{}", T0)
    first.mark_delivered("d2", T0 + 1)
    first.close()
    second = WebhookQueue(path)
    try:
        assert [d.delivery_id for d in second.due(T0 + 1, 10)] == ["d1"]
        assert second.due(T0 + 1, 10)[0].body == b'{"kind":"break_glass"}'
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        second.close()


def test_prune_delivered_only(queue: WebhookQueue) -> None:
    queue.enqueue("old", b"{}", T0)
    queue.enqueue("new", b"{}", T0)
    queue.enqueue("waiting", b"{}", T0)
    queue.mark_delivered("old", T0 + 1)
    queue.mark_delivered("new", T0 + 100)
    assert queue.prune_delivered(T0 + 50) == 1
    assert queue.get("old") is None
    assert queue.counts() == {"pending": 1, "delivered": 1, "dead": 0}


def test_sqlite_errors_become_webhook_queue_errors(tmp_path: Path) -> None:
    with pytest.raises(WebhookQueueError) as opened:
        WebhookQueue(tmp_path)  # a directory is no database
    assert opened.value.code == "webhook.queue_unavailable"
    assert isinstance(opened.value, EvidenceError)
    queue = WebhookQueue(tmp_path / "q.sqlite")
    queue.close()
    with pytest.raises(WebhookQueueError):
        queue.enqueue("d1", b"{}", T0)
    with pytest.raises(WebhookQueueError):
        queue.pending_count()


def test_arguments_validated(path: Path) -> None:
    with pytest.raises(ValueError):
        WebhookQueue(path, max_attempts=0)
    queue = WebhookQueue(path)
    try:
        with pytest.raises(ValueError):
            queue.enqueue("", b"{}", T0)
    finally:
        queue.close()

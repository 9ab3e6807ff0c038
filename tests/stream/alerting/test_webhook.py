"""Alert webhook: signing, back-off, and delivery to a real HTTP receiver on loopback."""

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from stream.alerting.webhook import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    SIGNATURE_TIMESTAMP_HEADER,
    SIGNATURE_V2_HEADER,
    WebhookDeliverer,
    backoff_s,
    sign,
    sign_v2,
    verify_body_signature,
    verify_signature,
)
from stream.alerting.webhook_queue import WebhookQueue
from tests.support import free_port, wait_for

SECRET = b"webhook-test-secret"
BODY = b'{"id":"al-1","kind":"bulk_access_spike","principal":"dr-alice","counts":{"patients":120}}'


@dataclass(frozen=True)
class Post:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    answered: int


class Receiver:
    """A webhook receiver on loopback: records every POST; answers 500 to the first
    `fail_first` posts, 200 afterwards. Can be stopped and started again on its port."""

    def __init__(self, port: int = 0, fail_first: int = 0) -> None:
        self.port = port
        self.fail_first = fail_first
        self.posts: list[Post] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "Receiver":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with owner._lock:
                    status = 500 if owner.fail_first > 0 else 200
                    owner.fail_first -= status == 500
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    owner.posts.append(Post(self.path, headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            assert self._thread is not None
            self._thread.join(5)
            self._httpd = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/alerts"

    def accepted(self) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if p.answered == 200]

    def all_posts(self) -> list[Post]:
        with self._lock:
            return list(self.posts)


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[WebhookQueue]:
    q = WebhookQueue(tmp_path / "webhook.sqlite")
    yield q
    q.close()


_deliverers: list[WebhookDeliverer] = []


@pytest.fixture(autouse=True)
def _stop_deliverers() -> Iterator[None]:
    yield
    while _deliverers:
        _deliverers.pop().stop()


def deliverer(queue: WebhookQueue, url: str | None, **kwargs: Any) -> WebhookDeliverer:
    kwargs.setdefault("secret", SECRET)
    d = WebhookDeliverer(queue, url, **kwargs)
    _deliverers.append(d)
    return d


def closed_port_url() -> tuple[int, str]:
    port = free_port()  # bound then released: nobody listens, connections are refused
    return port, f"http://127.0.0.1:{port}/hooks/alerts"


# --- pure helpers -------------------------------------------------------------------------


def test_sign_is_hmac_of_the_exact_body() -> None:
    expected = hmac.new(SECRET, BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, "1700000000", BODY) == f"sha256={expected}"
    assert sign(SECRET.decode(), "1", BODY) == f"sha256={expected}"  # str secrets are UTF-8
    v2 = hmac.new(SECRET, b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign_v2(SECRET, "1700000000", BODY) == f"sha256={v2}"


def test_verify_signature_rejects_tampering_wrong_secret_and_replay() -> None:
    ts = "1700000000"
    header = sign_v2(SECRET, ts, BODY)
    assert verify_signature(SECRET, ts, BODY, header, now=1_700_000_000 + 299)
    assert not verify_signature(SECRET, ts, BODY + b" ", header, now=1_700_000_000)
    assert not verify_signature(b"other-secret", ts, BODY, header, now=1_700_000_000)
    assert not verify_signature(SECRET, ts, BODY, header, now=1_700_000_000 + 301)  # replay
    assert not verify_signature(SECRET, ts, BODY, header, now=1_700_000_000 - 301)
    assert not verify_signature(SECRET, "1700000001", BODY, header, now=1_700_000_000)
    assert not verify_signature(SECRET, "abc", BODY, header, now=1_700_000_000)
    assert not verify_signature(SECRET, ts, BODY, "sha256=ünicode", now=1_700_000_000)
    assert verify_body_signature(SECRET, BODY, sign(SECRET, ts, BODY))
    assert not verify_body_signature(SECRET, BODY + b"x", sign(SECRET, ts, BODY))


@given(
    secret=st.binary(min_size=1, max_size=64),
    body=st.binary(max_size=512),
    ts=st.integers(min_value=0, max_value=10**11),
    skew=st.floats(min_value=-300, max_value=300),
)
def test_sign_verify_round_trip(secret: bytes, body: bytes, ts: int, skew: float) -> None:
    timestamp = str(ts)
    header = sign_v2(secret, timestamp, body)
    assert verify_signature(secret, timestamp, body, header, now=ts + skew)
    assert not verify_signature(secret, timestamp, body + b"!", header, now=ts + skew)
    assert not verify_signature(secret + b"x", timestamp, body, header, now=ts + skew)
    assert verify_body_signature(secret, body, sign(secret, timestamp, body))


@given(
    first=st.integers(min_value=-5, max_value=2000),
    step=st.integers(min_value=0, max_value=2000),
    base=st.floats(min_value=0.0, max_value=100.0),
    cap=st.floats(min_value=0.0, max_value=10_000.0),
    jitter=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_backoff_monotonic_and_capped(
    first: int, step: int, base: float, cap: float, jitter: float
) -> None:
    earlier = backoff_s(first, base, cap, jitter)
    later = backoff_s(first + step, base, cap, jitter)
    assert 0.0 <= earlier <= later <= cap


def test_backoff_values() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_s(20) == 300.0
    assert backoff_s(3, base=0.5, cap=10.0, jitter=0.5) == 2.0 * 0.75
    with pytest.raises(ValueError):
        backoff_s(1, jitter=1.0)


# --- delivery -----------------------------------------------------------------------------


def test_delivered_within_two_seconds_signed(receiver: Receiver, queue: WebhookQueue) -> None:
    d = deliverer(queue, receiver.url)
    d.start()
    time.sleep(0.1)  # the thread is idle, waiting: the enqueue must wake it
    started = time.monotonic()
    assert d.enqueue("al-1:1", BODY) is True
    [post] = wait_for(receiver.accepted, timeout=2.0)
    assert time.monotonic() - started < 2.0
    assert post.body == BODY
    assert post.headers["content-type"] == "application/json"
    assert post.headers[DELIVERY_HEADER.lower()] == "al-1:1"
    expected = "sha256=" + hmac.new(SECRET, BODY, hashlib.sha256).hexdigest()
    assert post.headers[SIGNATURE_HEADER.lower()] == expected
    ts = post.headers[SIGNATURE_TIMESTAMP_HEADER.lower()]
    v2 = post.headers[SIGNATURE_V2_HEADER.lower()]
    assert abs(int(ts) - time.time()) < 5
    assert verify_signature(SECRET, ts, post.body, v2, now=time.time())
    assert not verify_signature(SECRET, ts, post.body.replace(b"120", b"12"), v2, time.time())
    assert not verify_signature(b"wrong", ts, post.body, v2, now=time.time())
    assert not verify_signature(SECRET, ts, post.body, v2, now=int(ts) + 301)  # replayed later
    wait_for(lambda: queue.pending_count() == 0, timeout=2.0)
    record = queue.get("al-1:1")
    assert record is not None and record.status == "delivered" and record.attempts == 1


def test_connection_refused_retried_with_growing_delays(queue: WebhookQueue) -> None:
    port, url = closed_port_url()
    clock = FakeClock()
    d = deliverer(queue, url, clock=clock, jitter=lambda: 0.0, base_s=1.0)
    d.enqueue("al-2:1", BODY)
    delays = []
    for _ in range(4):
        assert d.deliver_due() == 1
        record = queue.get("al-2:1")
        assert record is not None and record.status == "pending"
        assert record.last_error == "connect"
        delays.append(record.next_attempt_at - clock.now)
        assert d.deliver_due() == 0  # not due yet
        clock.now = record.next_attempt_at
    assert delays == [1.0, 2.0, 4.0, 8.0]
    receiver = Receiver(port=port).start()
    try:
        assert d.deliver_due() == 1
        assert [p.body for p in receiver.accepted()] == [BODY]
        record = queue.get("al-2:1")
        assert record is not None and (record.status, record.attempts) == ("delivered", 5)
    finally:
        receiver.stop()


def test_receiver_down_then_back_delivered_by_the_thread(queue: WebhookQueue) -> None:
    port, url = closed_port_url()
    d = deliverer(queue, url, base_s=0.05, cap_s=0.4)
    d.start()
    d.enqueue("al-3:1", BODY)
    wait_for(lambda: (r := queue.get("al-3:1")) is not None and r.attempts >= 3, timeout=5)
    receiver = Receiver(port=port).start()
    try:
        wait_for(receiver.accepted, timeout=3)
        wait_for(lambda: queue.pending_count() == 0, timeout=2)
        assert len(receiver.all_posts()) == 1
    finally:
        receiver.stop()


def test_500_three_times_then_200_delivered_exactly_once(queue: WebhookQueue) -> None:
    receiver = Receiver(fail_first=3).start()
    try:
        d = deliverer(queue, receiver.url, base_s=0.02)
        d.start()
        d.enqueue("al-4:1", BODY)
        wait_for(receiver.accepted, timeout=5)
        time.sleep(0.3)  # nothing more may arrive
        posts = receiver.all_posts()
        assert [p.answered for p in posts] == [500, 500, 500, 200]
        assert {p.headers[DELIVERY_HEADER.lower()] for p in posts} == {"al-4:1"}
        assert all(p.body == BODY for p in posts)
        record = queue.get("al-4:1")
        assert record is not None and (record.status, record.attempts) == ("delivered", 4)
    finally:
        receiver.stop()


def test_pending_delivery_survives_restart(tmp_path: Path, receiver: Receiver) -> None:
    path = tmp_path / "webhook.sqlite"
    first_queue = WebhookQueue(path)
    first = WebhookDeliverer(first_queue, receiver.url, SECRET)  # stopped before it sends
    first.enqueue("al-5:1", BODY)
    first.stop()
    first_queue.close()
    assert receiver.all_posts() == []
    second_queue = WebhookQueue(path)
    try:
        d = deliverer(second_queue, receiver.url)
        d.start()
        [post] = wait_for(receiver.accepted, timeout=2)
        assert post.headers[DELIVERY_HEADER.lower()] == "al-5:1"
        assert post.body == BODY
    finally:
        d.stop()
        second_queue.close()


def test_idempotent_enqueue_sends_once(receiver: Receiver, queue: WebhookQueue) -> None:
    d = deliverer(queue, receiver.url)
    assert d.enqueue("al-6:1", BODY) is True
    assert d.enqueue("al-6:1", BODY) is False
    assert queue.pending_count() == 1
    d.start()
    wait_for(receiver.accepted, timeout=2)
    wait_for(lambda: queue.pending_count() == 0, timeout=2)
    assert d.enqueue("al-6:1", BODY) is False  # delivered already: not sent again
    assert d.enqueue("al-6:2", BODY.replace(b"120", b"180")) is True  # the updated alert
    wait_for(lambda: len(receiver.accepted()) == 2, timeout=2)
    time.sleep(0.1)
    delivered = [p.headers[DELIVERY_HEADER.lower()] for p in receiver.all_posts()]
    assert delivered == ["al-6:1", "al-6:2"]


def test_dead_after_max_attempts(tmp_path: Path) -> None:
    queue = WebhookQueue(tmp_path / "webhook.sqlite", max_attempts=3)
    receiver = Receiver(fail_first=1000).start()
    try:
        clock = FakeClock()
        d = deliverer(queue, receiver.url, clock=clock, jitter=lambda: 0.5, base_s=1.0)
        d.enqueue("al-7:1", BODY)
        for _ in range(5):
            d.deliver_due()
            clock.now += 1000
        assert len(receiver.all_posts()) == 3
        assert queue.counts() == {"pending": 0, "delivered": 0, "dead": 1}
        record = queue.get("al-7:1")
        assert record is not None
        assert (record.status, record.attempts, record.last_error) == ("dead", 3, "http_500")
    finally:
        receiver.stop()
        queue.close()


def test_body_and_url_never_logged(tmp_path: Path) -> None:
    marker = b"principal-sub-7f3a9c"
    body = b'{"id":"al-8","principal":"' + marker + b'"}'
    port, _ = closed_port_url()
    url = f"http://127.0.0.1:{port}/hooks/tok-53cr3t"
    queue = WebhookQueue(tmp_path / "webhook.sqlite", max_attempts=3)
    clock = FakeClock()
    with structlog.testing.capture_logs() as entries:
        d = deliverer(queue, url, clock=clock, jitter=lambda: 0.0)
        d.enqueue("al-8:1", body)
        for _ in range(3):  # connection refused three times: failed, failed, dead
            assert d.deliver_due() == 1
            clock.now += 1000
        receiver = Receiver(port=port).start()
        try:
            queue.requeue_dead(clock.now)
            d.start()
            d.notify()
            wait_for(receiver.accepted, timeout=2)
            wait_for(lambda: queue.pending_count() == 0, timeout=2)
        finally:
            receiver.stop()
    queue.close()
    text = repr(entries)
    events = [e["event"] for e in entries]
    assert any("delivered" in e for e in events)
    assert any("dead" in e for e in events)
    assert any(e.get("delivery_id") == "al-8:1" for e in entries)
    assert marker.decode() not in text
    assert "tok-53cr3t" not in text
    assert SECRET.decode() not in text


def test_no_url_means_no_webhook(queue: WebhookQueue) -> None:
    d = deliverer(queue, None)
    d.start()
    assert not d.enabled and not d.running
    assert d.enqueue("al-9:1", BODY) is False
    assert queue.pending_count() == 0
    assert d.deliver_due() == 0


def test_unsigned_without_secret(receiver: Receiver, queue: WebhookQueue) -> None:
    d = deliverer(queue, receiver.url, secret=None)
    d.enqueue("al-10:1", BODY)
    assert d.deliver_due() == 1
    [post] = receiver.accepted()
    assert SIGNATURE_HEADER.lower() not in post.headers
    assert post.headers[DELIVERY_HEADER.lower()] == "al-10:1"


def test_bad_url_fails_the_attempt_not_the_thread(queue: WebhookQueue) -> None:
    d = deliverer(queue, "ftp://127.0.0.1/alerts", base_s=10.0)
    d.start()
    d.enqueue("al-11:1", BODY)
    wait_for(lambda: (r := queue.get("al-11:1")) is not None and r.attempts == 1, timeout=2)
    record = queue.get("al-11:1")
    assert record is not None and record.status == "pending"
    assert record.last_error is not None and record.last_error.startswith("transport.")
    assert d.running


def test_queue_failure_does_not_kill_the_thread(tmp_path: Path, receiver: Receiver) -> None:
    queue = WebhookQueue(tmp_path / "webhook.sqlite")
    with structlog.testing.capture_logs() as entries:
        d = deliverer(queue, receiver.url, idle_s=0.05)
        d.start()
        queue.close()  # every queue call now raises WebhookQueueError
        d.notify()
        wait_for(lambda: any("deliverer error" in e["event"] for e in entries), timeout=2)
        assert d.running
    assert any(e.get("error") == "webhook.queue_unavailable" for e in entries)

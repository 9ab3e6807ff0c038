"""Signed delivery of alerts to the security team's webhook (the contract's alert section).

Each alert body (JSON) is POSTed to `FHIR_EVIDENCE_ALERT_WEBHOOK_URL` with these headers:

- `Content-Type: application/json`
- `X-Signature: sha256=<hex HMAC-SHA256(secret, body)>`: the contract's signature, over the
  exact body bytes only.
- `X-Signature-Timestamp: <unix seconds>`: when this attempt was sent.
- `X-Signature-V2: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`: binds the body to
  the timestamp, so a receiver can reject a captured post replayed later. Verify this one with
  `verify_signature` (it checks the HMAC and that the timestamp is within `tolerance_s` of
  the receiver's clock). `X-Signature` alone cannot stop replays.
- `X-Alert-Delivery: <delivery id>`: stable across retries of one delivery; delivery is
  at-least-once (e.g. a crash between the webhook's 2xx and our bookkeeping resends), so
  receivers de-duplicate on it.

The secret is `FHIR_EVIDENCE_ALERT_WEBHOOK_SECRET` (UTF-8). Without a secret, posts are sent
unsigned (the three signature headers are left out) and a warning is logged at start-up.

Deliveries wait in a durable SQLite queue (`stream.alerting.webhook_queue.WebhookQueue`) and the
`WebhookDeliverer` thread sends them: 2xx means delivered; any other status, a timeout or a
connection error means failed, retried with exponential back-off (`backoff_s`) until the
queue's `max_attempts`, after which the delivery is `dead`: kept, counted and re-armable,
never dropped. With no webhook URL (None) there is no webhook: `start()` does nothing and
`enqueue()` stores nothing.

Logs name the delivery id, the attempt, the HTTP status or error code: never the body (it
may hold principal identifiers), never the URL path (webhook URLs often embed a token).
"""

import hashlib
import hmac
import random
import re
import threading
import time
from collections.abc import Callable

import httpx
import structlog

from stream.alerting.webhook_queue import (
    DEFAULT_MAX_ATTEMPTS,
    Delivery,
    DeliveryRecord,
    WebhookQueue,
    WebhookQueueError,
)
from stream.metrics import ALERT_DELIVERIES

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_TIMESTAMP_HEADER",
    "SIGNATURE_V2_HEADER",
    "Delivery",
    "DeliveryRecord",
    "WebhookDeliverer",
    "WebhookQueue",
    "WebhookQueueError",
    "backoff_s",
    "sign",
    "sign_v2",
    "signature_headers",
    "verify_body_signature",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Signature"
SIGNATURE_TIMESTAMP_HEADER = "X-Signature-Timestamp"
SIGNATURE_V2_HEADER = "X-Signature-V2"
DELIVERY_HEADER = "X-Alert-Delivery"
USER_AGENT = "fhir-evidence-webhook/1"
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
Secret = bytes | str


def _key(secret: Secret) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def _hmac_hex(secret: Secret, message: bytes) -> str:
    return "sha256=" + hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def sign(secret: Secret, timestamp: str, body: bytes) -> str:
    """The `X-Signature` value: `sha256=<hex HMAC-SHA256(secret, body)>`. Per the contract it
    covers the body only; `timestamp` is accepted for symmetry with `sign_v2` and not used."""
    del timestamp
    return _hmac_hex(secret, body)


def sign_v2(secret: Secret, timestamp: str, body: bytes) -> str:
    """The `X-Signature-V2` value: `sha256=<hex HMAC-SHA256(secret, timestamp "." body)>`."""
    return _hmac_hex(secret, timestamp.encode("ascii") + b"." + body)


def signature_headers(secret: Secret, timestamp: str, body: bytes) -> dict[str, str]:
    """The three signature headers of one post."""
    return {
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        SIGNATURE_TIMESTAMP_HEADER: timestamp,
        SIGNATURE_V2_HEADER: sign_v2(secret, timestamp, body),
    }


def _same(expected: str, header: str) -> bool:
    return hmac.compare_digest(expected.encode("ascii"), header.encode("utf-8", "replace"))


def verify_signature(
    secret: Secret,
    timestamp: str,
    body: bytes,
    header: str,
    now: float,
    tolerance_s: float = 300,
) -> bool:
    """For receivers: True when `header` (the `X-Signature-V2` value) is the HMAC of
    `timestamp "." body` under `secret` and `timestamp` (`X-Signature-Timestamp`) lies within
    `tolerance_s` of `now`. A stale timestamp is refused as a replay. Constant-time compare."""
    if not _TIMESTAMP.fullmatch(timestamp) or abs(now - int(timestamp)) > tolerance_s:
        return False
    return _same(sign_v2(secret, timestamp, body), header)


def verify_body_signature(secret: Secret, body: bytes, header: str) -> bool:
    """For receivers that only read `X-Signature` (body-only HMAC; no replay protection)."""
    return _same(_hmac_hex(secret, body), header)


def backoff_s(attempt: int, base: float = 1.0, cap: float = 300.0, jitter: float = 0.0) -> float:
    """Delay before the retry that follows failed attempt number `attempt` (1-based):
    `min(cap, base * 2**(attempt-1))`, shortened by up to half by `jitter` in [0, 1).
    For a fixed jitter it never decreases with `attempt` and never exceeds `cap`."""
    if base < 0 or cap < 0:
        raise ValueError("base and cap must not be negative")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter must be in [0, 1)")
    exponent = min(max(attempt, 1) - 1, 62)  # 2**62 times any sane base is past any cap
    return min(cap, base * 2.0**exponent) * (1.0 - jitter / 2.0)


class WebhookDeliverer:
    """Sends due deliveries from `queue` to `url` on a background thread.

    `notify()` (or `enqueue()`, which calls it) wakes the thread at once, so a healthy
    webhook receives a new alert within milliseconds; otherwise the thread sleeps until the
    next retry is due (at most `idle_s`). `clock` gives unix seconds and `jitter` a number
    in [0, 1); both are injectable for tests. `deliver_due()` runs one pass synchronously.
    Delivered rows older than `delivered_retention_s` are pruned about once an hour.
    """

    def __init__(
        self,
        queue: WebhookQueue,
        url: str | None,
        secret: Secret | None,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        *,
        base_s: float = 1.0,
        cap_s: float = 300.0,
        timeout_s: float = 5.0,
        batch_size: int = 20,
        idle_s: float = 1.0,
        delivered_retention_s: float = 7 * 86400.0,
    ) -> None:
        self.queue = queue
        self.url = url or None
        self._secret = secret or None
        self._clock = clock
        self._jitter = jitter
        self._base_s = base_s
        self._cap_s = cap_s
        self._batch_size = batch_size
        self._idle_s = idle_s
        self._retention_s = delivered_retention_s
        self._last_prune = 0.0
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pass_lock = threading.Lock()  # one pass at a time (thread vs deliver_due)
        self._thread: threading.Thread | None = None
        # Per instance: a logger bound on first use stays bound (cache_logger_on_first_use).
        self._log = structlog.get_logger("fhir_evidence.webhook")
        self.attempted = 0
        self.delivered = 0

    @property
    def enabled(self) -> bool:
        return self.url is not None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        if not self.enabled:
            self._log.info("alert webhook not configured; deliverer not started")
            return
        if self.running:
            return
        if self._secret is None:
            self._log.warning("alert webhook secret not set; webhook posts are unsigned")
        self._thread = threading.Thread(target=self._run, name="webhook-deliverer", daemon=True)
        self._thread.start()
        try:
            host = httpx.URL(str(self.url)).host  # never the path: it may embed a token
        except Exception:
            host = "?"
        self._log.info("alert webhook deliverer started", host=host)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if not self.running:
            self._client.close()

    def notify(self) -> None:
        """Something was enqueued: wake the thread now."""
        self._wake.set()

    def enqueue(self, delivery_id: str, body: bytes) -> bool:
        """Queue one alert body (JSON bytes) and wake the thread; False when the id was
        already queued or when no webhook is configured (then nothing is stored)."""
        if not self.enabled:
            return False
        stored = self.queue.enqueue(delivery_id, body, self._clock())
        self.notify()
        return stored

    def deliver_due(self) -> int:
        """Attempt every delivery due now (up to one batch); returns how many were tried.
        Does nothing once `stop()` has closed the HTTP client."""
        if not self.enabled or self._client.is_closed:
            return 0
        with self._pass_lock:
            tried = 0
            for delivery in self.queue.due(self._clock(), self._batch_size):
                if self._stop.is_set() and threading.current_thread() is self._thread:
                    break  # shutting down: the rest stays queued
                self._attempt(delivery)
                tried += 1
            return tried

    def headers_for(self, delivery_id: str, body: bytes, timestamp: str) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            DELIVERY_HEADER: delivery_id,
        }
        if self._secret is not None:
            headers.update(signature_headers(self._secret, timestamp, body))
        return headers

    def _post(self, delivery: Delivery) -> tuple[int | None, str | None]:
        """(HTTP status or None, error code or None when delivered)."""
        timestamp = str(int(self._clock()))
        headers = self.headers_for(delivery.delivery_id, delivery.body, timestamp)
        try:
            with self._client.stream(
                "POST", str(self.url), content=delivery.body, headers=headers
            ) as response:
                status = response.status_code  # the response body is never read
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.ConnectError:
            return None, "connect"
        except httpx.HTTPError as exc:
            return None, f"transport.{type(exc).__name__}"
        except Exception as exc:  # e.g. an invalid URL: fail the attempt, never the thread
            return None, f"error.{type(exc).__name__}"
        return status, None if 200 <= status < 300 else f"http_{status}"

    def _attempt(self, delivery: Delivery) -> None:
        status, error = self._post(delivery)
        self.attempted += 1
        attempt = delivery.attempts + 1
        finished = self._clock()
        if error is None:
            self.queue.mark_delivered(delivery.delivery_id, finished)
            self.delivered += 1
            ALERT_DELIVERIES.labels(outcome="delivered").inc()
            self._log.info(
                "alert webhook delivered",
                delivery_id=delivery.delivery_id,
                status=status,
                attempt=attempt,
            )
            return
        delay = backoff_s(attempt, self._base_s, self._cap_s, self._safe_jitter())
        state = self.queue.mark_failed(delivery.delivery_id, finished, finished + delay, error)
        ALERT_DELIVERIES.labels(outcome="dead" if state == "dead" else "failed").inc()
        if state == "dead":
            self._log.error(
                "alert webhook delivery dead after max attempts; kept in the queue",
                delivery_id=delivery.delivery_id,
                error=error,
                attempt=attempt,
            )
        else:
            self._log.warning(
                "alert webhook delivery failed; will retry",
                delivery_id=delivery.delivery_id,
                error=error,
                attempt=attempt,
                retry_in_s=round(delay, 3),
            )

    def _safe_jitter(self) -> float:
        try:
            value = float(self._jitter())
        except Exception:
            return 0.0
        return value if 0.0 <= value < 1.0 else 0.0

    def _idle_wait(self) -> float:
        next_due = self.queue.next_due_at()
        if next_due is None:
            return self._idle_s
        return min(self._idle_s, max(0.005, next_due - self._clock()))

    def _maybe_prune(self) -> None:
        now = self._clock()
        if now - self._last_prune >= 3600.0:
            self._last_prune = now
            self.queue.prune_delivered(now - self._retention_s)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                tried = self.deliver_due()
                self._maybe_prune()
                failures = 0
                if tried >= self._batch_size:
                    continue  # more may be due right now
                wait = self._idle_wait()
            except Exception as exc:  # never let the thread die: alerts would stop moving
                failures += 1
                wait = min(0.1 * 2.0 ** min(failures, 6), 5.0)
                code = exc.code if isinstance(exc, WebhookQueueError) else type(exc).__name__
                self._log.error(
                    "alert webhook deliverer error; retrying", error=code, retry_in_s=wait
                )
            self._wake.wait(wait)

"""A paced load on the API replicas: a few threads, each sending at its share of the rate,
round-robin over the replicas that are up, recording every answered request's id (the
X-Request-ID response header). Requests no replica answered are counted, not recorded."""

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from tests.support import TestIssuer

READERS = tuple(f"load-reader-{n}" for n in range(6))  # spread over the partitions


@dataclass(frozen=True)
class Answer:
    request_id: str
    status: int
    replica: str
    at: float  # time.monotonic() of the answer


@dataclass
class Load:
    """`urls()` is asked before every request: the replicas to spread it over (name, url)."""

    issuer: TestIssuer
    urls: Callable[[], Sequence[tuple[str, str]]]
    rate: float = 30.0  # requests per second, all threads together
    threads: int = 3
    max_requests: int = 20_000  # bounded whatever happens
    answers: list[Answer] = field(default_factory=list)
    unanswered: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> "Load":
        tokens = [self.issuer.token(sub, "system/Patient.rs", ttl=900) for sub in READERS]
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, args=(n, tokens), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(15)

    def _run(self, n: int, tokens: list[str]) -> None:
        interval = self.threads / self.rate
        turn = itertools.count(n)
        next_at = time.monotonic() + n * interval / self.threads
        with httpx.Client(timeout=5) as http:
            while not self._stop.is_set() and len(self.answers) < self.max_requests:
                i = next(turn)
                self._send(http, tokens[i % len(tokens)], i)
                next_at += interval
                self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _send(self, http: httpx.Client, token: str, i: int) -> None:
        replicas = self.urls()
        if not replicas:
            return
        name, url = replicas[i % len(replicas)]
        try:
            response = http.get(f"{url}/fhir/Patient/pat-{i % 200 + 1:05d}",
                                headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        except httpx.HTTPError:
            with self._lock:
                self.unanswered += 1
            return
        answer = Answer(response.headers.get("x-request-id", ""), response.status_code, name,
                        time.monotonic())  # fmt: skip
        with self._lock:
            self.answers.append(answer)

    def answered(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)


def denied_burst(issuer: TestIssuer, url: str, sub: str, count: int = 25) -> list[str]:
    """`count` refused reads by `sub` (a Practitioner-only token reading Patients): enough
    for the `denied_burst` alert (20 denials within a minute). Returns their request ids."""
    token = issuer.token(sub, "system/Practitioner.rs", ttl=900)
    ids = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        for n in range(count):
            response = http.get(f"/fhir/Patient/pat-{n + 1:05d}")
            assert response.status_code == 403, response.text
            ids.append(response.headers["x-request-id"])
    return ids

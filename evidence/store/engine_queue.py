"""Store queries on one worker thread, so verification's Python work on one result overlaps
the engine's work on the next (chDB and the HTTP client release the GIL while a query runs;
the store's lock still lets one query run at a time).

`submit` runs a query as soon as the thread is free; fillers are independent background
queries (e.g. the by-patient index check, in time slices) that the reader slots in, one per
turn, between its own reads; `drain` runs what is left and returns every filler's result.
"""

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
F = TypeVar("F")


class EngineQueue(Generic[F]):
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-engine")
        self._fillers: deque[Callable[[], F]] = deque()
        self._filled: list[Future[F]] = []

    def submit(self, work: Callable[[], T]) -> "Future[T]":
        return self._pool.submit(work)

    def add_fillers(self, jobs: list[Callable[[], F]]) -> None:
        self._fillers.extend(jobs)

    def fill_one(self) -> None:
        if self._fillers:
            self._filled.append(self._pool.submit(self._fillers.popleft()))

    def drain(self) -> list[F]:
        while self._fillers:
            self.fill_one()
        return [future.result() for future in self._filled]

    def close(self) -> None:
        self._fillers.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

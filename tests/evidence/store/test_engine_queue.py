"""EngineQueue: submitted work runs in order on one thread; fillers run one per turn, the
rest on drain, and every filler's result comes back in order."""

import threading

from evidence.store.engine_queue import EngineQueue


def test_order_and_results() -> None:
    ran: list[str] = []
    threads: set[int] = set()

    def job(name: str) -> str:
        ran.append(name)
        threads.add(threading.get_ident())
        return name

    engine: EngineQueue[str] = EngineQueue()
    try:
        engine.add_fillers([lambda: job("f1"), lambda: job("f2"), lambda: job("f3")])
        first = engine.submit(lambda: job("read-1"))
        engine.fill_one()
        second = engine.submit(lambda: job("read-2"))
        assert (first.result(), second.result()) == ("read-1", "read-2")
        assert engine.drain() == ["f1", "f2", "f3"]
        assert ran == ["read-1", "f1", "read-2", "f2", "f3"]
        assert len(threads) == 1 and threading.get_ident() not in threads
        assert engine.drain() == ["f1", "f2", "f3"]  # drained once; results kept
    finally:
        engine.close()

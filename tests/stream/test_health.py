"""Readiness as named checks (stream.health): the failing names in the documented order,
the /readyz answer, several checks under one name, a check that raises counts as failing,
unknown names refused, and probes answering from their last refresh."""

import pytest

from stream.health import CHECK_NAMES, Health, Probe, failing, readiness


def test_failing_names_come_in_the_documented_order() -> None:
    results = {name: False for name in reversed(CHECK_NAMES)} | {"outbox": True}
    assert failing(results) == [n for n in CHECK_NAMES if n != "outbox"]
    assert failing({name: True for name in CHECK_NAMES}) == []


def test_readiness_names_what_fails_and_nothing_else() -> None:
    assert readiness([]) == (200, {"status": "ok"})
    assert readiness(["workers", "evidence_store"]) == (
        503, {"status": "unavailable", "failing": ["workers", "evidence_store"]},
    )  # fmt: skip


def test_every_check_under_a_name_must_hold_and_one_that_raises_fails() -> None:
    health, store_up = Health(), [True]
    health.add("outbox", lambda: True)
    health.add("evidence_store", lambda: store_up[0])
    health.add("evidence_store", lambda: True)
    assert health.failing() == [] and health.names == ["outbox", "evidence_store"]
    store_up[0] = False
    assert health.failing() == ["evidence_store"]

    def broken() -> bool:
        raise RuntimeError("no answer")

    health.add("workers", broken)
    assert health.failing() == ["workers", "evidence_store"]


def test_an_unknown_check_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown check"):
        Health().add("disk", lambda: True)


def test_a_probe_answers_from_its_last_refresh() -> None:
    answers: list[object] = [None, False]
    calls = []

    def work() -> object:
        calls.append(1)
        answer = answers.pop(0) if answers else None
        if answer == "raise":
            raise OSError("gone")
        return answer

    probe = Probe("workers", work)
    health = Health()
    health.add("workers", probe)
    assert probe() and health.failing() == [] and calls == []  # before any refresh: ok
    health.refresh_probes()
    assert probe() and len(calls) == 1  # None: nothing said against it
    health.refresh_probes()
    assert not probe() and health.failing() == ["workers"]  # False
    answers.append("raise")
    health.refresh_probes()
    assert health.failing() == ["workers"]  # raised
    health.refresh_probes()
    assert health.failing() == [] and len(calls) == 4  # and back

"""The pure evidence judgement of the fault tests."""

from tests.deployment.evidence import judge


def test_every_answered_request_once_is_exact() -> None:
    verdict = judge(["r1", "r2"], {"w1": [("r1", "e1", 1)], "w2": [("r2", "e2", 1)]})
    assert verdict.exact and verdict.redelivered == 0


def test_missing_and_duplicated_requests_are_named() -> None:
    stores = {"w1": [("r1", "e1", 2), ("r2", "e2", 1), ("r2", "e3", 1)]}
    verdict = judge(["r1", "r2", "r3"], stores)
    assert verdict.missing == ["r3"]
    assert verdict.duplicated == ["r1", "r2"]  # shown twice; two events for one request


def test_one_event_in_two_workers_stores_is_a_redelivery() -> None:
    verdict = judge(["r1"], {"w1": [("r1", "e1", 1)], "w2": [("r1", "e1", 1)]})
    assert verdict.exact and verdict.redelivered == 1


def test_evidence_of_requests_not_answered_to_the_load_is_ignored() -> None:
    assert judge(["r1"], {"w1": [("r1", "e1", 1), ("probe", "e9", 2)]}).exact

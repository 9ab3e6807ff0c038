"""bench.misuse's scoring: what counts as caught, missed, false or merely also raised (the
replay itself is tested end to end in tests/api/boot/test_replay.py)."""

from bench.history import AFTER_HOURS, DORMANT, PROBING, UNEXPLAINED, generate
from bench.misuse import report, score


def _alert(kind: str, principal: str, at_us: int) -> dict[str, object]:
    return {"kind": kind, "principal": principal, "window_start_us": at_us}


def test_alerts_are_scored_per_kind_against_the_labels() -> None:
    history = generate(days=9, clinicians=2, clerks=1, apps=1)
    start = history.misuse_from_us
    alerts = [
        _alert(AFTER_HOURS, "dr-000", start["dr-000", AFTER_HOURS] + 5_000_000),
        _alert(AFTER_HOURS, "dr-001", 0),  # a normal principal
        _alert(DORMANT, "dr-900", start["dr-900", DORMANT]),
        _alert("bulk_access_spike", "clerk-00", 0),
        _alert(UNEXPLAINED, "clerk-00", start["clerk-00", UNEXPLAINED]),
    ]

    scores = score(history, alerts)

    assert (scores[AFTER_HOURS].tp, scores[AFTER_HOURS].fp) == (1, 1)
    assert scores[AFTER_HOURS].latencies_s == [5.0] and scores[AFTER_HOURS].precision == 0.5
    assert (scores[DORMANT].labelled, scores[DORMANT].fn) == (2, 1)  # the old feed missed
    assert scores["bulk_access_spike"].also == 1 and scores["bulk_access_spike"].fp == 0
    assert scores[UNEXPLAINED].fn == 1 and scores[PROBING].recall == 0.0
    assert report(scores)[-1].endswith("NOT met")

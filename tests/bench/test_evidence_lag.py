"""bench.evidence_lag's verdict and bench.paced_load's account of the client (the runs
themselves start servers and take a minute: they are benchmarks, not tests)."""

from bench.evidence_lag import lag_report
from bench.paced_load import Paced, pacing_report


def _paced(answered: int = 1000, elapsed_s: float = 1.0, latency_s: float = 0.002) -> Paced:
    return Paced(rate=1000.0, scheduled=1000, answered=answered, non_2xx=0, unanswered=0,
                 elapsed_s=elapsed_s, slips_s=[0.001] * answered,
                 latencies_s=[latency_s] * answered, client_cpu_s=0.2)  # fmt: skip


def test_the_goal_is_met_with_every_event_stored_within_a_second() -> None:
    lines = lag_report([0.1] * 980 + [0.9] * 20, _paced(), maximum=1250.0)

    assert "0.80 of the maximum 1,250" in lines[1] and "p99 900 ms" in lines[1]
    assert lines[-1].endswith(": met")


def test_a_missing_event_fails_the_goal_however_quick_the_rest() -> None:
    lines = lag_report([0.1] * 999, _paced(), maximum=1250.0)

    assert lines[0].endswith("1 MISSING")
    assert lines[-1].endswith("NOT met (1 events missing)")


def test_a_slow_p99_and_an_undelivered_rate_are_named() -> None:
    paced = _paced(elapsed_s=1.5)  # 667 req/s of 1,000 scheduled

    lines = lag_report([0.1] * 900 + [2.0] * 100, paced, maximum=1250.0)

    assert lines[-1].endswith("NOT met (p99 2.00 s, the rate was not delivered)")


def test_the_client_account_tells_a_slow_server_from_a_slow_client() -> None:
    kept = pacing_report(_paced(), clients=16)
    slow_server = pacing_report(_paced(elapsed_s=1.5, latency_s=0.05), clients=16)
    slow_client = pacing_report(_paced(elapsed_s=1.5), clients=16)

    assert kept[-1].endswith("kept the rate and the schedule")
    assert "server's p99 answer (50.0 ms)" in slow_server[-1]
    assert "could not keep up (CPU)" in slow_client[-1]

"""The token bucket: bursts up to `burst`, then `rate` per second, never negative."""

from hypothesis import given
from hypothesis import strategies as st

from api.security.ratelimit import Bucket, retry_after_s, take


def test_burst_then_refill() -> None:
    bucket = None
    allowed = []
    for _ in range(12):
        ok, bucket = take(bucket, 100.0, rate=5, burst=10)
        allowed.append(ok)
    assert allowed == [True] * 10 + [False] * 2
    assert bucket is not None and retry_after_s(bucket, 5) == 1
    ok, bucket = take(bucket, 100.2, rate=5, burst=10)  # 0.2 s later: one token back
    assert ok
    ok, _ = take(bucket, 100.2, rate=5, burst=10)
    assert not ok


def test_zero_rate_means_unlimited() -> None:
    assert all(take(None, 0.0, rate=0, burst=1)[0] for _ in range(1000))


@given(st.lists(st.floats(min_value=0, max_value=10), min_size=1, max_size=200))
def test_never_more_than_burst_plus_refill(gaps: list[float]) -> None:
    now, bucket, granted = 0.0, None, 0
    for gap in gaps:
        now += gap
        ok, bucket = take(bucket, now, rate=2, burst=3)
        granted += ok
        assert isinstance(bucket, Bucket) and 0 <= bucket.tokens <= 3
    assert granted <= 3 + 2 * now + 1e-9

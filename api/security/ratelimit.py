"""Per-principal rate limiting as a pure token bucket (time passed in)."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    updated: float


def take(bucket: Bucket | None, now: float, rate: float, burst: float) -> tuple[bool, Bucket]:
    """Spend one token if there is one; the bucket refills at `rate` per second up to
    `burst`. A rate of 0 or less means no limit."""
    if rate <= 0:
        return True, Bucket(burst, now)
    if bucket is None:
        bucket = Bucket(burst, now)
    tokens = min(burst, bucket.tokens + max(0.0, now - bucket.updated) * rate)
    if tokens < 1.0:
        return False, Bucket(tokens, now)
    return True, Bucket(tokens - 1.0, now)


def retry_after_s(bucket: Bucket, rate: float) -> int:
    """Whole seconds until one token is back (at least 1)."""
    if rate <= 0:
        return 0
    return max(1, int((1.0 - bucket.tokens) / rate + 0.999))

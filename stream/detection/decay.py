"""Exponentially decaying tallies (pure): a count of events, and a breadth of distinct keys,
each weighted exp(-age / tau) at the tally's reference time.

Both are kept *as of* `at_us`, the latest time seen: an event at t <= at_us adds
exp(-(at_us - t) / tau); a later one first decays the tally to its time. Either way the value
is the sum over events of exp(-(now - t) / tau), whatever order the events came in (up to
float rounding). With tau one hour, a steady r events an hour tally about r.
"""

import math
from dataclasses import dataclass, field

_SECOND_US = 1_000_000


def weight(age_us: int, tau_s: float) -> float:
    """exp(-age / tau); an age below zero counts as zero (never above 1)."""
    return math.exp(-max(age_us, 0) / (tau_s * _SECOND_US))


@dataclass(slots=True)
class Decayed:
    """Decayed event count and breadth (distinct keys, each at its latest time)."""

    at_us: int = 0
    count: float = 0.0
    breadth: float = 0.0
    last: dict[str, int] = field(default_factory=dict)  # key -> latest time


def advance_to(tally: Decayed, now_us: int, tau_s: float) -> None:
    """Decay the tally to `now_us` (no-op for an earlier time)."""
    if now_us > tally.at_us:
        factor = weight(now_us - tally.at_us, tau_s)
        tally.count *= factor
        tally.breadth *= factor
        tally.at_us = now_us


def add(tally: Decayed, ts_us: int, keys: tuple[str, ...], tau_s: float, cap: int) -> None:
    """One event at `ts_us` touching `keys` (in place). Past `cap` keys, a new key replaces
    the stalest one (its weight leaves the breadth)."""
    advance_to(tally, ts_us, tau_s)
    tally.count += weight(tally.at_us - ts_us, tau_s)
    last = tally.last
    for key in dict.fromkeys(keys):
        old = last.get(key)
        if old is not None and old >= ts_us:
            continue
        new_weight = weight(tally.at_us - ts_us, tau_s)
        old_weight = 0.0 if old is None else weight(tally.at_us - old, tau_s)
        tally.breadth += new_weight - old_weight
        last[key] = ts_us
        if len(last) > cap:
            stalest = min(last, key=last.__getitem__)
            tally.breadth -= weight(tally.at_us - last.pop(stalest), tau_s)
    tally.breadth = max(tally.breadth, 0.0)


def value_at(tally: Decayed, now_us: int, tau_s: float) -> tuple[float, float]:
    """(count, breadth) as of `now_us` without changing the tally."""
    factor = weight(now_us - tally.at_us, tau_s)
    return tally.count * factor, tally.breadth * factor


def forget_before(tally: Decayed, cutoff_us: int, tau_s: float) -> Decayed:
    """A new tally without the keys last seen at or before `cutoff_us` (negligible weight)."""
    kept = {k: t for k, t in tally.last.items() if t > cutoff_us}
    breadth = sum(weight(tally.at_us - t, tau_s) for t in kept.values())
    return Decayed(tally.at_us, tally.count, breadth, kept)


def copy_decayed(tally: Decayed) -> Decayed:
    return Decayed(tally.at_us, tally.count, tally.breadth, dict(tally.last))

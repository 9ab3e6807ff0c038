"""Recency maps: key -> (time, request id), oldest first, as `OrderedDict`s changed in place.

The windows of `bulk` are such maps: a key seen again moves to the end, stale keys leave
from the front, so sliding and capping cost O(1) amortised per admission.
"""

from collections import OrderedDict

Entry = tuple[int, str]  # (last time, request id)
Recency = OrderedDict[str, Entry]


def first_time(window: Recency) -> int:
    return next(iter(window.values()))[0]


def drop_until(window: Recency, cutoff_us: int) -> None:
    """Drop the entries at or before `cutoff_us` (they are the first ones)."""
    while window and first_time(window) <= cutoff_us:
        window.popitem(last=False)


def later_than(window: Recency, cutoff_us: int) -> Recency:
    """A new map of the entries later than `cutoff_us` (the last ones)."""
    kept = []
    for item in reversed(window.items()):
        if item[1][0] <= cutoff_us:
            break
        kept.append(item)
    return OrderedDict(reversed(kept))


def count_since(window: Recency, start_us: int) -> int:
    """How many entries are at or after `start_us`."""
    count = 0
    for ts, _ in reversed(window.values()):
        if ts < start_us:
            break
        count += 1
    return count

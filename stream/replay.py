"""History replay, the pure part: lines of an NDJSON file become access events, checked
one by one, and a controlled clock paces them.

The file's shape is the outbox's raw event (`evidence.core.event_to_dict`: one JSON object
per line, raw identifiers, `ts_us` in microseconds since the epoch). Fields with a default
in `AccessEvent` may be left out; `event_id`, `request_id`, `trace_id`, `ts_us`, `method`,
`route`, `action`, `resource_type`, `decision` and `status` may not. Blank lines are
skipped. A file with any bad line is refused whole, each bad line named by its number
(`check_lines`), so nothing of it is fed half-way and nothing is lost silently.

Pacing: at `speed` N the event `ts` is due `(ts - first) / N` seconds after the replay
began (N = 0: as fast as the pipeline goes). `shift_us` moves the whole file so that its
first event falls at a chosen instant (`--clock-start`). The replay clock (`ReplayClock`)
is what the detector reads as "now": the time of the newest event fed, never going back.
"""

import types
from collections.abc import Iterable, Iterator
from dataclasses import MISSING, dataclass, fields, replace
from typing import Any

import orjson

from evidence.core import AccessEvent, Decision
from evidence.core.event import EVENT_SCHEMA_VERSION

MAX_REPORTED = 20  # bad lines named in a refusal; the rest are counted
_FIELDS = {f.name: f for f in fields(AccessEvent)}
REQUIRED = frozenset(
    name for name, f in _FIELDS.items() if f.default is MISSING and f.default_factory is MISSING
)
_DECISIONS = frozenset(str(d) for d in Decision)


@dataclass(frozen=True, slots=True)
class BadLine:
    number: int  # 1-based line number in the file
    reason: str

    def __str__(self) -> str:
        return f"line {self.number}: {self.reason}"


class LineRefused(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def event_from_line(text: str | bytes) -> AccessEvent:
    """One line as an access event; LineRefused says what is wrong with it."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise LineRefused("not JSON") from None
    if not isinstance(data, dict):
        raise LineRefused("not a JSON object")
    unknown = sorted(set(data) - _FIELDS.keys())
    if unknown:
        raise LineRefused(f"unknown fields {unknown}")
    missing = sorted(REQUIRED - data.keys())
    if missing:
        raise LineRefused(f"missing fields {missing}")
    values = {name: _checked(name, value) for name, value in data.items()}
    return AccessEvent(**values)


def _checked(name: str, value: Any) -> Any:
    kind = _FIELDS[name].type
    if name == "decision":
        if not isinstance(value, str) or value not in _DECISIONS:
            raise LineRefused(f"decision must be one of {sorted(_DECISIONS)}")
        return Decision(value)
    if isinstance(kind, types.GenericAlias):  # tuple[str, ...]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise LineRefused(f"{name} must be a list of strings")
        return tuple(value)
    if kind is int:
        if type(value) is not int or not 0 <= value < 2**63:
            raise LineRefused(f"{name} must be a non-negative 64-bit integer")
        if name == "schema_version" and not 1 <= value <= EVENT_SCHEMA_VERSION:
            raise LineRefused(f"schema_version must be 1..{EVENT_SCHEMA_VERSION}")
        return value
    if not isinstance(value, str):
        raise LineRefused(f"{name} must be a string")
    if name == "event_id" and not value:
        raise LineRefused("event_id is empty")
    return value


def numbered_events(lines: Iterable[str | bytes]) -> Iterator[tuple[int, AccessEvent]]:
    """(line number, event) for every non-blank line; raises LineRefused with the number."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield number, event_from_line(text)
        except LineRefused as exc:
            raise LineRefused(str(BadLine(number, exc.reason))) from None


def check_lines(lines: Iterable[str | bytes]) -> tuple[int, list[BadLine], int]:
    """(events, the first MAX_REPORTED bad lines, how many bad lines in all). An event id
    seen on an earlier line is a bad line too (the outbox records each event once)."""
    seen: set[str] = set()
    bad: list[BadLine] = []
    good = bad_count = 0
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            event = event_from_line(text)
            if event.event_id in seen:
                raise LineRefused(f"event_id {event.event_id!r} repeats an earlier line")
            seen.add(event.event_id)
            good += 1
        except LineRefused as exc:
            bad_count += 1
            if len(bad) < MAX_REPORTED:
                bad.append(BadLine(number, exc.reason))
    return good, bad, bad_count


def shift_us(first_ts_us: int, clock_start_us: int | None) -> int:
    """What to add to every event's time so that the first falls at `clock_start_us`."""
    return 0 if clock_start_us is None else clock_start_us - first_ts_us


def shifted(event: AccessEvent, by_us: int) -> AccessEvent:
    return replace(event, ts_us=event.ts_us + by_us) if by_us else event


def due_after_s(ts_us: int, first_ts_us: int, speed: float) -> float:
    """Seconds after the replay began at which the event is fed (0 when speed is 0)."""
    if speed <= 0:
        return 0.0
    return max(0, ts_us - first_ts_us) / 1_000_000 / speed


class ReplayClock:
    """'Now' for the replayed pipeline: the newest event time fed, in seconds."""

    def __init__(self, start_us: int) -> None:
        self._now_us = start_us

    def advance_to(self, ts_us: int) -> None:
        self._now_us = max(self._now_us, ts_us)

    def now_us(self) -> int:
        return self._now_us

    def __call__(self) -> float:
        return self._now_us / 1_000_000

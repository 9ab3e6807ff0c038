"""Reconstruction queries (evidence.store.access_query) on every backend the fixture yields:
each filter against the same predicate evaluated in Python over the rows inserted."""

import time
from collections.abc import Callable
from typing import Any

import pytest

from evidence.core import AccessEvent, Decision
from evidence.store import EvidenceStore
from evidence.store.access_query import (
    AccessFilter,
    access_event,
    alerts_for_request,
    count_accesses,
    find_accesses,
    outcome_code,
    store_now_ms,
)
from tests.evidence.builders import PSEUDONYMIZER, make_event, sealed_rows

NOW_US = int(time.time() * 1_000_000)
BASE_US = NOW_US - 3_600_000_000
SUBS = ("dr-a", "dr-b", "app-c")
ACTIONS = ("read", "search", "create", "export.download", "audit.patient_accesses")
TYPES = ("Observation", "Patient", "Condition,Observation", "AuditEvent")
STATUSES = (200, 200, 403, 404, 503, 201, 401)
PATIENTS = ("pa", "pb", "pc")


def _event(n: int) -> AccessEvent:
    status = STATUSES[n % len(STATUSES)]
    return make_event(
        n,
        ts_us=BASE_US + (n // 2) * 1_000_000,  # pairs share a timestamp
        sub=SUBS[n % 3],
        client_id=("ehr", "portal")[n % 2],
        action=ACTIONS[n % len(ACTIONS)],
        resource_type=TYPES[n % len(TYPES)],
        status=status,
        decision=Decision.DENY
        if status >= 400
        else (Decision.PARTIAL if n % 5 == 0 else Decision.ALLOW),
        patient_ids=tuple(PATIENTS[: n % 4]),
        resource_ids=(f"Observation/o{n % 6}", f"Patient/{PATIENTS[n % 3]}"),
        count_returned=n % 3,
    )


EVENTS = [_event(n) for n in range(1, 61)]
ROWS = sealed_rows(EVENTS, producer_id="api-query")
BY_ID = {e.event_id: e for e in EVENTS}
ALL = 1000


@pytest.fixture
def store(evidence_store: EvidenceStore) -> EvidenceStore:
    evidence_store.insert_rows(ROWS, dedup_token="api-query:1-60")
    return evidence_store


def _expect(keep: Callable[[AccessEvent], bool]) -> list[str]:
    """Event ids newest first, as the store orders them."""
    chosen = [e for e in EVENTS if keep(e)]
    return [e.event_id for e in sorted(chosen, key=lambda e: (e.ts_us, e.event_id), reverse=True)]


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["event_id"] for r in rows]


def _ph(raw: str) -> str:
    return PSEUDONYMIZER.patient(raw)


CASES: list[tuple[str, AccessFilter, Callable[[AccessEvent], bool]]] = [
    ("everything", AccessFilter(), lambda e: True),
    ("patient", AccessFilter(patient_hash=_ph("pb")), lambda e: "pb" in e.patient_ids),
    ("principal", AccessFilter(sub="dr-b"), lambda e: e.sub == "dr-b"),
    ("decision", AccessFilter(decisions=("deny", "partial")), lambda e: e.decision != "allow"),
    ("action", AccessFilter(actions=("read",)), lambda e: e.action == "read"),
    (
        "action prefix",
        AccessFilter(actions=("read",), action_prefix="audit."),
        lambda e: e.action == "read" or e.action.startswith("audit."),
    ),
    (
        "type in an export list",
        AccessFilter(resource_type="Observation"),
        lambda e: "Observation" in e.resource_type.split(","),
    ),
    (
        "excluded type",
        AccessFilter(exclude_resource_type="AuditEvent"),
        lambda e: e.resource_type != "AuditEvent",
    ),
    ("client", AccessFilter(client_id="portal"), lambda e: e.client_id == "portal"),
    (
        "resource entity",
        AccessFilter(entity=PSEUDONYMIZER.reference("Observation/o2")),
        lambda e: "Observation/o2" in e.resource_ids,
    ),
    (
        "patient entity: the resource or the patient",
        AccessFilter(entity=PSEUDONYMIZER.reference("Patient/pc")),
        lambda e: "Patient/pc" in e.resource_ids or "pc" in e.patient_ids,
    ),
    ("returned", AccessFilter(min_returned=2), lambda e: e.count_returned >= 2),
    ("status", AccessFilter(status_below=400), lambda e: e.status < 400),
    (
        "window",
        AccessFilter(since_us=BASE_US + 10_000_000, until_us=BASE_US + 20_000_000),
        lambda e: BASE_US + 10_000_000 <= e.ts_us < BASE_US + 20_000_000,
    ),
    (
        "patient and filters",
        AccessFilter(patient_hash=_ph("pa"), decisions=("allow",), client_id="ehr"),
        lambda e: "pa" in e.patient_ids and e.decision == "allow" and e.client_id == "ehr",
    ),
    (
        "principal and patient",
        AccessFilter(patient_hash=_ph("pa"), sub="dr-a"),
        lambda e: "pa" in e.patient_ids and e.sub == "dr-a",
    ),
]


@pytest.mark.parametrize(("name", "f", "keep"), CASES, ids=[c[0] for c in CASES])
def test_each_filter_selects_exactly_its_rows(
    store: EvidenceStore, name: str, f: AccessFilter, keep: Callable[[AccessEvent], bool]
) -> None:
    expected = _expect(keep)
    assert expected, f"case {name} selects nothing: the data set does not exercise it"
    assert _ids(find_accesses(store, f, ALL)) == expected
    assert count_accesses(store, f) == len(expected)


@pytest.mark.parametrize("code", [0, 4, 8])
def test_outcome_filter_agrees_with_the_renderers_rule(store: EvidenceStore, code: int) -> None:
    expected = _expect(lambda e: outcome_code(str(e.decision), e.status) == code)
    assert expected
    assert _ids(find_accesses(store, AccessFilter(outcomes=(code,)), ALL)) == expected


@pytest.mark.parametrize(
    "f", [AccessFilter(), AccessFilter(patient_hash=_ph("pa")), AccessFilter(sub="dr-a")]
)
def test_pages_cover_the_list_once(store: EvidenceStore, f: AccessFilter) -> None:
    full = _ids(find_accesses(store, f, ALL))
    seen: list[str] = []
    after = None
    while True:
        page = find_accesses(store, f, 3, after)
        seen += _ids(page)
        if len(page) < 3:
            break
        after = (int(page[-1]["ts_us"]), page[-1]["event_id"])
    assert seen == full
    first, second = find_accesses(store, f, 2)
    again = find_accesses(store, f, 2, (int(first["ts_us"]), first["event_id"]), inclusive=True)
    assert _ids(again) == [first["event_id"], second["event_id"]]


def test_snapshot_cut_on_the_stores_clock(evidence_store: EvidenceStore) -> None:
    before = store_now_ms(evidence_store)
    assert abs(before - time.time() * 1000) < 60_000
    time.sleep(0.01)
    evidence_store.insert_rows(ROWS, dedup_token="api-query:cut")
    assert count_accesses(evidence_store, AccessFilter(stored_until_ms=before)) == 0
    after = store_now_ms(evidence_store)
    assert count_accesses(evidence_store, AccessFilter(stored_until_ms=after)) == len(ROWS)


def test_one_event_by_id(store: EvidenceStore) -> None:
    row = access_event(store, "evt-000007")
    assert row is not None and row["request_id"] == "req-000007"
    assert access_event(store, "evt-missing") is None


def test_alerts_of_a_request(store: EvidenceStore) -> None:
    def alert(alert_id: str, request_ids: list[str]) -> dict[str, Any]:
        return {
            "alert_id": alert_id, "kind": "denied_burst", "severity": "medium",
            "principal": "dr-a", "first_seen_us": NOW_US, "last_seen_us": NOW_US,
            "window_start_us": NOW_US, "window_s": 60, "counts": "{}", "rule_version": "1",
            "request_ids": request_ids, "summary": "",
        }  # fmt: skip

    store.upsert_alerts([alert("a1", ["req-000001", "req-000002"]), alert("a2", ["req-000002"])])
    assert [a["alert_id"] for a in alerts_for_request(store, "req-000002")] == ["a1", "a2"]
    assert [a["alert_id"] for a in alerts_for_request(store, "req-000001")] == ["a1"]
    assert alerts_for_request(store, "req-000003") == []

"""AccessEvent ⇄ dict: lossless round trips, unknown fields refused."""

import json
from dataclasses import fields

import pytest
from hypothesis import given

from evidence.core import (
    EVENT_SCHEMA_VERSION,
    AccessEvent,
    Decision,
    event_from_dict,
    event_to_dict,
)
from tests.evidence.builders import access_events, make_event


@given(access_events())
def test_round_trip_through_dict(event: AccessEvent) -> None:
    assert event_from_dict(event_to_dict(event)) == event


@given(access_events())
def test_round_trip_through_json_text(event: AccessEvent) -> None:
    """The outbox stores the dict as JSON: the event survives the text form too."""
    text = json.dumps(event_to_dict(event))
    assert event_from_dict(json.loads(text)) == event


@given(access_events())
def test_dict_holds_only_json_types(event: AccessEvent) -> None:
    data = event_to_dict(event)
    assert set(data) == {f.name for f in fields(AccessEvent)}
    assert type(data["decision"]) is str
    for value in data.values():
        assert isinstance(value, str | int | list), value
        assert not isinstance(value, tuple)


def test_tuple_fields_become_lists_and_back() -> None:
    event = make_event(1, reasons=("a", "b"), patient_ids=("p1", "p2"))
    data = event_to_dict(event)
    assert data["reasons"] == ["a", "b"]
    assert data["patient_ids"] == ["p1", "p2"]
    rebuilt = event_from_dict(data)
    assert rebuilt.reasons == ("a", "b")
    assert isinstance(rebuilt.patient_ids, tuple)
    assert rebuilt.decision is Decision.ALLOW


def test_unknown_field_is_refused() -> None:
    data = event_to_dict(make_event(1))
    data["raw_path"] = "/fhir/Patient/123"
    with pytest.raises(ValueError, match="raw_path"):
        event_from_dict(data)


def test_unknown_decision_is_refused() -> None:
    data = event_to_dict(make_event(1))
    data["decision"] = "maybe"
    with pytest.raises(ValueError):
        event_from_dict(data)


def test_missing_required_field_is_refused() -> None:
    data = event_to_dict(make_event(1))
    del data["status"]
    with pytest.raises(TypeError):
        event_from_dict(data)


def test_defaults_fill_optional_fields() -> None:
    data = {
        "event_id": "e",
        "request_id": "r",
        "trace_id": "t",
        "ts_us": 1,
        "method": "GET",
        "route": "/fhir/metadata",
        "action": "metadata",
        "resource_type": "",
        "decision": "allow",
        "status": 200,
    }
    event = event_from_dict(data)
    assert event.schema_version == EVENT_SCHEMA_VERSION
    assert event.patient_ids == ()
    assert event.sub == ""


def test_events_are_immutable() -> None:
    event = make_event(1)
    with pytest.raises(AttributeError):
        event.status = 500  # type: ignore[misc]

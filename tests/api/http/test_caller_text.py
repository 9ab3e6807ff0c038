"""Nothing a caller types reaches the evidence unbounded (api.http.caller_text): the pure
rules over any input, and random names, values, types and ids of any length sent through
every kind of route, with and without a token: every string of every event is at most 256
characters, parameter names are the route's vocabulary or a keyed hash, and no caller text
outside the allow-lists is found anywhere in what the evidence store receives."""

import re
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.boot.app import parameter_vocabulary
from api.data.indexing import SEARCH_PARAMS
from api.http.caller_text import (
    MAX_FIELD,
    MAX_NAMES,
    MAX_UNKNOWN_NAMES,
    bounded,
    hashed,
    recorded_kid,
    recorded_names,
    recorded_word,
)
from evidence.core import AccessEvent, event_to_dict
from evidence.core.record import evidence_payload
from tests.api.http.conftest import Walk

KEY = b"k" * 32
HASHED = re.compile(r"unknown:[0-9a-f]{8}")
MORE = re.compile(r"unknown\.more:\d{1,10}")
MARK = "zq"  # no hash or vocabulary word contains it: found in the evidence = leaked
any_text = st.text(max_size=3000)
marked = st.builds(lambda t: MARK + t, st.text(max_size=2000))
VOCABULARY = parameter_vocabulary()


@given(st.lists(any_text, max_size=60), st.sets(st.text(max_size=20), max_size=10))
def test_recorded_names_are_known_or_hashed_and_bounded(names: list[str], known: set[str]) -> None:
    recorded = recorded_names(names, known, KEY)
    unknown = [n for n in recorded if HASHED.fullmatch(n)]
    assert len(recorded) <= MAX_NAMES + MAX_UNKNOWN_NAMES + 1
    assert len(unknown) <= MAX_UNKNOWN_NAMES
    for name in recorded:
        assert name in known or HASHED.fullmatch(name) or MORE.fullmatch(name)
    assert {n for n in names if n in known} <= set(recorded)
    distinct_unknown = {n for n in names if n not in known}
    more = [n for n in recorded if MORE.fullmatch(n)]
    assert bool(more) == (len({hashed(KEY, n) for n in distinct_unknown}) > MAX_UNKNOWN_NAMES)


@given(any_text, st.sets(st.text(max_size=20), max_size=5))
def test_a_word_is_known_empty_or_hashed(text: str, known: set[str]) -> None:
    word = recorded_word(text, known, KEY)
    assert word == text if (not text or text in known) else HASHED.fullmatch(word)
    kid = recorded_kid(text, KEY)
    assert kid == "" if not text else HASHED.fullmatch(kid)


@given(any_text, any_text)
def test_bounded_keeps_short_text_and_tells_long_texts_apart(a: str, b: str) -> None:
    assert len(bounded(a)) <= MAX_FIELD
    assert bounded(a) == a if len(a) <= MAX_FIELD else bounded(a).startswith(a[:200])
    if a != b and len(a) > MAX_FIELD and len(b) > MAX_FIELD:
        assert bounded(a) != bounded(b)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


def _check(walk: Walk, event: AccessEvent) -> None:
    raw = event_to_dict(event)  # what the outbox keeps (raw ids, for enrichment)
    for value in raw.values():
        assert all(len(s) <= MAX_FIELD for s in _strings(value)), raw
    payload = evidence_payload(event, walk.runtime.services.auditing.pseudonymizer)
    for name, value in payload.items():  # what reaches the evidence store
        for text in _strings(value):
            assert len(text) <= MAX_FIELD and MARK not in text, (name, text[:80])
    for name in event.query_params:
        assert name in VOCABULARY or HASHED.fullmatch(name) or MORE.fullmatch(name), name
    assert event.resource_type in {"", "AuditEvent", *SEARCH_PARAMS} or HASHED.fullmatch(
        event.resource_type
    )


names_values = st.lists(st.tuples(marked, marked), min_size=1, max_size=12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rtype=st.one_of(marked, st.sampled_from(["Patient", "Observation", "AuditEvent"])),
    rid=marked,
    params=names_values,
    with_token=st.booleans(),
)
def test_random_requests_through_every_kind_of_route_leave_bounded_evidence(
    walk: Walk, rtype: str, rid: str, params: list[tuple[str, str]], with_token: bool
) -> None:
    system = walk.token("sys", "system/*.rs system/AuditEvent.rs") if with_token else {}
    exporter = walk.token("exp", "system/*.rs export") if with_token else {}
    t, i = quote(rtype, safe=""), quote(rid, safe="")
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/fhir/{t}", {"params": params}),
        ("POST", f"/fhir/{t}/_search", {"data": dict(params), "params": params[:2]}),
        ("GET", f"/fhir/{t}/{i}", {"params": params}),
        ("GET", f"/fhir/{t}/{i}/_history/{i}", {}),
        ("PUT", f"/fhir/{t}/{i}", {"json": {"resourceType": rtype, "id": rid}}),
        ("DELETE", f"/fhir/{t}/{i}", {}),
        ("GET", "/fhir/AuditEvent", {"params": params}),
        ("POST", "/fhir/AuditEvent/_search", {"data": dict(params)}),
        ("GET", f"/fhir/AuditEvent/{i}", {}),
        ("GET", f"/audit/patients/{i}/accesses", {"params": params}),
        ("GET", f"/audit/patients/{i}/disclosures", {"params": params}),
        ("GET", "/audit/alerts", {"params": params}),
        ("GET", f"/audit/requests/{i}", {}),
        ("GET", f"/console/{i}", {"params": params}),
        ("GET", f"/{t}/{i}", {"params": params}),
    ]
    for method, url, kwargs in requests:
        headers = system
        walk.go(method, url, headers=headers, **kwargs)
        _check(walk, walk.seen[-1][1])
    walk.go("GET", "/fhir/Patient/$export", headers={**exporter, "Prefer": "respond-async",
            "Accept": "application/fhir+json"}, params=params)  # fmt: skip
    _check(walk, walk.seen[-1][1])


@settings(max_examples=15, deadline=None)
@given(
    header=st.builds(
        lambda t: MARK + t, st.text(st.characters(min_codepoint=33, max_codepoint=126))
    ),
    payload=marked,
    kid=marked,
    alg=marked,
)
def test_refused_tokens_leave_no_caller_text(
    walk: Walk, header: str, payload: str, kid: str, alg: str
) -> None:
    import base64
    import json

    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    forged = f"{part({'alg': alg, 'kid': kid, 'typ': header})}.{part({'jti': payload})}.c2ln"
    for token in (forged, header):
        walk.go("GET", "/fhir/Patient", headers={"Authorization": f"Bearer {token}"})
        _check(walk, walk.seen[-1][1])

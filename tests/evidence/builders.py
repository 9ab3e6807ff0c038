"""Test builders: access events, hypothesis strategies and sealed evidence rows built with the
real pipeline (AccessEvent → evidence_payload → seal_event → to_evidence_record().as_row())."""

from collections.abc import Iterable
from typing import Any

from hypothesis import strategies as st

from evidence.core import GENESIS_HASH, AccessEvent, Decision, Pseudonymizer, seal_event
from evidence.core.record import evidence_payload, to_evidence_record

KEY = b"test-pseudonym-key-0123456789abc"
PSEUDONYMIZER = Pseudonymizer(KEY, key_version=1)
BASE_TS_US = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z (a Wednesday)


def make_event(n: int, **overrides: Any) -> AccessEvent:
    """A plausible event; `n` makes its ids unique."""
    values: dict[str, Any] = {
        "event_id": f"evt-{n:06d}",
        "request_id": f"req-{n:06d}",
        "trace_id": f"trace-{n:06d}",
        "ts_us": BASE_TS_US + n * 1_000_000,
        "method": "GET",
        "route": "/fhir/Observation",
        "action": "search",
        "resource_type": "Observation",
        "decision": Decision.ALLOW,
        "status": 200,
        "reasons": ("scope.granted", "careteam.member"),
        "sub": "dr-alice",
        "client_id": "ehr-app",
        "issuer": "https://issuer.test.example",
        "token_alg": "RS256",
        "token_kid": "rsa-1",
        "token_jti_hash": "ab" * 16,
        "token_model": "jwt",
        "fhir_user": "Practitioner/prac-0001",
        "context_patient_id": "",
        "purpose_of_use": "TREAT",
        "scopes_granted": ("user/Observation.rs",),
        "scopes_used": ("user/Observation.rs",),
        "patient_ids": (f"pat-{n % 7:04d}",),
        "resource_ids": (f"Observation/obs-{n:06d}",),
        "query_params": ("patient", "code"),
        "count_returned": 1,
        "count_withheld": 0,
        "policy_version": "policy-1",
        "client_address": f"192.0.2.{n % 250 + 1}",  # TEST-NET-1, in its recorded form
    }
    values.update(overrides)
    return AccessEvent(**values)


def sealed_rows(
    events: Iterable[AccessEvent],
    producer_id: str = "api-test",
    pseudonymizer: Pseudonymizer = PSEUDONYMIZER,
    first_sequence: int = 1,
    prev_hash: str = GENESIS_HASH,
) -> list[dict[str, Any]]:
    """Evidence rows, chained per producer exactly as the outbox and the processor do it."""
    rows = []
    for offset, event in enumerate(events):
        payload = evidence_payload(event, pseudonymizer)
        sealed = seal_event(producer_id, first_sequence + offset, prev_hash, payload)
        record = to_evidence_record(
            payload, producer_id, sealed.sequence, sealed.prev_hash, sealed.event_hash
        )
        rows.append(record.as_row())
        prev_hash = sealed.event_hash
    return rows


def chain_of(count: int, producer_id: str = "api-test", **overrides: Any) -> list[dict[str, Any]]:
    return sealed_rows((make_event(n, **overrides) for n in range(1, count + 1)), producer_id)


# --- hypothesis strategies -------------------------------------------------------------------

_word = st.text(min_size=0, max_size=20)
_words = st.lists(_word, max_size=4).map(tuple)
_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=24)


@st.composite
def access_events(draw: st.DrawFn) -> AccessEvent:
    """Any well-formed event; values stay inside the evidence store's column types."""
    return AccessEvent(
        event_id=draw(_ids),
        request_id=draw(_ids),
        trace_id=draw(_word),
        ts_us=draw(st.integers(min_value=0, max_value=4_102_444_800_000_000)),
        method=draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"])),
        route=draw(_word),
        action=draw(_word),
        resource_type=draw(_word),
        decision=draw(st.sampled_from(list(Decision))),
        status=draw(st.integers(min_value=100, max_value=599)),
        reasons=draw(_words),
        sub=draw(_word),
        client_id=draw(_word),
        issuer=draw(_word),
        token_alg=draw(_word),
        token_kid=draw(_word),
        token_jti_hash=draw(_word),
        token_model=draw(_word),
        fhir_user=draw(_word),
        context_patient_id=draw(_word),
        purpose_of_use=draw(_word),
        scopes_granted=draw(_words),
        scopes_used=draw(_words),
        patient_ids=draw(_words),
        resource_ids=draw(_words),
        query_params=draw(_words),
        count_returned=draw(st.integers(min_value=0, max_value=2**32 - 1)),
        count_withheld=draw(st.integers(min_value=0, max_value=2**32 - 1)),
        policy_version=draw(_word),
        client_address=draw(st.one_of(st.ip_addresses().map(str), _word)),
    )

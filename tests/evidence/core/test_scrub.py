"""No raw identifier reaches the evidence through a scope string or an auditor's free text:
random ids in every position a scope or a reason can hold them, through `evidence_payload`
(what is hash-chained and stored) and `scrubbed_text`."""

import json

from hypothesis import given
from hypothesis import strategies as st

from evidence.core.pseudonym import Pseudonymizer
from evidence.core.record import evidence_payload
from evidence.core.scrub import (
    CODE_PARAMS,
    ID_MARKER,
    TEXT_LIMIT,
    pseudonymous_scope,
    scrubbed_text,
)
from tests.evidence.builders import make_event

P = Pseudonymizer(b"scrub-test-key-0123456789abcdef", 3)
# "zq" never occurs in a pseudonym (hex) nor in the rest of an event: a found id is a leak.
IDS = st.from_regex(r"zq[A-Za-z0-9\-.]{2,40}", fullmatch=True)
TYPES = st.sampled_from(("Patient", "Observation", "Group", "MedicationRequest", "Practitioner"))
NAMES = st.sampled_from(("patient", "subject", "_id", "identifier", "member", "agent",
                         "requester", "encounter", "x-custom", "entity"))  # fmt: skip
HEADS = st.sampled_from(("patient/Observation.rs", "user/*.cruds", "system/Patient.read",
                         "system/AuditEvent.rs", "patient/Observation.read"))  # fmt: skip


@st.composite
def value_holding(draw: st.DrawFn, raw_id: str) -> str:
    """A scope value that holds `raw_id`, in one of the forms a token may carry."""
    rtype = draw(TYPES)
    return draw(st.sampled_from((
        raw_id, f"{rtype}/{raw_id}", f"https://fhir.example/fhir/{rtype}/{raw_id}",
        f"http://hospital.example/mrn|{raw_id}", f"{rtype}/{raw_id}/_history/2",
    )))  # fmt: skip


@st.composite
def scopes_with(draw: st.DrawFn, raw_id: str) -> str:
    kind = draw(st.sampled_from(("granular", "granular-many", "not-a-scope")))
    if kind == "not-a-scope":
        rtype = draw(TYPES)
        return draw(st.sampled_from((f"{rtype}/{raw_id}", f"launch/{rtype}/{raw_id}",
                                     f"{rtype}/{raw_id}?a=b")))  # fmt: skip
    pairs = [(draw(NAMES), draw(value_holding(raw_id)))]
    if kind == "granular-many":
        pairs.insert(0, ("category", "laboratory"))
        pairs.append((draw(NAMES), draw(value_holding(raw_id))))
    assert not {name for name, _ in pairs} - {"category"} & CODE_PARAMS
    return draw(HEADS) + "?" + "&".join(f"{n}={v}" for n, v in pairs)


@given(IDS.flatmap(lambda i: st.tuples(st.just(i), st.lists(scopes_with(i), min_size=1,
                                                             max_size=4))))  # fmt: skip
def test_no_raw_id_in_a_scope_reaches_the_payload(case: tuple[str, list[str]]) -> None:
    raw_id, scopes = case
    event = make_event(1, scopes_granted=(*scopes, "openid", "user/*.rs"),
                       scopes_used=tuple(scopes[:1]))  # fmt: skip
    payload = evidence_payload(event, P)
    assert raw_id not in json.dumps(payload)
    assert "user/*.rs" in payload["scopes_granted"] and "openid" in payload["scopes_granted"]


def test_scope_shapes_stay_readable() -> None:
    patient = P.patient("pat-00005")
    assert pseudonymous_scope("patient/Observation.rs?patient=Patient/pat-00005", P) == (
        f"patient/Observation.rs?patient=Patient/{patient}"
    )
    assert pseudonymous_scope("system/Observation.rs?subject=pat-00005", P) == (
        f"system/Observation.rs?subject={patient}"
    )
    kept = "patient/Observation.rs?category=laboratory&code=http://loinc.org|1234-5"
    assert pseudonymous_scope(kept, P) == kept
    assert pseudonymous_scope("system/*.rs", P) == "system/*.rs"


KNOWN_SHAPES = st.one_of(
    st.from_regex(r"pat-[0-9]{5}|prac-[0-9]{4}|obs-[0-9]{5}-[0-9]{1,2}", fullmatch=True),
    st.uuids().map(str),
    st.uuids().map(lambda u: u.hex),
    st.from_regex(r"MRN[0-9]{7}|[0-9]{6,12}|[0-9]{3}-[0-9]{2}-[0-9]{4}", fullmatch=True),
)
WORDS = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


@st.composite
def reasons(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Free text with identifiers pasted in as words: references and known shapes."""
    pieces, planted = [], []
    for _ in range(draw(st.integers(1, 5))):
        pieces.append(draw(WORDS))
        if draw(st.booleans()):
            raw_id = draw(IDS)
            planted.append(raw_id)
            pieces.append(
                draw(
                    st.sampled_from(
                        (f"{draw(TYPES)}/{raw_id}", f"https://h.example/fhir/Patient/{raw_id}")
                    )
                )
            )
        else:
            shape = draw(KNOWN_SHAPES)
            planted.append(shape)
            pieces.append(shape)
    return " ".join(pieces), planted


@given(reasons())
def test_free_text_keeps_no_identifier(case: tuple[str, list[str]]) -> None:
    text, planted = case
    scrubbed = scrubbed_text(text, P)
    assert len(scrubbed) <= TEXT_LIMIT
    for raw in planted:
        assert raw not in scrubbed, (raw, scrubbed)


def test_free_text_examples() -> None:
    said = scrubbed_text("Reviewed Patient/pat-00005 with MRN0000123 on 2026-01-05: fine", P)
    assert said == f"Reviewed Patient/{P.patient('pat-00005')} with {ID_MARKER} on 2026-01-05: fine"
    assert scrubbed_text("x" * 2000, P).endswith("…") and len(scrubbed_text("x" * 2000, P)) == 500

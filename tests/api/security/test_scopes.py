"""SMART v1/v2 scope grammar: what parses, what is refused, and that nothing widens."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.security.scopes import (
    Scope,
    matching_scopes,
    parse_scope,
    parse_scope_claim,
)

ALL = frozenset("cruds")


def scope(raw: str) -> Scope:
    parsed = parse_scope(raw)
    assert parsed is not None, raw
    return parsed


@pytest.mark.parametrize(
    ("raw", "context", "rtype", "permissions"),
    [
        ("patient/Observation.read", "patient", "Observation", "rs"),
        ("user/Observation.write", "user", "Observation", "cud"),
        ("system/Patient.*", "system", "Patient", "cruds"),
        ("user/*.write", "user", "*", "cud"),
        ("patient/*.read", "patient", "*", "rs"),
        ("system/*.*", "system", "*", "cruds"),
    ],
)
def test_v1_scopes(raw: str, context: str, rtype: str, permissions: str) -> None:
    parsed = scope(raw)
    assert (parsed.context, parsed.resource_type, parsed.version) == (context, rtype, "v1")
    assert parsed.permissions == frozenset(permissions)
    assert parsed.constraints == () and parsed.raw == raw


@pytest.mark.parametrize(
    "letters", ["c", "r", "u", "d", "s", "rs", "cu", "cruds", "crud", "ruds", "cs", "rd"]
)
def test_v2_permission_subsets_in_order(letters: str) -> None:
    parsed = scope(f"patient/Observation.{letters}")
    assert parsed.version == "v2"
    assert parsed.permissions == frozenset(letters)


@pytest.mark.parametrize(
    "letters", ["sr", "rr", "dc", "scrud", "crudss", "x", "rx", "readd", "RS", "Read", "r*", "**"]
)
def test_v2_permissions_out_of_order_repeated_or_foreign_are_refused(letters: str) -> None:
    assert parse_scope(f"patient/Observation.{letters}") is None


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "patient/Observation.",
        "patient/Observation",
        "patient/.rs",
        "patient/Observation.rs.rs",
        "Patient/Observation.rs",
        "group/Observation.rs",
        "practitioner/Observation.rs",
        "/Observation.rs",
        "patient//Observation.rs",
        "patient/observation.rs",
        "patient/O.rs",
        "patient/Observation-1.rs",
        "patient/Observation.rs ",
        " patient/Observation.rs",
        "patient/**.rs",
        "patient/*Observation.rs",
        "patient/Observation.read?category=laboratory",
        "patient/Observation.*?category=laboratory",
        "patient/Observation.rs?",
        "patient/Observation.rs?category=",
        "patient/Observation.rs?category",
        "patient/" + "A" * 65 + ".rs",
    ],
)
def test_malformed_scopes_are_refused(raw: str) -> None:
    assert parse_scope(raw) is None


def test_granular_scope_keeps_its_constraints() -> None:
    parsed = scope("patient/Observation.rs?category=laboratory")
    assert parsed.version == "v2"
    assert parsed.permissions == frozenset("rs")
    assert parsed.constraints == (("category", "laboratory"),)
    two = scope("user/Observation.rs?category=vital-signs&code=http://loinc.org|8867-4")
    assert two.constraints == (
        ("category", "vital-signs"),
        ("code", "http://loinc.org|8867-4"),
    )


def test_wildcard_never_covers_audit_event_but_an_explicit_scope_does() -> None:
    for raw in ("system/*.rs", "system/*.*", "user/*.cruds", "patient/*.read", "system/*.read"):
        parsed = scope(raw)
        assert parsed.covers_type("Observation")
        assert not parsed.covers_type("AuditEvent")
        assert not parsed.permits("AuditEvent", "search")
        assert not parsed.permits("AuditEvent", "read")
    explicit = scope("system/AuditEvent.rs")
    assert explicit.permits("AuditEvent", "search") and explicit.permits("AuditEvent", "read")
    assert not explicit.permits("Observation", "read")
    assert not explicit.permits("AuditEvent", "create")


def test_parse_scope_claim_classifies_every_string() -> None:
    claim = (
        "openid fhirUser launch launch/patient offline_access export "
        "patient/Observation.rs user/*.read system/Patient.sr Patient.read bogus  export"
    )
    scopes, known, ignored = parse_scope_claim(claim)
    assert [s.raw for s in scopes] == ["patient/Observation.rs", "user/*.read"]
    assert known == (
        "openid",
        "fhirUser",
        "launch",
        "launch/patient",
        "offline_access",
        "export",
        "export",
    )
    assert ignored == ("system/Patient.sr", "Patient.read", "bogus")
    assert parse_scope_claim("") == ((), (), ())
    assert parse_scope_claim("Export EXPORT launch/other")[1] == ()


@pytest.mark.parametrize(
    ("interaction", "letter"),
    [
        ("read", "r"),
        ("vread", "r"),
        ("history", "r"),
        ("search", "s"),
        ("create", "c"),
        ("update", "u"),
        ("patch", "u"),
        ("delete", "d"),
    ],
)
def test_matching_scopes_maps_interactions_to_letters(interaction: str, letter: str) -> None:
    singles = tuple(scope(f"user/Observation.{x}") for x in "cruds")
    matched = matching_scopes(singles, "Observation", interaction)
    assert [s.raw for s in matched] == [f"user/Observation.{letter}"]
    assert matching_scopes(singles, "Condition", interaction) == ()


def test_matching_scopes_v1_and_unknown_interactions() -> None:
    read, write = scope("patient/Observation.read"), scope("patient/Observation.write")
    assert matching_scopes((read, write), "Observation", "search") == (read,)
    assert matching_scopes((read, write), "Observation", "delete") == (write,)
    assert matching_scopes((read, write), "Observation", "patch") == (write,)
    for odd in ("operation", "READ", "", "transaction", "batch"):
        assert matching_scopes((scope("system/*.*"),), "Observation", odd) == ()


# --- properties --------------------------------------------------------------------------

V1 = {"read": frozenset("rs"), "write": frozenset("cud"), "*": ALL}


def literal_grant(text: str) -> frozenset[str]:
    """What a permission string literally grants, read as plainly as possible."""
    if text in V1:
        return V1[text]
    return frozenset(text) & ALL


SCOPE_LIKE = st.builds(
    "{}/{}.{}{}".format,
    st.sampled_from(["patient", "user", "system", "admin", "Patient", ""]),
    st.sampled_from(["Observation", "AuditEvent", "*", "Patient", "observation", "A", "**"]),
    st.text(alphabet="cruds*eawitx", min_size=0, max_size=6) | st.sampled_from(list(V1)),
    st.sampled_from(["", "?category=laboratory", "?", "?a=", "?a=b&c=d", "?=x"]),
)


@settings(max_examples=400, deadline=None)
@given(SCOPE_LIKE)
def test_parse_never_widens(raw: str) -> None:
    parsed = parse_scope(raw)
    if parsed is None:
        return
    context, _, rest = raw.partition("/")
    rtype, _, perms_and_query = rest.partition(".")
    perms = perms_and_query.split("?", 1)[0]
    assert parsed.raw == raw
    assert parsed.context == context and context in {"patient", "user", "system"}
    assert parsed.resource_type == rtype
    assert parsed.permissions and parsed.permissions <= literal_grant(perms)
    if perms not in V1:  # v2: letters strictly in c-r-u-d-s order
        assert list(perms) == sorted(set(perms), key="cruds".index)
    if "?" in raw:
        assert parsed.version == "v2" and parsed.constraints


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60) | SCOPE_LIKE.map(lambda s: s.replace("*", "*" * 2)))
def test_garbage_never_reaches_audit_event_by_wildcard(text: str) -> None:
    scopes, known, ignored = parse_scope_claim(text)
    assert len(scopes) + len(known) + len(ignored) == len(text.split())
    for parsed in scopes:
        assert parsed.raw in text.split()
        if parsed.covers_type("AuditEvent"):
            assert parsed.resource_type == "AuditEvent"
            assert "/AuditEvent." in parsed.raw


@settings(max_examples=200, deadline=None)
@given(
    st.lists(SCOPE_LIKE, max_size=5),
    st.sampled_from(["Observation", "AuditEvent", "Patient", "Condition"]),
    st.sampled_from(["read", "vread", "search", "create", "update", "patch", "delete"]),
)
def test_matching_scopes_only_returns_scopes_that_literally_grant(
    raws: list[str], rtype: str, interaction: str
) -> None:
    scopes, _, _ = parse_scope_claim(" ".join(raws))
    letter = {"read": "r", "vread": "r", "search": "s", "create": "c", "delete": "d"}.get(
        interaction, "u"
    )
    for matched in matching_scopes(scopes, rtype, interaction):
        assert letter in matched.permissions
        assert matched.resource_type in {rtype, "*"}
        assert rtype != "AuditEvent" or matched.resource_type == "AuditEvent"


def test_granular_scopes_carry_their_constraints_into_the_plan() -> None:
    from api.security.access import plan_access
    from api.security.principal import Principal
    from api.security.scopes import parse_scope_claim

    claim = "patient/Observation.rs?category=laboratory patient/Observation.rs?category=vital-signs"
    scopes, _, _ = parse_scope_claim(claim)
    principal = Principal(sub="p", issuer="i", scopes=scopes, patient="pat-1")
    plan = plan_access(principal, "Observation", "search")
    assert plan.granted
    assert plan.constraints == ((("category", "laboratory"),), (("category", "vital-signs"),))
    wider, _, _ = parse_scope_claim(claim + " patient/Observation.rs")
    unconstrained = plan_access(
        Principal(sub="p", issuer="i", scopes=wider, patient="x"), "Observation", "search"
    )
    assert unconstrained.constraints == ()


@pytest.mark.parametrize(("v1", "v2"), [("read", "rs"), ("write", "cud"), ("*", "cruds")])
@given(
    context=st.sampled_from(["patient", "user", "system"]),
    rtype=st.sampled_from(["Patient", "Observation", "*", "AuditEvent"]),
    interaction=st.sampled_from(["read", "vread", "search", "create", "update", "delete"]),
)
def test_v1_and_v2_spellings_grant_the_same(
    v1: str, v2: str, context: str, rtype: str, interaction: str
) -> None:
    from api.security.scopes import parse_scope

    old, new = parse_scope(f"{context}/{rtype}.{v1}"), parse_scope(f"{context}/{rtype}.{v2}")
    assert old is not None and new is not None
    for target in ("Patient", "Observation", "AuditEvent"):
        assert old.permits(target, interaction) == new.permits(target, interaction)

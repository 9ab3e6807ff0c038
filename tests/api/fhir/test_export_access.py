"""Collecting an export (status, download, cancel) is authorized anew from each request's
token: the owner's client, and at least the grant the job was made under (pure parts)."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from api.fhir.export_access import collect_verdict, required_scope
from api.fhir.export_params import ExportJob, authorize_export, job_from_dict
from api.fhir.search import resource_satisfies
from api.security.access import SENSITIVE_LABELS, AccessPlan, PatientReach, Reach
from api.security.principal import Principal
from api.security.redaction import DEFAULT_REDACTIONS, fields_to_redact
from api.security.scopes import parse_scope_claim

TYPES = ("Patient", "Observation")
SCOPE_POOL = (
    "export",
    "demographics",
    "system/*.rs",
    "system/Patient.rs",
    "system/Observation.rs",
    "system/Observation.rs?category=laboratory",
    "system/Observation.rs?category=vital-signs",
    "system/Group.rs",
    "user/*.rs",
    "patient/*.rs",
    "system/Observation.cud",
)
LABELS = ("R", "HIV", "PSY")


def principal(
    scope: str, client: str = "app", clearance: frozenset[str] = frozenset()
) -> Principal:
    scopes, known, _ = parse_scope_claim(scope)
    return Principal(
        sub="s", issuer="i", client_id=client, scopes=scopes, scope_strings=tuple(scope.split()),
        has_export_scope="export" in known, known_scopes=frozenset(known),
        fhir_user="Practitioner/p", patient="p1", clearance=clearance,
    )  # fmt: skip


def redactions(who: Principal, types: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """What export.py's kick-off and collection compute: the minimum-necessary rule."""
    plan_all = AccessPlan(True, PatientReach(Reach.ALL), frozenset(), (), ())
    chosen = {t: fields_to_redact(plan_all, who.known_scopes, t, "", DEFAULT_REDACTIONS)
              for t in types}  # fmt: skip
    return {t: f for t, f in chosen.items() if f}


def job_of(who: Principal, types: tuple[str, ...], group: bool = False) -> ExportJob | None:
    """The job a kick-off by `who` would record (None: refused)."""
    grant = authorize_export(who, types, (), group)
    if not grant.granted:
        return None
    return ExportJob(
        id="a" * 32, owner_sub=who.sub, owner_issuer=who.issuer, owner_client=who.client_id,
        request_url="u", transaction_time="t", types=grant.types,
        hidden_labels=tuple(sorted(grant.hidden_labels)), created_at=0.0,
        group_id="g" if group else "", constraints=dict(grant.constraints),
        redactions=redactions(who, grant.types),
    )  # fmt: skip


def visible(job: ExportJob, resource: dict[str, Any]) -> tuple[bool, tuple[str, ...]]:
    """Whether the job's files hold `resource`, and which elements they remove from it."""
    rtype = resource["resourceType"]
    labels = {s["code"] for s in resource.get("meta", {}).get("security", [])}
    shown = not labels & set(job.hidden_labels) and resource_satisfies(
        resource, job.constraints.get(rtype, ())
    )
    return shown, job.redactions.get(rtype, ())


scope_sets = st.sets(st.sampled_from(SCOPE_POOL)).map(" ".join)
clearances = st.sets(st.sampled_from(LABELS)).map(frozenset)
resources = st.builds(
    lambda rtype, category, labels: {
        "resourceType": rtype,
        "category": [{"coding": [{"code": category}]}],
        "meta": {"security": [{"code": code} for code in labels]},
    },
    st.sampled_from(TYPES),
    st.sampled_from(("laboratory", "vital-signs", "imaging")),
    st.sets(st.sampled_from(LABELS)),
)


@given(scope_sets, clearances, scope_sets, clearances, st.lists(resources, max_size=8),
       st.booleans())  # fmt: skip
def test_collecting_never_shows_more_than_the_collecting_token_could_export(
    first: str, first_clearance: frozenset[str], later: str, later_clearance: frozenset[str],
    sample: list[dict[str, Any]], group: bool,
) -> None:  # fmt: skip
    """Whatever token started the job, a later token that collects it sees nothing (no
    resource, no unredacted element) its own export of the same types would not show."""
    starter = principal(first, clearance=first_clearance)
    job = job_of(starter, TYPES, group)
    if job is None:
        return
    collector = principal(later, clearance=later_clearance)
    verdict, scopes = collect_verdict(collector, job, redactions(collector, job.types))
    if verdict.denies:
        assert "export.not_permitted" in verdict.reasons
        return
    own = job_of(collector, job.types, group)
    assert own is not None, "a collector must itself be able to export the job's types"
    assert "export" in scopes
    for resource in sample:
        shown, removed = visible(job, resource)
        own_shown, own_removed = visible(own, resource)
        assert not shown or own_shown
        assert set(own_removed) <= set(removed)


@given(scope_sets, clearances)
def test_the_starting_token_may_always_collect(scope: str, clearance: frozenset[str]) -> None:
    who = principal(scope, clearance=clearance)
    job = job_of(who, TYPES)
    if job is not None:
        assert not collect_verdict(who, job, redactions(who, job.types))[0].denies


def test_owner_is_subject_issuer_and_client() -> None:
    who = principal("system/*.rs export")
    job = job_of(who, TYPES)
    assert job is not None and job.owned_by(who)
    assert not job.owned_by(principal("system/*.rs export", client="other-app"))
    old = job_from_dict({k: v for k, v in job.as_dict().items() if k != "owner_client"})
    assert old.owner_client is None and not old.owned_by(who)  # written before: nobody's
    assert job_from_dict(job.as_dict()) == job


def test_refusals_name_their_reason() -> None:
    job = job_of(principal("system/*.rs export demographics",
                           clearance=frozenset(SENSITIVE_LABELS)), TYPES)  # fmt: skip
    assert job is not None
    for scope, clearance, reason in (
        ("", frozenset(SENSITIVE_LABELS), "scope.insufficient"),
        ("system/*.rs", frozenset(SENSITIVE_LABELS), "scope.insufficient"),
        ("export system/Patient.rs demographics", frozenset(SENSITIVE_LABELS),
         "scope.insufficient"),
        ("system/*.rs export demographics", frozenset(), "label.withheld"),
        ("system/*.rs export", frozenset(SENSITIVE_LABELS), "scope.insufficient"),
        ("system/Patient.rs system/Observation.rs?category=laboratory export demographics",
         frozenset(SENSITIVE_LABELS), "scope.insufficient"),
    ):  # fmt: skip
        who = principal(scope, clearance=clearance)
        verdict, _ = collect_verdict(who, job, redactions(who, job.types))
        assert verdict.denies and verdict.reasons == ("export.not_permitted", reason), scope
    assert required_scope(job) == "export system/Patient.rs system/Observation.rs"

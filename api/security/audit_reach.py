"""Whose audit evidence an AuditEvent scope reaches (pure), and how a question is confined.

Each AuditEvent scope that grants the interaction is read with its context and every
granular constraint, and becomes one `Confinement` (rows about this patient, rows of this
agent, or both; blanks mean any):

- `system/`: any patient, any agent;
- `user/`: by the token's `fhirUser` — a Patient is that patient's own evidence only; a
  Practitioner or PractitionerRole (or no fhirUser) is staff: any patient, any agent; any
  other fhirUser (RelatedPerson, Device, ...) reaches nothing;
- `patient/`: the token's `patient` only (none: nothing);
- then its constraints narrow it: `patient=` (`Patient/<id>` or `<id>`) and `agent=` (a
  `sub`). A constraint on any other parameter, or one that contradicts the context
  (`patient/AuditEvent.rs?patient=<another>`), makes the scope reach nothing (fail closed).

Several scopes add up. `AuditReach.unconstrained` (some scope reaches every row) is what a
question that cannot be confined needs (verify, alerts, checkpoints, proofs, a request's
lifecycle). Any other question is answered through `confine`: the asked patient and agent,
narrowed by one confinement that covers them, or None when no single one does.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from api.security.principal import Principal
from api.security.scopes import Scope

__all__ = ["AuditReach", "Confined", "Confinement", "audit_reach", "confine", "row_within"]

STAFF_USERS = frozenset({"Practitioner", "PractitionerRole"})


@dataclass(frozen=True, slots=True, order=True)
class Confinement:
    patient: str = ""  # a raw patient id; "" any
    agent: str = ""  # a principal's sub; "" any

    def covers(self, other: "Confinement") -> bool:
        """Every row `other` admits, this admits too."""
        return self.patient in ("", other.patient) and self.agent in ("", other.agent)


@dataclass(frozen=True, slots=True)
class AuditReach:
    confinements: tuple[Confinement, ...]  # empty: nothing

    @property
    def unconstrained(self) -> bool:
        return Confinement() in self.confinements


@dataclass(frozen=True, slots=True)
class Confined:
    """The filter a question is answered with; `own_patient`: the patient the token itself
    is confined to ("" when the token may read any patient's evidence)."""

    patient: str
    agent: str
    own_patient: str


def audit_reach(principal: Principal, scopes_used: tuple[str, ...]) -> AuditReach:
    """The rows the AuditEvent scopes among `scopes_used` reach, for this principal."""
    found = {
        confinement
        for scope in principal.scopes
        if scope.raw in scopes_used and scope.resource_type == "AuditEvent"
        for confinement in [_of_scope(principal, scope)]
        if confinement is not None
    }
    return AuditReach(tuple(sorted(found)))


def _of_scope(principal: Principal, scope: Scope) -> Confinement | None:
    base = _of_context(principal, scope.context)
    if base is None:
        return None
    patient, agent = base.patient, base.agent
    for name, value in scope.constraints:
        if name == "patient":
            asked = value.removeprefix("Patient/")
            if not asked or "/" in asked or patient not in ("", asked):
                return None
            patient = asked
        elif name == "agent":
            if not value or agent not in ("", value):
                return None
            agent = value
        else:
            return None  # a constraint this view cannot enforce grants nothing
    return Confinement(patient, agent)


def _of_context(principal: Principal, context: str) -> Confinement | None:
    if context == "system":
        return Confinement()
    if context == "patient":
        return Confinement(patient=principal.patient) if principal.patient else None
    if not principal.fhir_user:
        return Confinement()
    path, _, user_id = principal.fhir_user.rpartition("/")  # relative or absolute
    user_type = path.rpartition("/")[2]
    if not user_id or user_type not in STAFF_USERS | {"Patient"}:
        return None
    return Confinement(patient=user_id) if user_type == "Patient" else Confinement()


def confine(reach: AuditReach, patient: str = "", agent: str = "") -> Confined | None:
    """The question "rows about `patient` by `agent`" (blanks: any) within the reach: the
    widest single confinement that admits it, narrowing what was left blank; None when
    none does, or when two admit different rows and neither covers the other (the caller
    should name the patient or the agent)."""
    answers: dict[Confinement, str] = {}  # answer -> the patient the token is confined to
    for c in reach.confinements:
        if (not patient or c.patient in ("", patient)) and (not agent or c.agent in ("", agent)):
            answer = Confinement(patient or c.patient, agent or c.agent)
            answers[answer] = min(answers.get(answer, c.patient), c.patient)  # "" wins
    for answer, own in answers.items():
        if all(answer.covers(other) for other in answers):
            return Confined(answer.patient, answer.agent, own)
    return None


def row_within(
    reach: AuditReach, patient_hashes: Sequence[str], sub: str, pseudonym: Callable[[str], str]
) -> Confinement | None:
    """The confinement that admits a row (the part shown) about the patients of
    `patient_hashes` done by `sub`, or None; `pseudonym` turns a patient id into the form
    the rows hold."""
    for c in reach.confinements:
        if (not c.patient or pseudonym(c.patient) in patient_hashes) and c.agent in ("", sub):
            return c
    return None

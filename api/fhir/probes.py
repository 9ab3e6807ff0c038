"""Search probing (pure): the patients a search names that the caller may not see.

A search names a patient by any reference value of type Patient (`patient=`, `subject=`,
`member=`, ... in every form the parser accepts: `id`, `Patient/id`, comma alternatives,
repeated parameters; the parser turns them all into "Patient/id") and, for a Patient search,
by `_id`. Those outside the caller's reach are recorded as evidence (their pseudonyms, reason
`search.patient_outside_reach`); the answer to the client does not change: the guarded
query already leaves their resources out, whether they exist or not.
"""

from collections.abc import Callable, Iterable

from api.data.query import Criterion, IdIn, ReferenceIn
from api.security.access import PatientReach, Reach

MAX_NAMED = 50  # patients judged per search (a search names at most this many in evidence)
CareTeamMember = Callable[[str, str], bool]  # (practitioner, patient id) -> member?


def named_patients(resource_type: str, criteria: Iterable[Criterion]) -> tuple[str, ...]:
    """The patient ids the criteria name, each once, in order, at most MAX_NAMED."""
    named: dict[str, None] = {}
    for criterion in criteria:
        if isinstance(criterion, ReferenceIn):
            for reference in criterion.references:
                rtype, _, rid = reference.partition("/")
                if rtype == "Patient" and rid:
                    named[rid] = None
        elif isinstance(criterion, IdIn) and resource_type == "Patient":
            named.update(dict.fromkeys(criterion.ids))
    return tuple(named)[:MAX_NAMED]


def outside_reach(
    reach: PatientReach, patients: Iterable[str], care_team_member: CareTeamMember
) -> tuple[str, ...]:
    """Those of `patients` the reach does not cover (a care-team reach asks the data)."""
    if reach.kind is Reach.ALL:
        return ()
    if reach.kind is Reach.ONE:
        return tuple(p for p in patients if p != reach.patient)
    if reach.kind is Reach.CARE_TEAM:
        return tuple(p for p in patients if not care_team_member(reach.practitioner, p))
    return tuple(patients)

"""May the token of a status poll, download or cancel still collect an export job? (pure)

A job's files were written under the grant of the token that started it. Every later request
about the job is authorized again, from its own token: the job's owner (same subject, issuer
and client, else the job does not exist for it) must today hold at least that grant —
`export` and a system/ read scope for every type of the job (and Group for a group export),
no label hidden now that the job did not hide, no granular constraint narrower than the
job's, and no element redacted now that the job's files keep. Anything less is refused: a
token narrowed, or swapped for a weaker one of the same subject, never collects files.
"""

from collections.abc import Mapping

from api.fhir.export_params import ExportGrant, ExportJob, authorize_export
from api.security.principal import Principal
from api.security.verdict import Verdict, allow, deny
from evidence.core import ReasonCode

__all__ = ["collect_verdict", "required_scope"]


def collect_verdict(
    principal: Principal, job: ExportJob, redactions_now: Mapping[str, tuple[str, ...]]
) -> tuple[Verdict, tuple[str, ...]]:
    """(allow, or deny with why; the scopes that grant it). `redactions_now`: by type, what
    the minimum-necessary rule would remove from this token's export today."""
    grant = authorize_export(principal, job.types, (), bool(job.group_id))
    return _verdict(grant, job, redactions_now), grant.scopes_used


def _verdict(
    grant: ExportGrant, job: ExportJob, redactions_now: Mapping[str, tuple[str, ...]]
) -> Verdict:
    if not grant.granted:
        return deny(ReasonCode.EXPORT_NOT_PERMITTED, ReasonCode.SCOPE_INSUFFICIENT)
    if not grant.hidden_labels <= frozenset(job.hidden_labels):
        return deny(ReasonCode.EXPORT_NOT_PERMITTED, ReasonCode.LABEL_WITHHELD)
    for rtype in job.types:
        now = grant.constraints.get(rtype, ())
        then = job.constraints.get(rtype, ())
        if now and not (then and set(then) <= set(now)):
            return deny(ReasonCode.EXPORT_NOT_PERMITTED, ReasonCode.SCOPE_INSUFFICIENT)
        if not set(redactions_now.get(rtype, ())) <= set(job.redactions.get(rtype, ())):
            return deny(ReasonCode.EXPORT_NOT_PERMITTED, ReasonCode.SCOPE_INSUFFICIENT)
    return allow(ReasonCode.SCOPE_GRANTED, ReasonCode.SYSTEM_ACCESS)


def required_scope(job: ExportJob) -> str:
    """What a token needs to collect the job (for `WWW-Authenticate`)."""
    types = [*job.types, *(["Group"] if job.group_id else [])]
    return " ".join(["export", *(f"system/{t}.rs" for t in dict.fromkeys(types))])

"""RequestAudit: what one request did, filled in by the handlers, turned into an AccessEvent."""

from dataclasses import dataclass, field

from api.security.principal import Principal
from evidence.core import AccessEvent, Decision, ReasonCode
from evidence.core.record import jti_hash


@dataclass(slots=True)
class RequestAudit:
    request_id: str
    trace_id: str
    method: str
    action: str = "unknown"
    resource_type: str = ""
    principal: Principal | None = None
    refused_token: tuple[str, str, str] = ("", "", "")  # (alg, kid, jti) of a refused token
    decision: Decision | None = None
    reasons: list[str] = field(default_factory=list)
    scopes_used: list[str] = field(default_factory=list)
    patient_ids: set[str] = field(default_factory=set)
    resource_ids: list[str] = field(default_factory=list)
    query_params: list[str] = field(default_factory=list)
    count_returned: int = 0
    count_withheld: int = 0
    count_redacted: int = 0
    policy_version: str = ""

    def target(self, action: str, resource_type: str = "") -> None:
        self.action, self.resource_type = action, resource_type

    def decide(self, decision: Decision, *reasons: str) -> None:
        self.decision = decision
        for reason in reasons:
            if reason and reason not in self.reasons:
                self.reasons.append(reason)

    def to_event(self, event_id: str, ts_us: int, route: str, status: int) -> AccessEvent:
        decision = self.decision or _decision_for_status(status)
        reasons = self.reasons or _default_reasons(status)
        if decision is Decision.ALLOW and status >= 400:
            decision = Decision.DENY
        p = self.principal
        return AccessEvent(
            event_id=event_id,
            request_id=self.request_id,
            trace_id=self.trace_id,
            ts_us=ts_us,
            method=self.method,
            route=route,
            action=self.action,
            resource_type=self.resource_type,
            decision=decision,
            status=status,
            reasons=tuple(reasons),
            sub=p.sub if p else "",
            client_id=p.client_id if p else "",
            issuer=p.issuer if p else "",
            token_alg=p.alg if p else self.refused_token[0],
            token_kid=p.kid if p else self.refused_token[1],
            token_jti_hash=jti_hash(p.jti if p else self.refused_token[2]),
            token_model=p.token_model if p else "",
            fhir_user=p.fhir_user if p else "",
            context_patient_id=p.patient if p else "",
            purpose_of_use=p.purpose_of_use if p else "",
            scopes_granted=p.scope_strings if p else (),
            scopes_used=tuple(self.scopes_used),
            patient_ids=tuple(sorted(self.patient_ids)),
            resource_ids=tuple(self.resource_ids),
            query_params=tuple(self.query_params),
            count_returned=self.count_returned,
            count_withheld=self.count_withheld,
            count_redacted=self.count_redacted,
            policy_version=self.policy_version,
        )


def _decision_for_status(status: int) -> Decision:
    return Decision.ALLOW if status < 400 else Decision.DENY


def _default_reasons(status: int) -> list[str]:
    defaults = {
        404: ReasonCode.NOT_FOUND,
        405: ReasonCode.METHOD_NOT_ALLOWED,
        413: ReasonCode.REQUEST_TOO_LARGE,
        400: ReasonCode.QUERY_INVALID,
        422: ReasonCode.QUERY_INVALID,
        503: ReasonCode.DEPENDENCY_FAILED,
    }
    reason = defaults.get(status)
    return [str(reason)] if reason else []

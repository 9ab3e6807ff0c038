"""RequestAudit: what one request was, who asked, what the guard granted and how it ended;
turned into its AccessEvent when the response starts.

The only writer of a request's audit record. Everyone else hands it values:
- `target`, `asked`, `subject`: what the request asked for (known before any decision, so a
  refused request still names them);
- `under_policy`, `authenticated`, `token_refused`: the authentication step;
- `granted`: the guard's grant (its verdict and the scopes it used): later failures of the
  request, its own or a dependency's, add to it (`api.security.verdict.combine`);
- `conclude`: how the request ended, once: the route's verdict and what it disclosed, or the
  verdict an error carries. A response that starts without one is a bug: it is recorded as a
  deny with `decision.missing` and logged.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import structlog

from api.security.disclosure import NOTHING, Disclosure
from api.security.principal import Principal, TokenFacts
from api.security.verdict import Verdict, combine, deny
from evidence.core import AccessEvent, ReasonCode
from evidence.core.record import jti_hash

log = structlog.get_logger("fhir_evidence.audit")
NO_TOKEN = TokenFacts()
MISSING = deny(ReasonCode.DECISION_MISSING)


@dataclass(slots=True)
class RequestAudit:
    request_id: str
    trace_id: str
    method: str
    _action: str = "unknown"
    _resource_type: str = ""
    _query_params: tuple[str, ...] = ()
    _subject_resource: str = ""
    _subject_patient: str = ""
    _policy_version: str = ""
    _principal: Principal | None = None
    _refused_token: TokenFacts = NO_TOKEN
    _grant: Verdict | None = None
    _scopes_used: tuple[str, ...] = ()
    _outcome: Verdict | None = None
    _disclosed: Disclosure = NOTHING

    def target(self, action: str, resource_type: str = "") -> None:
        self._action, self._resource_type = action, resource_type

    def asked(self, param_names: Iterable[str]) -> None:
        """The query parameter names (never values)."""
        self._query_params = tuple(sorted(set(param_names)))

    def subject(self, resource_id: str = "", patient_id: str = "") -> None:
        """The resource ("Type/id") and the patient the request is about, once resolved."""
        self._subject_resource, self._subject_patient = resource_id, patient_id

    def under_policy(self, version: str) -> None:
        self._policy_version = version

    def authenticated(self, principal: Principal) -> None:
        self._principal = principal

    def token_refused(self, token: TokenFacts) -> None:
        self._refused_token = token

    def granted(self, verdict: Verdict, scopes_used: tuple[str, ...]) -> None:
        self._grant, self._scopes_used = verdict, scopes_used

    def conclude(self, verdict: Verdict, disclosed: Disclosure = NOTHING) -> None:
        """How the request ended. Once; a refusal after it (the response failed before it
        started) combines with it like any later step."""
        self._outcome = combine(self._outcome, verdict)
        self._disclosed = self._disclosed + disclosed

    def verdict(self) -> Verdict:
        """The request's one verdict: the grant and the outcome combined."""
        if self._outcome is None:
            log.error("response without a recorded decision", request_id=self.request_id,
                      action=self._action)  # fmt: skip
            return combine(self._grant, MISSING)
        return combine(self._grant, self._outcome)

    def to_event(self, event_id: str, ts_us: int, route: str, status: int) -> AccessEvent:
        verdict, disclosed, p = self.verdict(), self._disclosed, self._principal
        token = self._refused_token
        alg, kid, jti = (p.alg, p.kid, p.jti) if p else (token.alg, token.kid, token.jti)
        return AccessEvent(
            event_id=event_id,
            request_id=self.request_id,
            trace_id=self.trace_id,
            ts_us=ts_us,
            method=self.method,
            route=route,
            action=self._action,
            resource_type=self._resource_type,
            decision=verdict.decision,
            status=status,
            reasons=verdict.reasons,
            sub=p.sub if p else "",
            client_id=p.client_id if p else "",
            issuer=p.issuer if p else "",
            token_alg=alg,
            token_kid=kid,
            token_jti_hash=jti_hash(jti),
            token_model=p.token_model if p else "",
            fhir_user=p.fhir_user if p else "",
            context_patient_id=p.patient if p else "",
            purpose_of_use=p.purpose_of_use if p else "",
            scopes_granted=p.scope_strings if p else (),
            scopes_used=self._scopes_used,
            patient_ids=self._patient_ids(disclosed),
            resource_ids=self._resource_ids(disclosed),
            query_params=self._query_params,
            count_returned=disclosed.returned,
            count_withheld=disclosed.withheld,
            count_redacted=disclosed.redacted,
            policy_version=self._policy_version,
        )

    def _patient_ids(self, disclosed: Disclosure) -> tuple[str, ...]:
        subject = {self._subject_patient} if self._subject_patient else set()
        return tuple(sorted(disclosed.patient_ids | subject))

    def _resource_ids(self, disclosed: Disclosure) -> tuple[str, ...]:
        if not self._subject_resource:
            return disclosed.resource_ids
        return (self._subject_resource, *disclosed.resource_ids)

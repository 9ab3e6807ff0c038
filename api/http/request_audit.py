"""RequestAudit: what one request was, who asked, what the guard granted and how it ended;
turned into its AccessEvent when the response starts.

The only writer of a request's audit record. Everyone else hands it values:
- `client_address` (at creation): where the request came from, in its recorded form;
- `target`, `asked`, `subject`: what the request asked for (known before any decision, so a
  refused request still names them); what the caller typed is kept only bounded
  (api.http.caller_text): parameter names outside the route's allow-list (`known`, else the
  app's whole `vocabulary`) and unknown words (`word`) as keyed hashes, every field bounded;
- `under_policy`, `authenticated`, `token_refused`: the authentication step;
- `granted`: the guard's grant (its verdict and the scopes it used): later failures of the
  request, its own or a dependency's, add to it (`api.security.verdict.combine`);
- `probed`: patients a search named that the caller may not see (search probing);
- `conclude`: how the request ended, once: the route's verdict and what it disclosed, or the
  verdict an error carries. A response that starts without one is a bug: it is recorded as a
  deny with `decision.missing` and logged.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, fields, replace

import structlog

from api.http.caller_text import MAX_FIELD, bounded, recorded_kid, recorded_names, recorded_word
from api.security.disclosure import NOTHING, Disclosure
from api.security.principal import Principal, TokenFacts
from api.security.verdict import Verdict, combine, deny
from evidence.core import AccessEvent, ReasonCode
from evidence.core.record import jti_hash

log = structlog.get_logger("fhir_evidence.audit")
NO_TOKEN = TokenFacts()
MISSING = deny(ReasonCode.DECISION_MISSING)
# The JWS algorithm names (RFC 7518): a refused token's `alg` is kept when it is one of them.
JWS_ALGORITHMS = frozenset(
    "HS256 HS384 HS512 RS256 RS384 RS512 ES256 ES384 ES512 PS256 PS384 PS512 EdDSA none".split()
)
_STR_FIELDS = tuple(f.name for f in fields(AccessEvent) if f.type in (str, "str"))
_TUPLE_FIELDS = tuple(f.name for f in fields(AccessEvent) if str(f.type).startswith("tuple"))


@dataclass(slots=True)
class RequestAudit:
    request_id: str
    trace_id: str
    method: str
    text_key: bytes = b""  # keys the hashed forms of caller text
    vocabulary: frozenset[str] = field(default_factory=frozenset)  # known parameter names
    client_address: str = ""  # its recorded form (api.http.client_address), pseudonymised later
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
    _probed: tuple[str, ...] = ()

    def target(self, action: str, resource_type: str = "") -> None:
        self._action, self._resource_type = action, resource_type

    def asked(self, param_names: Iterable[str], known: Collection[str] | None = None) -> None:
        """The parameter names (never values): those in `known` (default: the app's
        vocabulary) as they are, others hashed and counted."""
        allowed = self.vocabulary if known is None else known
        self._query_params = recorded_names(param_names, allowed, self.text_key)

    def word(self, text: str, known: Collection[str]) -> str:
        """`text` if it is in `known`, else its bounded hashed form (for a path segment the
        caller chose, e.g. a resource type this server does not serve)."""
        return recorded_word(text, known, self.text_key)

    def subject(self, resource_id: str = "", patient_id: str = "") -> None:
        """The resource ("Type/id") and the patient the request is about, once resolved."""
        self._subject_resource, self._subject_patient = resource_id, patient_id

    def under_policy(self, version: str) -> None:
        self._policy_version = version

    def authenticated(self, principal: Principal) -> None:
        self._principal = principal

    def token_refused(self, token: TokenFacts) -> None:
        """What a refused token claimed (anyone's text): a JWS algorithm name and a plain
        key id as they are, anything else hashed."""
        alg = recorded_word(token.alg, JWS_ALGORITHMS, self.text_key)
        kid = recorded_kid(token.kid, self.text_key)
        self._refused_token = TokenFacts(alg, kid, token.jti, token.token_type)

    def granted(self, verdict: Verdict, scopes_used: tuple[str, ...]) -> None:
        self._grant, self._scopes_used = verdict, scopes_used

    def probed(self, patient_ids: Iterable[str]) -> None:
        """Patients the request's search named outside the caller's reach (raw ids)."""
        self._probed = tuple(sorted(set(patient_ids)))

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
        return _bounded(
            AccessEvent(
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
                client_address=self.client_address,
                token_type=p.token_type if p else token.token_type,
                idp_product=p.idp_product if p else "",
                idp_version=p.idp_version if p else "",
                probed_patient_ids=self._probed,
            )
        )

    def _patient_ids(self, disclosed: Disclosure) -> tuple[str, ...]:
        subject = {self._subject_patient} if self._subject_patient else set()
        return tuple(sorted(disclosed.patient_ids | subject))

    def _resource_ids(self, disclosed: Disclosure) -> tuple[str, ...]:
        if not self._subject_resource:
            return disclosed.resource_ids
        return (self._subject_resource, *disclosed.resource_ids)


def _bounded(event: AccessEvent) -> AccessEvent:
    """Every string of the event at most MAX_FIELD characters (api.http.caller_text)."""
    changes: dict[str, object] = {}
    for name in _STR_FIELDS:
        value = getattr(event, name)
        if len(value) > MAX_FIELD:
            changes[name] = bounded(value)
    for name in _TUPLE_FIELDS:
        values = getattr(event, name)
        if any(len(value) > MAX_FIELD for value in values):
            changes[name] = tuple(bounded(value) for value in values)
    return replace(event, **changes) if changes else event  # type: ignore[arg-type]

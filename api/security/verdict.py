"""Access decisions as values (pure): each step of a request answers with a Verdict, and the
steps combine into the one verdict the request's evidence records.

The steps, in the order a request meets them: the token (a refusal, or nothing to say), the
grant (the guard's access plan for the interaction on the type), the resource's own verdict
(judged from that grant for one stored resource), then what the rest of the request found
(a refusal such as a missing resource or an invalid cursor, or results partly withheld).

`combine(earlier, later)`:
- an earlier deny stands: once a step denied, later steps neither soften it nor add to why
  (a hidden resource answers 404 like a missing one, and still records its real reason);
- a resource's own verdict (`replaces_grant`) replaces what came before it: it was judged
  from the grant and states the whole answer for that resource (visible: the grant's
  reasons; hidden: why, e.g. `scope.granted` + `compartment.outside`);
- otherwise the more severe decision wins (deny > partial > allow) and the reasons add up,
  earlier ones first, each once.
"""

from dataclasses import dataclass

from evidence.core import Decision, ReasonCode

__all__ = [
    "ALLOWED",
    "PUBLIC",
    "Verdict",
    "allow",
    "combine",
    "deny",
    "partial",
    "resource_denied",
]

SEVERITY = {Decision.ALLOW: 0, Decision.PARTIAL: 1, Decision.DENY: 2}


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    reasons: tuple[str, ...] = ()
    replaces_grant: bool = False  # a resource's own verdict, judged from the grant

    @property
    def denies(self) -> bool:
        return self.decision is Decision.DENY


def _unique(reasons: tuple[str, ...]) -> tuple[str, ...]:
    """The reasons in order, each once, as plain strings, empty ones dropped."""
    return tuple(dict.fromkeys(str(r) for r in reasons if r))


def allow(*reasons: str) -> Verdict:
    return Verdict(Decision.ALLOW, _unique(reasons))


def partial(*reasons: str) -> Verdict:
    return Verdict(Decision.PARTIAL, _unique(reasons))


def deny(*reasons: str) -> Verdict:
    return Verdict(Decision.DENY, _unique(reasons))


def resource_denied(*reasons: str) -> Verdict:
    """A resource's own deny, judged from the grant: it replaces the grant's verdict."""
    return Verdict(Decision.DENY, _unique(reasons), replaces_grant=True)


ALLOWED = allow()  # a step with nothing to add (e.g. a page served whole)
PUBLIC = allow(ReasonCode.PUBLIC_ENDPOINT)


def combine(earlier: Verdict | None, later: Verdict) -> Verdict:
    """The request's verdict after one more step (see the module docstring)."""
    if earlier is None or later is earlier:
        return later
    if earlier.denies:
        return earlier
    if later.replaces_grant:
        return later
    decision = max(earlier.decision, later.decision, key=SEVERITY.__getitem__)
    reasons = _unique(earlier.reasons + later.reasons)
    if decision is earlier.decision and reasons == earlier.reasons:
        return earlier  # nothing new (e.g. an allowed page after the grant)
    return Verdict(decision, reasons)

"""One fault scenario under paced load: warm up, inject the fault, drive a known alert,
measure the recovery, then judge the evidence of every answered request."""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.deployment.evidence import Verdict, check_evidence, wait_alert, wait_recovered
from tests.deployment.harness import Deployment
from tests.deployment.load import Load, denied_burst

RECOVERY_BOUND_S = 60.0  # evidence complete again within this of the fault's end


@dataclass(frozen=True)
class Outcome:
    name: str
    recovery_s: float
    answered: int
    unanswered: int
    verdict: Verdict
    alert: dict[str, Any]

    def summary(self) -> str:
        v = self.verdict
        return (f"[fault] {self.name}: evidence complete {self.recovery_s:.1f}s after the "
                f"fault ended; {self.answered} answered ({self.unanswered} unanswered), "
                f"{len(v.missing)} missing, {len(v.duplicated)} duplicated, "
                f"{v.redelivered} redelivered across workers")  # fmt: skip


def live_replicas(deployment: Deployment) -> Callable[[], list[tuple[str, str]]]:
    """The load balancer's view: replicas that became ready and are not being stopped."""
    return lambda: [(p.name, p.url) for p in deployment.apis if p.serving]


def under_fault(
    deployment: Deployment,
    name: str,
    fault: Callable[[Deployment], None],
    rate: float = 25.0,
    warm_s: float = 3.0,
    after_s: float = 2.0,
) -> Outcome:
    """`fault` runs under load and returns when the fault has ended."""
    prober = f"prober-{uuid.uuid4().hex[:6]}"
    with Load(deployment.issuer, live_replicas(deployment), rate=rate) as load:
        time.sleep(warm_s)
        fault(deployment)
        ended = time.monotonic()
        probes = denied_burst(deployment.issuer, live_replicas(deployment)()[0][1], prober)
        waited = wait_recovered(deployment, RECOVERY_BOUND_S)
        recovery = time.monotonic() - ended if waited else 0.0
        time.sleep(after_s)
    alert = wait_alert(deployment, "denied_burst", prober)
    wait_recovered(deployment, RECOVERY_BOUND_S)  # the load's tail
    answered = [a.request_id for a in load.answered()] + probes
    verdict = check_evidence(deployment, answered)
    outcome = Outcome(name, recovery, len(answered), load.unanswered, verdict, alert)
    print(outcome.summary())
    return outcome


def assert_exact(outcome: Outcome) -> None:
    v = outcome.verdict
    assert not v.missing, f"{len(v.missing)} answered requests without evidence: {v.missing[:5]}"
    assert not v.duplicated, f"{len(v.duplicated)} with duplicate evidence: {v.duplicated[:5]}"
    assert outcome.recovery_s <= RECOVERY_BOUND_S, outcome.summary()
    assert outcome.alert["kind"] == "denied_burst"

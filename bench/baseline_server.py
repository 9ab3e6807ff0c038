"""The benchmark baseline: the same app and routes with guardrails and audit switched off.

Never a product mode: it lives under bench/ and trusts every request as a system principal.
Run from the repository root: `python -m bench.baseline_server --port 8099`.
"""

import argparse
import dataclasses

import uvicorn
from fastapi import FastAPI

from api.access.guard import Guard
from api.boot.app import create_app
from api.boot.runtime import build_runtime
from api.security.access import AccessPlan, PatientReach, Reach
from api.security.principal import Principal
from api.security.scopes import parse_scope
from api.settings import Settings
from evidence.store import EvidenceStore

OPEN_SCOPE = parse_scope("system/*.cruds")
if OPEN_SCOPE is None:
    raise RuntimeError("system/*.cruds does not parse")
BASELINE = Principal(sub="baseline", issuer="baseline", scopes=(OPEN_SCOPE,))
EVERYTHING = AccessPlan(True, PatientReach(Reach.ALL), frozenset(), (), ())


class OpenGuard(Guard):
    """Checks nothing: every caller is a system principal that may see everything."""

    def authenticate(self, authorization: str, token_in_url: bool = False) -> Principal:
        return BASELINE

    def throttle(self, principal: Principal) -> None:
        return None

    def authorize(self, principal: Principal, resource_type: str, interaction: str) -> AccessPlan:
        return EVERYTHING


def baseline_app(settings: Settings, store: EvidenceStore | None = None) -> FastAPI:
    """The app with the open guard everywhere and the audit never recorded."""
    runtime = build_runtime(settings, demo_data=True, store=store, inline=False)
    services, guard = runtime.services, runtime.services.guard
    open_guard = OpenGuard(guard._keys, guard._policy, services.fhir.data)
    runtime.services = dataclasses.replace(
        services,
        guard=open_guard,
        fhir=dataclasses.replace(services.fhir, guard=open_guard),
        auditing=dataclasses.replace(services.auditing, guard=open_guard),
    )
    return create_app(runtime, record_evidence=False)


def worker_app() -> FastAPI:
    """One of several baseline processes (--workers N): the FHIR data is loaded already
    (the benchmark copies it in), and the evidence store, never read here, is not opened
    (chDB allows one process per store): a store bridge to nowhere stands in."""
    from evidence.store.remote import remote_store

    return baseline_app(Settings(), store=remote_store("/nonexistent/store.sock", b"-"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if args.workers > 1:
        uvicorn.run(
            "bench.baseline_server:worker_app",
            factory=True,
            workers=args.workers,
            host="127.0.0.1",
            port=args.port,
            access_log=False,
            log_level="warning",
        )
        return
    app = baseline_app(Settings())
    uvicorn.run(app, host="127.0.0.1", port=args.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()

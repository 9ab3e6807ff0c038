"""The benchmark baseline: the same app and routes with guardrails and audit switched off.

Never a product mode: it lives under bench/ and trusts every request as a system principal.
Run from the repository root: `python -m bench.baseline_server --port 8099`.
"""

import argparse

import uvicorn
from starlette.requests import Request

from api.access.guard import Guard
from api.boot.app import create_app
from api.boot.runtime import build_runtime
from api.security.access import AccessPlan, PatientReach, Reach
from api.security.principal import Principal
from api.security.scopes import parse_scope
from api.settings import Settings

OPEN_SCOPE = parse_scope("system/*.cruds")


class OpenGuard(Guard):
    """Checks nothing: every caller is a system principal that may see everything."""

    def authenticate(self, request: Request) -> Principal:
        assert OPEN_SCOPE is not None
        return Principal(sub="baseline", issuer="baseline", scopes=(OPEN_SCOPE,))

    def authorize(
        self, request: Request, principal: Principal, resource_type: str, interaction: str
    ) -> AccessPlan:
        return AccessPlan(True, PatientReach(Reach.ALL), frozenset(), (), ())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    settings = Settings()
    runtime = build_runtime(settings, demo_data=True, inline=False)
    guard = runtime.services.guard
    runtime.services.guard = OpenGuard(guard._keys, guard._policy, runtime.services.repository)
    app = create_app(runtime, record_evidence=False)
    uvicorn.run(app, host="127.0.0.1", port=args.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()

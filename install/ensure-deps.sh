#!/bin/sh
# Installs the project's npm dependencies, Node 24 runtime included, when they
# are missing, so that `npm test` and `npm start` work on a fresh clone.
# The lockfile pins better-sqlite3 13 (prebuilt, Node >= 22); installing
# from the lockfile keeps the system's older Node from picking older majors.
set -eu
cd "$(dirname "$0")/.."
if [ -x node_modules/.bin/node ] && [ -x node_modules/.bin/uvu ] && [ -d node_modules/better-sqlite3 ]; then
  exit 0
fi
echo "installing dependencies (npm ci) ..." >&2
npm ci --no-audit --no-fund

#!/bin/sh
# Runs the test files with a temporary directory of their own, removed when
# they end: every test that makes a hub's data directory, a journal or a
# certificate makes it under TMPDIR, and a full run left hundreds of them in
# /tmp before. Tests that fail leave theirs only if KEEP_TEST_TMP=1 is set.
set -u
cd "$(dirname "$0")/.."
dir=$(mktemp -d "${TMPDIR:-/tmp}/muster-test-XXXXXX") || exit 1
# The project's Node 24 first (npm puts it there too): uvu runs the .ts files on it.
PATH="$PWD/node_modules/.bin:$PATH" TMPDIR=$dir uvu test "${1:-\.test\.ts$}"
rc=$?
if [ "${KEEP_TEST_TMP:-0}" = 1 ] && [ "$rc" -ne 0 ]; then
  echo "the tests' temporary files are kept in $dir" >&2
else
  rm -rf "$dir"
fi
exit "$rc"

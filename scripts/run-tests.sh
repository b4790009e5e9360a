#!/usr/bin/env bash
# README command 2: set up .venv (idempotent) and run the whole test suite.
#   bash scripts/run-tests.sh            (extra arguments go to pytest, e.g. -m "not slow" or -k contract)
#   THINKACT_TEST_WORKERS=1 bash scripts/run-tests.sh    (one process; default: 2 pytest-xdist worker processes)
# 2 workers for this machine's 2 cores (each worker's torch gets its share of them, tests/conftest.py). --dist loadfile:
# a test module is one unit on one worker, so the fixtures its tests share (a server, a trained model, a project
# they run on in order) are made once; --no-loadscope-reorder keeps conftest's order, the longest modules first.
# About 10 minutes on 2 cores (docs/experiments.md, "Test suite time").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-env.sh 2> >(grep -v "^WARNING: Location 'file:" >&2)
source scripts/env.sh
workers=${THINKACT_TEST_WORKERS:-2}
if [ "$workers" -gt 1 ]; then
  exec python -m pytest -n "$workers" --dist loadfile --no-loadscope-reorder "$@"
fi
exec python -m pytest "$@"

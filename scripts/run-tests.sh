#!/usr/bin/env bash
# README command 2: set up .venv (idempotent) and run the whole test suite.
#   bash scripts/run-tests.sh            (extra arguments go to pytest, e.g. -m "not slow" or -k contract)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-env.sh 2> >(grep -v "^WARNING: Location 'file:" >&2)
source scripts/env.sh
exec python -m pytest "$@"

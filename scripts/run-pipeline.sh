#!/usr/bin/env bash
# README command 1: set up .venv (idempotent) and run the main job end to end on the built-in default.
#   bash scripts/run-pipeline.sh
#   THINKACT_PROFILE=smollm2 bash scripts/run-pipeline.sh     # a named profile (profiles/<name>.yaml, docs/profiles.md)
# The built-in data set (checked against the md5 pinned in data.dvc), then the Prefect flow (flows/pipeline.py),
# which runs every stage of dvc.yaml in order through `dvc repro --single-item` (validate -> sft -> grpo ->
# evaluate -> register): an unchanged stage is skipped, so a second run takes seconds. One MLflow parent run per
# pipeline run, each stage a child run. Ends with the summary (flows/summary.py, at most 40 lines): the stages
# with their times, the headline table in %, the promotion decision, the MLflow run, next steps; then the Prefect UI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-env.sh 2> >(grep -v "^WARNING: Location 'file:" >&2)
source scripts/env.sh
start=$(date +%s)
profile="${THINKACT_PROFILE:-default}"
if [ "$profile" != default ]; then  # its params and pipeline, written from params.yaml + profiles/<name>.yaml
  synced=$(thinkact profile sync "$profile") || exit 1   # a bad name or key: one line (above), nothing run
  echo "[profile] $profile: $synced"
fi

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

mlflow_ui="mlflow ui --backend-store-uri sqlite:///mlflow/mlflow.db  (then http://127.0.0.1:5000)"
if [ -n "${MLFLOW_TRACKING_URI:-}" ]; then  # shown with its credentials redacted (read from the env, not argv)
  mlflow_ui="$(python -c 'import os; from thinkact.tracking import redact_uri; print(redact_uri(os.environ["MLFLOW_TRACKING_URI"]))')"
fi
prefect_ui="PREFECT_HOME=.prefect prefect server start  (then http://127.0.0.1:4200)"
if [ -n "${PREFECT_API_URL:-}" ]; then prefect_ui="${PREFECT_API_URL%/api}"; fi

echo "[pipeline] Prefect flow thinkact-pipeline over dvc.yaml's stages (profile $profile):" \
     "$(python -c 'import yaml; print(" -> ".join(yaml.safe_load(open("dvc.yaml"))["stages"]))')"
if ! python -m flows.pipeline; then
  echo "[failed] the pipeline stopped; the failing stage's output is above." >&2
  echo "  Prefect UI (flow run, task logs): $prefect_ui" >&2
  echo "  MLflow UI (the failed 'pipeline' run and its children): $mlflow_ui" >&2
  exit 1
fi

echo "  Prefect UI: $prefect_ui (flow 'thinkact-pipeline': a task per stage with its logs, this summary as an artifact)"
echo "[done] main job finished in $(( $(date +%s) - start )) s"

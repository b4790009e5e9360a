# Sourced by the run scripts: offline switches and telemetry off (DESIGN.md), local state folders.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true DVC_NO_ANALYTICS=1 GX_ANALYTICS_ENABLED=false
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_HOME=${PREFECT_HOME:-$PWD/.prefect}
export TOKENIZERS_PARALLELISM=false
export PATH="$PWD/.venv/bin:$PATH"
# pyenv's exec wrapper exports these; DVC then "repairs" PATH by dropping its first two entries (dvc.utils.fix_env),
# which here are .venv/bin, and stages would run on pyenv's python. Unset, the venv stays first for every stage.
unset PYENV_DIR PYENV_HOOK_PATH

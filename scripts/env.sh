# Sourced by the run scripts: offline switches and telemetry off (docs/design.md), local state folders.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true DVC_NO_ANALYTICS=1 GX_ANALYTICS_ENABLED=false
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_HOME=${PREFECT_HOME:-$PWD/.prefect}
export TOKENIZERS_PARALLELISM=false
_venv=${THINKACT_VENV:-.venv}  # as scripts/setup-env.sh: THINKACT_VENV points the scripts at another virtual env
case $_venv in /*) ;; *) _venv=$PWD/$_venv ;; esac
export PATH="$_venv/bin:$PATH"
unset _venv
# pyenv's exec wrapper exports these; DVC then "repairs" PATH by dropping its first two entries (dvc.utils.fix_env),
# which here are .venv/bin, and stages would run on pyenv's python. Unset, the venv stays first for every stage.
unset PYENV_DIR PYENV_HOOK_PATH

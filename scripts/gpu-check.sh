#!/usr/bin/env bash
# GPU machine check (issue #16 item 6), offline, under 8 minutes on one GPU:
#   1 gpu        nvidia-smi -L, each CUDA device (name, memory, bf16, peak), torch/transformers/trl/accelerate/vllm
#   2 gpu_tests  python -m pytest -q -p no:cacheprovider -m gpu tests/
#   3 sft        bf16 SFTTrainer smoke on a random-initialised Qwen3-0.6B-shaped model: tokens/s and MFU
#     grpo       GRPOTrainer smoke (transformers generate, trivial length reward): generation tokens/s
#   4 vllm       vLLM generation tokens/s (skipped when vLLM is not installed)
#   5 sft_2proc  accelerate launch --num_processes 2 of the SFT smoke (skipped with fewer than 2 GPUs)
# One line per step; the full output of steps 2-5 goes to a log each (printed path); the summary JSON goes to
# $OUT/gpu-check.json when OUT is set, else ./gpu-check.json.
# Exit codes: 0 every step passed or did not apply; 1 a step failed or ran out of time; 2 missing packages (only
# step 1 ran); 3 no CUDA GPU (only step 1 ran). Logic and details: scripts/gpu_check.py.
# Knobs: GPU_CHECK_BUDGET_S (whole-script budget, default 450 s), GPU_CHECK_KEEP=1 (keep the work folder),
# GPU_CHECK_VLLM_EAGER=0 (vLLM with CUDA graphs: faster decoding, slower start).
set -u
START=$(date +%s)
CALLER_DIR=$PWD
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
# shellcheck source=scripts/env.sh
source scripts/env.sh  # offline switches (HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE, HF_DATASETS_OFFLINE), the venv
export VLLM_NO_USAGE_STATS=1 PYTHONUNBUFFERED=1

BUDGET=${GPU_CHECK_BUDGET_S:-450}
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"; SUMMARY=$OUT/gpu-check.json; LOGS=$OUT/gpu-check-logs
else
  SUMMARY=$CALLER_DIR/gpu-check.json; LOGS=""
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
LOGS=${LOGS:-$WORK/logs}
mkdir -p "$LOGS"
cleanup() {
  if [ "${GPU_CHECK_KEEP:-0}" = 1 ]; then return; fi
  # keep the logs when they live in the work folder; drop the models and trainer outputs
  if [ "$LOGS" = "$WORK/logs" ]; then find "$WORK" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
  else rm -rf "$WORK"; fi
}
trap cleanup EXIT

PY=$(command -v python || true)
if [ -z "$PY" ]; then
  echo "[gpu-check] 1 gpu: missing — no python on PATH (run: bash scripts/setup-env.sh)"
  printf '{"verdict": "missing packages", "exit_code": 2, "missing": ["python"]}\n' >"$SUMMARY"
  exit 2
fi
CHECK=("$PY" "$ROOT/scripts/gpu_check.py")

remaining() { echo $(( BUDGET - ($(date +%s) - START) )); }

# run_step INDEX NAME LIMIT_S KIND SHOW CMD...: CMD under `timeout` (its limit, cut to what is left of the budget),
# output to $LOGS/NAME.log (also to the screen when SHOW=1); then its one-line result. Returns CMD's exit code.
run_step() {
  local index=$1 name=$2 limit=$3 kind=$4 show=$5; shift 5
  local left; left=$(remaining)
  if [ "$left" -lt 20 ]; then
    # a step the budget cut off counts as a timeout: the check is incomplete
    "${CHECK[@]}" record "$index" "$name" --work "$WORK" --status timeout \
      --skip "not run: the ${BUDGET} s budget is spent"
    return 124
  fi
  [ "$limit" -gt $(( left - 10 )) ] && limit=$(( left - 10 ))
  local log=$LOGS/$name.log t0 rc
  t0=$(date +%s.%N)
  if [ "$show" = 1 ]; then
    timeout --kill-after=15 "$limit" "$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
  else
    timeout --kill-after=15 "$limit" "$@" >"$log" 2>&1; rc=$?
  fi
  local secs; secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  "${CHECK[@]}" record "$index" "$name" --work "$WORK" --rc "$rc" --secs "$secs" --limit "$limit" --log "$log" \
    --kind "$kind"
  return "$rc"
}

finish() {
  "${CHECK[@]}" summary --work "$WORK" --out "$SUMMARY" --secs "$(( $(date +%s) - START ))" --budget "$BUDGET"
  exit $?
}

echo "[gpu-check] offline (HF_HUB_OFFLINE=$HF_HUB_OFFLINE), budget ${BUDGET} s, logs in $LOGS"
# 1: what the machine has; stops here without the stack (2) or without a CUDA GPU (3)
run_step 1 gpu 90 python 1 "${CHECK[@]}" info --result "$WORK/gpu.json" --env "$WORK/info.env"
rc=$?
if [ "$rc" -ne 0 ]; then finish; fi
GPU_COUNT=0; HAS_VLLM=0
# shellcheck disable=SC1091
source "$WORK/info.env"

# 2: the gpu-marked tests (tests/conftest.py skips them without CUDA)
run_step 2 gpu_tests 150 pytest 0 "$PY" -m pytest -q -p no:cacheprovider -m gpu tests/

# 3: SFT and GRPO smokes on a random Qwen3-0.6B-shaped model
run_step 3 sft 100 python 0 "${CHECK[@]}" sft --work "$WORK" --result "$WORK/sft.json"
run_step 3 grpo 100 python 0 "${CHECK[@]}" grpo --work "$WORK" --result "$WORK/grpo.json"

# 4: vLLM
if [ "$HAS_VLLM" = 1 ]; then
  run_step 4 vllm 150 python 0 "${CHECK[@]}" vllm --work "$WORK" --result "$WORK/vllm.json"
else
  "${CHECK[@]}" record 4 vllm --work "$WORK" --skip "vLLM not installed: skipped"
fi

# 5: two processes
if [ "$GPU_COUNT" -ge 2 ]; then
  run_step 5 sft_2proc 100 python 0 accelerate launch --num_processes 2 --num_machines 1 --mixed_precision bf16 \
    --dynamo_backend no "$ROOT/scripts/gpu_check.py" sft --name sft_2proc --steps 20 --work "$WORK" \
    --result "$WORK/sft_2proc.json"
else
  "${CHECK[@]}" record 5 sft_2proc --work "$WORK" --skip "$GPU_COUNT GPU: 2-process check skipped"
fi
finish

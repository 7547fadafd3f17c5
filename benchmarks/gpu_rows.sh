#!/usr/bin/env bash
# Every GPU row of issue 18 in one command, about 5 minutes on one recent GPU (each
# part has its own time limit, 10 minutes at most in all):
#
#     bash benchmarks/gpu_rows.sh [OUT_DIR]        # default OUT_DIR: benchmarks/results
#
# - DeAOT-T and DeAOT-L at 481x849, fp32 and AMP, CUDA events, with the paper's V100
#   figures (63.5 / 28.5 fps) beside them          -> OUT_DIR/deaot_gpu.txt
# - rank_of_targets at MVK scale (4,000 x 43,797 x 512) vs a bare matmul on the GPU
#                                                   -> OUT_DIR/kis_gpu.txt
# - F.scaled_dot_product_attention backends vs the from-scratch path, 1k-16k tokens,
#   bf16, achieved TFLOP/s against the bf16 matmul peak measured in the same run
#                                                   -> OUT_DIR/attention_gpu.txt
# - training steps/s of the VOS networks (issue 14's benchmark)
#                                                   -> OUT_DIR/train_vos_gpu.txt
# Each file starts with the card's name (nvidia-smi) and the command.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-benchmarks/results}
mkdir -p "$out"
python - <<'PY' || exit 1
import sys, torch
if not torch.cuda.is_available():
    sys.exit("gpu_rows.sh: no CUDA device; nothing measured")
print("card:", torch.cuda.get_device_name(), "| torch", torch.__version__)
PY
card=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true)
status=0
run() {  # run NAME SECONDS COMMAND...
    local name=$1 limit=$2; shift 2
    local file="$out/${name}_gpu.txt"
    { echo "\$ $*   # $(date -u +%Y-%m-%d) on ${card:-a CUDA device}"; } > "$file"
    echo "== $name (at most ${limit} s): $*"
    timeout "$limit" "$@" 2>&1 | grep -v '^USDT' | tee -a "$file"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ]; then echo "!! $name exited with $rc" | tee -a "$file"; status=1; fi
}
run deaot 180 python benchmarks/deaot.py --no-cpu --variants deaot-t deaot-l --frames 30
run kis 90 python benchmarks/kis.py --repeat 5
run attention 150 python benchmarks/attention.py --device cuda --dtype bfloat16 \
    --lengths 1024 2048 4096 8192 16384 --skip-mha
if [ -f benchmarks/train_vos.py ]; then
    run train_vos 150 python benchmarks/train_vos.py --repeat 5
fi
exit $status

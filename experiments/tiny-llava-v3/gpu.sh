#!/bin/sh
# The v3 model's GPU recipe, for one call of the device tool on an H200 (from the repo root):
#
#   sh experiments/tiny-llava-v3/gpu.sh [TRAIN_MINUTES] [TRAIN_SCENES] [EVAL_SCENES]
#
# (run it with timeout_s 540; defaults 5.5 minutes of training on 20000 scenes, 200 test scenes). It makes the
# rich scenes itself (scenes.py; the machine has no Deno), trains with as many steps as fit the
# minutes (--steps 0: the schedule is sized after timing steps 20-60), evaluates 200 held-out
# scenes, checks that HF transformers loads the export as shipped, and leaves in $OUT (the
# device tool's output folder; at most 8 files of 16 MB come back):
#   checkpoint.tar  the llava-hf export (checkpoint/, ~11 MB)
#   train_log.csv   step, losses, lr, seconds
#   eval.json       held-out scores (PyTorch greedy)
#   run.log         everything printed
#   state.pt.part-* the training state (model + optimiser) in 15 MB parts, to resume:
#                   cat state.pt.part-* > data/state/latest.pt
set -eu
MINUTES=${1:-5.5}
SCENES=${2:-20000}
EVAL=${3:-200}
CORES=$(nproc)
THREADS=$((CORES < 8 ? CORES : 8))
: "${OUT:?run this through the device tool, which sets OUT}"
HERE=experiments/tiny-llava-v3
WORK=/tmp/v3
mkdir -p "$WORK/data/state"
export PYTHONUNBUFFERED=1
if [ -n "$(ls "$HERE"/state.pt.part-* 2>/dev/null)" ]; then
  cat "$HERE"/state.pt.part-* >"$WORK/data/state/latest.pt" # resume a carried state
fi
{
  nvidia-smi -L || echo "no nvidia-smi: training on $(python3 -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')"
  python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__, "cuda", torch.cuda.is_available())'
  python3 "$HERE/train.py" --estimate
  python3 "$HERE/train.py" --data "$WORK/data" --out "$WORK" --steps 0 --max-minutes "$MINUTES" \
    --train-scenes "$SCENES" --workers "$CORES" --threads "$THREADS" --eval-scenes "$EVAL" --check-hf
} 2>&1 | tee "$OUT/run.log"
tar -C "$WORK" -cf "$OUT/checkpoint.tar" checkpoint
cp "$WORK/train_log.csv" "$WORK/eval.json" "$OUT/"
split -b 15M "$WORK/data/state/latest.pt" "$OUT/state.pt.part-"
ls -la "$OUT"

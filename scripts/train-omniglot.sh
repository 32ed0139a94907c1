#!/usr/bin/env bash
# The command that made the bundled `omniglot` model (src/siamnet/models/bundled/omniglot.*).
# Trains only on ../shared/datasets/omniglot/images_background, holding out 5 of its 30 alphabets
# (chosen by the seed) for validation; 20-way within-alphabet one-shot episodes on them pick the
# best epoch. Recipe: batch-hard triplets with the margin in Euclidean distance on L2-normalised
# encodings, rotations as extra classes, Koch's affine distortions, a 4-block conv net (128
# filters) at 56x56. On one H100 it took about 3 minutes (45 epochs, ~20k images/s); the same
# command runs on a CPU, much slower (hours on 2 cores).
# Usage: bash scripts/train-omniglot.sh [OUT_DIR] [extra siamnet train options]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/omniglot}"; shift || true
DATA="${SIAMNET_DATA:-$(cd .. && pwd)/shared/datasets}/omniglot/images_background"
siamnet train --data "$DATA" --invert --rotations --val-group-count 5 --seed 0 --no-progress --workers 5 \
    --miner batch-hard --distance euclidean --margin 0.3 --input-size 56 --channels 128 --p 64 --k 4 \
    --epochs 45 --patience 12 \
    --terms "Omniglot (Lake, Salakhutdinov & Tenenbaum 2015), MIT License; cite Lake et al. (2015)" \
    --out "$OUT" --name omniglot "$@"
python scripts/bundle_model.py "$OUT/model" omniglot

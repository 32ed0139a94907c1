#!/usr/bin/env bash
# The command that made the bundled `omniglot-pair` model: the same data, split, encoder and
# augmentation as `omniglot`, trained with the binary pair objective instead of triplets
# (|f(x1) − f(x2)| → one sigmoid unit, binary cross-entropy on balanced in-batch pairs).
# Usage: bash scripts/train-omniglot-pair.sh [OUT_DIR] [extra siamnet train options]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/omniglot-pair}"; shift || true
DATA="${SIAMNET_DATA:-$(cd .. && pwd)/shared/datasets}/omniglot/images_background"
siamnet train --data "$DATA" --out "$OUT" --name omniglot-pair --invert --rotations --val-group-count 5 \
    --objective pair --epochs 8 --patience 4 --seed 0 --no-progress \
    --terms "Omniglot (Lake, Salakhutdinov & Tenenbaum 2015), MIT License; cite Lake et al. (2015)" "$@"
python scripts/bundle_model.py "$OUT/model" omniglot-pair

#!/usr/bin/env bash
# The command that made the bundled `omniglot-pair` model: the binary pair head (|f(x1) - f(x2)|
# -> one sigmoid unit, binary cross-entropy on balanced pairs) on the same encoder, data split
# and augmentation as `omniglot`, for the side-by-side comparison of the two objectives.
# On one H100 about 2 minutes; the same command runs (slower) on a CPU.
# Usage: bash scripts/train-omniglot-pair.sh [OUT_DIR] [extra siamnet train options]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/omniglot-pair}"; shift || true
DATA="${SIAMNET_DATA:-$(cd .. && pwd)/shared/datasets}/omniglot/images_background"
siamnet train --data "$DATA" --invert --rotations --val-group-count 5 --seed 0 --no-progress --workers 8 \
    --objective pair --input-size 56 --channels 128 --p 64 --k 4 --epochs 25 --patience 8 \
    --terms "Omniglot (Lake, Salakhutdinov & Tenenbaum 2015), MIT License; cite Lake et al. (2015)" \
    --out "$OUT" --name omniglot-pair "$@"
python scripts/bundle_model.py "$OUT/model" omniglot-pair

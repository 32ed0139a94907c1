"""The options of ``siamnet train``, in one place for the two that read them.

:mod:`siamnet.cli` parses them; :func:`siamnet.train.command_from_config` walks them to write,
for a model trained from Python, the command line that asks for the same training.  Kept apart
(argparse only, no torch) so that training does not depend on the command line, and the command
line does not load torch to build its parser.
"""

from __future__ import annotations

import argparse

from .argtypes import positive_int


def add_train_options(t: argparse.ArgumentParser) -> None:
    """Add the options of ``siamnet train`` to a parser."""
    t.add_argument("--data", required=True, help="root/<class>/<image> or root/<group>/<class>/<image>")
    t.add_argument("--out", default="runs/model", help="output folder (checkpoint, best, model)")
    t.add_argument("--name", help="model name written in the card (default: the folder name)")
    t.add_argument("--terms", help="the training data's licence or terms of use, written in the card")
    t.add_argument("--encoder", default="convnet",
                   help="convnet | koch | resnet, or dlib-resnet (dlib's pretrained face ResNet, face extra): fine-tuning")
    t.add_argument("--trainable", help="dlib-resnet: parts left trainable, comma-separated (default level0,fc; "
                   "from stem, level4 .. level0, fc)")
    t.add_argument("--embedding-dim", type=int, default=128)
    t.add_argument("--no-normalize", action="store_true", help="do not L2-normalise the encoding")
    t.add_argument("--input-size", type=positive_int, default=None,
                   help="image side in pixels (default: 105 for koch, as Koch et al.; 28 otherwise)")
    t.add_argument("--mode", default="L", choices=["L", "RGB"])
    t.add_argument("--invert", action="store_true", help="invert grey levels (dark strokes on light paper)")
    t.add_argument("--channels", type=int, default=64, help="convnet width")
    t.add_argument("--objective", default="triplet", choices=["triplet", "pair", "contrastive"])
    t.add_argument("--miner", default="batch-hard", choices=["batch-hard", "semi-hard", "batch-all"])
    t.add_argument("--margin", type=float, default=0.2)
    t.add_argument("--distance", default="squared", choices=["squared", "euclidean"],
                   help="distance the triplet loss and miner measure the margin in (the model's stays squared)")
    t.add_argument("--p", type=int, default=32, help="classes per batch")
    t.add_argument("--k", type=int, default=4, help="images per class in a batch")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batches-per-epoch", type=int)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--no-augment", action="store_true", help="no Koch affine distortions")
    t.add_argument("--flip", action="store_true", help="mirror half the images left-right (faces)")
    t.add_argument("--rotations", action="store_true", help="rotations by 90/180/270° as extra classes")
    t.add_argument("--val-groups", help="comma-separated groups (alphabets) held out for validation")
    t.add_argument("--val-group-count", type=int, default=0, help="hold out this many groups, chosen by the seed")
    t.add_argument("--val-fraction", type=float, default=0.2, help="fraction of classes held out (no groups)")
    t.add_argument("--val-ways", type=int, default=20)
    t.add_argument("--val-shots", type=int, default=1)
    t.add_argument("--val-episodes", type=int, default=400)
    t.add_argument("--patience", type=int, default=5, help="stop after this many epochs without improvement")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    t.add_argument("--init", help="start from this model (path or bundled name): fine-tune it; its card fixes "
                                  "the architecture and preprocessing")
    t.add_argument("--device", default="auto")
    t.add_argument("--workers", type=int, default=4, help="threads reading images")
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--json", action="store_true")

"""Cut a training set out of a chips folder (scripts/prepare_face_chips.py): resized JPEGs of
the training identities only.

    python scripts/face_training_set.py CHIPS OUT [--size 64] [--holdout-from 7400]

CelebA identities >= --holdout-from (7400-7449 calibrate τ, 7450-7499 are held out for
validation) are left out, and so is every identity with fewer than 2 images (a triplet needs
two).  Chips are resized with Lanczos and written as JPEG (quality 92; small enough to copy to a GPU
machine) or, with ``--format png``, losslessly.
"""

import argparse
import shutil
from pathlib import Path

from PIL import Image


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("chips", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--holdout-from", type=int, default=7400)
    ap.add_argument("--format", choices=["jpg", "png"], default="jpg", help="png keeps the chips lossless")
    a = ap.parse_args()
    shutil.rmtree(a.out, ignore_errors=True)
    people = images = 0
    for d in sorted(p for p in a.chips.iterdir() if p.is_dir()):
        if d.name.startswith("celeba-") and int(d.name.split("-")[1]) >= a.holdout_from:
            continue
        files = sorted(d.glob("*.png"))
        if len(files) < 2:
            continue
        (a.out / d.name).mkdir(parents=True)
        for f in files:
            img = Image.open(f)
            if img.size != (a.size, a.size):
                img = img.resize((a.size, a.size), Image.LANCZOS)
            img.save(a.out / d.name / f"{f.stem}.{a.format}", **({"quality": 92} if a.format == "jpg" else {}))
        people, images = people + 1, images + len(files)
    print(f"wrote {a.out}: {images} chips of {people} people at {a.size}x{a.size}")


if __name__ == "__main__":
    main()

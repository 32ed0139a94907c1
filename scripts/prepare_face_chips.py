"""Turn folder-per-person face photos into a folder-per-person dataset of aligned face chips.

    python scripts/prepare_face_chips.py OUT [--size 150] [--data $SIAMNET_DATA] [--encodings]

Reads ``celeba_faces/<id>/*.jpg`` and ``att_faces/s<N>/*.pgm`` (ids prefixed ``celeba-`` and
``att-`` so they never collide), finds the largest face with siamnet's pipeline (dlib HOG +
5 landmarks + dlib's chip alignment, exactly what verify/enroll/identify do), and writes
``OUT/<id>/<image>.png`` (``--size`` pixels square, lossless).  A photo in which no face is
found gets the centre crop that ``siamnet pairs`` uses in that case, and is listed in
``OUT/no_face.txt``.  ``--encodings`` also writes ``OUT/dlib-resnet.npz`` (the bundled
``dlib-resnet`` encodings of every 150x150 chip, its horizontal mirror, the ids and files) for
training top layers on a frozen backbone.  The output is a dataset ``siamnet train --data OUT``
reads as it is.  Shows progress; safe to run again (it rewrites OUT).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm


def sources(data: Path) -> list[tuple[str, Path]]:
    out = []
    for d in sorted((data / "celeba_faces").glob("*/")):
        out += [(f"celeba-{d.name}", f) for f in sorted(d.glob("*.jpg"))]
    for d in sorted((data / "att_faces").glob("s*/"), key=lambda p: int(p.name[1:])):
        out += [(f"att-{int(d.name[1:]):02d}", f) for f in sorted(d.glob("*.pgm"))]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--size", type=int, default=150, help="chip side in pixels (default 150)")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("SIAMNET_DATA", "../shared/datasets")))
    ap.add_argument("--encodings", action="store_true", help="also write OUT/dlib-resnet.npz")
    a = ap.parse_args(argv)

    from siamnet.faces.api import centre_chip
    from siamnet.faces.detect import FacePipeline, load_image

    items = sources(a.data)
    if not items:
        print(f"{a.data}: no celeba_faces/ or att_faces/ images found", file=sys.stderr)
        return 2
    tmp = a.out.with_name(a.out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    pipeline = FacePipeline()
    chips150, ids, files, no_face = [], [], [], []
    for ident, f in tqdm(items, desc="aligning", unit="img"):
        rgb = load_image(f)
        face = pipeline.largest_face(rgb)
        if face is None:
            # tiny grey ATT photos: try once more on a 2x upsampled copy before giving up
            big = np.asarray(Image.fromarray(rgb).resize((rgb.shape[1] * 2, rgb.shape[0] * 2), Image.BICUBIC))
            face = pipeline.largest_face(big)
        if face is None:
            chip = centre_chip(rgb)
            no_face.append(f"{ident}/{f.name}")
        else:
            chip = face.chip
        (tmp / ident).mkdir(exist_ok=True)
        img = Image.fromarray(chip)
        if a.size != chip.shape[0]:
            img = img.resize((a.size, a.size), Image.LANCZOS)
        img.save(tmp / ident / f"{f.stem}.png")
        chips150.append(chip)
        ids.append(ident)
        files.append(f"{ident}/{f.stem}.png")
    (tmp / "no_face.txt").write_text("".join(f"{n}\n" for n in no_face))
    if a.encodings:
        from siamnet.faces.models import load_face_model

        model = load_face_model("dlib-resnet")
        chips = np.stack(chips150)
        enc = np.concatenate([model.encode_items(chips[i:i + 256]) for i in
                              tqdm(range(0, len(chips), 256), desc="encoding", unit="batch")])
        flipped = chips[:, :, ::-1]
        enc_flip = np.concatenate([model.encode_items(np.ascontiguousarray(flipped[i:i + 256])) for i in
                                   tqdm(range(0, len(chips), 256), desc="encoding mirrored", unit="batch")])
        np.savez(tmp / "dlib-resnet.npz", encodings=enc, encodings_mirrored=enc_flip,
                 ids=np.array(ids), files=np.array(files))
    shutil.rmtree(a.out, ignore_errors=True)
    tmp.rename(a.out)
    print(f"wrote {a.out}: {len(files)} chips of {len(set(ids))} people; no face found in {len(no_face)} "
          f"(centre crop used, listed in {a.out / 'no_face.txt'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

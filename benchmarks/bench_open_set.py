"""Open-set identification: with N people enrolled, are strangers reported "unknown"?

    python benchmarks/bench_open_set.py CHIPS [--models dlib-resnet,face-siamese,face-small]
        [--identities 7450-7499] [--enrolled 25] [--shots 5] [--seed 0]

CHIPS is a folder of aligned chips by person (``scripts/prepare_face_chips.py``), e.g.
``celeba-7450/000123.png``.  Of the people in ``--identities`` (held out from every face
model's training and calibration), ``--enrolled`` are enrolled in an in-memory
:class:`siamnet.gallery.Gallery` from ``--shots`` chips each (the encodings computed once and
stored, as ``siamnet enroll`` does); the rest are strangers.  Every other chip of an enrolled
person is a genuine probe, every chip of a stranger an impostor probe; each is identified at
the model card's calibrated τ:

* TAR (true-accept rate, "detection and identification rate"): genuine probes named correctly;
* misidentified: genuine probes given someone else's name;
* FAR (false-accept rate): impostor probes given any enrolled name instead of "unknown".

Prints a table and, last, one JSON line.  Face detection is not part of this measurement
(chips are already aligned): it measures the encoder, τ and the gallery's decision.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chips", type=Path)
    ap.add_argument("--models", default="dlib-resnet,face-siamese,face-small")
    ap.add_argument("--identities", default="7450-7499")
    ap.add_argument("--enrolled", type=int, default=25)
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    from siamnet.faces.models import load_face_model
    from siamnet.gallery import Gallery

    lo, hi = (int(x) for x in a.identities.split("-"))
    people = sorted(d for d in a.chips.glob("celeba-*") if d.is_dir() and lo <= int(d.name.split("-")[1]) <= hi)
    people = [d for d in people if len(list(d.glob("*.png"))) >= 2]
    if len(people) <= a.enrolled:
        print(f"{a.chips}: only {len(people)} people with 2+ chips in {a.identities}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(a.seed)
    order = rng.permutation(len(people))
    enrolled, strangers = [people[i] for i in order[:a.enrolled]], [people[i] for i in order[a.enrolled:]]
    chips = {d.name: np.stack([np.asarray(Image.open(f).convert("RGB")) for f in sorted(d.glob("*.png"))])
             for d in people}
    rows = []
    for name in a.models.split(","):
        model = load_face_model(name)
        enc = {p: model.encode_chips(c) for p, c in chips.items()}
        g = Gallery(":memory:", model=model)
        probes = []
        for d in enrolled:
            e = enc[d.name]
            shots = min(a.shots, len(e) - 1)  # keep at least one probe per enrolled person
            g.enroll_encodings(d.name, e[:shots], [f"{d.name}/{i}" for i in range(shots)])
            probes += [(d.name, v) for v in e[shots:]]
        impostors = [v for d in strangers for v in enc[d.name]]
        right = wrong = 0
        for who, v in probes:
            r = g.identify_encoding(v)
            right += r.known and r.name == who
            wrong += r.known and r.name != who
        accepted = sum(g.identify_encoding(v).known for v in impostors)
        rows.append({"model": name, "threshold": g.threshold, "enrolled_people": len(enrolled),
                     "strangers": len(strangers), "genuine_probes": len(probes),
                     "impostor_probes": len(impostors), "tar": right / len(probes),
                     "misidentified": wrong / len(probes), "far": accepted / len(impostors)})
        g.close()
    print(f"open-set identification, celeba {a.identities}: {len(enrolled)} enrolled (<= {a.shots} chips each), "
          f"{len(strangers)} strangers; τ from each model card")
    print(f"{'model':<14}{'τ':>8}{'TAR':>8}{'misid':>8}{'FAR':>8}{'genuine':>9}{'impostor':>10}")
    for r in rows:
        print(f"{r['model']:<14}{r['threshold']:>8.4f}{r['tar']:>8.3f}{r['misidentified']:>8.3f}{r['far']:>8.3f}"
              f"{r['genuine_probes']:>9}{r['impostor_probes']:>10}")
    print(json.dumps({"identities": a.identities, "seed": a.seed, "results": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

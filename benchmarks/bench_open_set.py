"""Open-set identification: with N people enrolled, are strangers reported "unknown"?

    python benchmarks/bench_open_set.py CHIPS [--models dlib-resnet,OTHER_CARD.json]
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

Thresholds: each model is measured at its card's 1:1 τ (``threshold``, best accuracy on
balanced pairs) and at an identification τ.  ``--calibrate 7400-7449 --target-far 0.01`` picks
that identification τ on *other* people (the calibration identities, enrolled and strangers
split the same way): the loosest τ whose stranger FAR there is at most the target
(:func:`siamnet.evaluate.open_set_threshold`); ``--update-cards`` writes it into the bundled
cards as ``identify_threshold``, which the gallery and the attendance service then use.

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
    ap.add_argument("--models", default="dlib-resnet")
    ap.add_argument("--identities", default="7450-7499")
    ap.add_argument("--enrolled", type=int, default=25)
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calibrate", help="celeba identity range FIRST-LAST to pick the identification τ on")
    ap.add_argument("--target-far", type=float, default=0.01, help="stranger FAR the identification τ allows")
    ap.add_argument("--update-cards", action="store_true", help="write identify_threshold into bundled cards")
    a = ap.parse_args(argv)

    from siamnet.evaluate import open_set_rates, open_set_threshold
    from siamnet.faces.models import BUNDLED, load_face_model
    from siamnet.gallery import Gallery

    def split_people(spec: str):
        lo, hi = (int(x) for x in spec.split("-"))
        found = sorted(d for d in a.chips.glob("celeba-*") if d.is_dir() and lo <= int(d.name.split("-")[1]) <= hi)
        found = [d for d in found if len(list(d.glob("*.png"))) >= 2]
        if len(found) <= a.enrolled:
            raise SystemExit(f"{a.chips}: only {len(found)} people with 2+ chips in {spec}")
        order = np.random.default_rng(a.seed).permutation(len(found))
        return [found[i] for i in order[:a.enrolled]], [found[i] for i in order[a.enrolled:]]

    def read_chips(people):
        return {d.name: np.stack([np.asarray(Image.open(f).convert("RGB")) for f in sorted(d.glob("*.png"))])
                for d in people}

    enrolled, strangers = split_people(a.identities)
    chips = read_chips(enrolled + strangers)
    cal = split_people(a.calibrate) if a.calibrate else None
    cal_chips = read_chips(cal[0] + cal[1]) if cal else {}

    def nearest(model, enc, known, unknown):
        """Through a real in-memory Gallery: (genuine distances, right name?, stranger distances)."""
        g = Gallery(":memory:", model=model, threshold=float("inf"))
        probes = []
        for d in known:
            e = enc[d.name]
            shots = min(a.shots, len(e) - 1)  # keep at least one probe per enrolled person
            g.enroll_encodings(d.name, e[:shots], [f"{d.name}/{i}" for i in range(shots)])
            probes += [(d.name, v) for v in e[shots:]]
        hits = [g.identify_encoding(v) for _, v in probes]
        gd = np.array([h.distance for h in hits])
        right = np.array([h.nearest == who for (who, _), h in zip(probes, hits)])
        sd = np.array([g.identify_encoding(v).distance for d in unknown for v in enc[d.name]])
        g.close()
        return gd, right, sd

    rows = []
    for name in a.models.split(","):
        model = load_face_model(name)
        gd, right, sd = nearest(model, {p: model.encode_items(c) for p, c in chips.items()}, enrolled, strangers)
        row = {"model": name, "enrolled_people": len(enrolled), "strangers": len(strangers),
               "at_card_threshold": open_set_rates(gd, right, sd, model.card.threshold)}
        if cal:
            cal_enc = {p: model.encode_items(c) for p, c in cal_chips.items()}
            _, _, cal_sd = nearest(model, cal_enc, *cal)
            tau = open_set_threshold(cal_sd, a.target_far)
            row["identify_threshold"] = tau
            row["at_identify_threshold"] = open_set_rates(gd, right, sd, tau)
            if a.update_cards:
                path = BUNDLED / f"{name}.json"
                card = json.loads(path.read_text())
                card["identify_threshold"] = tau
                card["identify_threshold_source"] = (
                    f"open-set calibration on celeba identities {a.calibrate}: {len(cal[0])} enrolled "
                    f"(<= {a.shots} chips each), {len(cal[1])} strangers; the loosest τ with stranger FAR <= "
                    f"{a.target_far:g} (benchmarks/bench_open_set.py runs/face-chips --calibrate {a.calibrate} "
                    f"--target-far {a.target_far:g} --update-cards)")
                card.setdefault("metrics", {})["open_set_validation"] = {
                    "identities": a.identities, "enrolled_people": len(enrolled), "strangers": len(strangers),
                    "at_threshold": row["at_card_threshold"], "at_identify_threshold": row["at_identify_threshold"]}
                path.write_text(json.dumps(card, indent=2) + "\n")
        rows.append(row)
    print(f"open-set identification, celeba {a.identities}: {len(enrolled)} enrolled (<= {a.shots} chips each), "
          f"{len(strangers)} strangers")
    print(f"{'model':<14}{'τ':<22}{'τ value':>8}{'TAR':>8}{'misid':>8}{'FAR':>8}{'genuine':>9}{'stranger':>10}")
    for r in rows:
        for label, key in (("card (1:1, best acc.)", "at_card_threshold"),
                           (f"identify (FAR<={a.target_far:g})", "at_identify_threshold")):
            if key in r:
                m = r[key]
                print(f"{r['model']:<14}{label:<22}{m['threshold']:>8.4f}{m['tar']:>8.3f}{m['misidentified']:>8.3f}"
                      f"{m['far']:>8.3f}{m['genuine_probes']:>9}{m['stranger_probes']:>10}")
    print(json.dumps({"identities": a.identities, "calibration_identities": a.calibrate, "target_far": a.target_far,
                      "seed": a.seed, "results": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

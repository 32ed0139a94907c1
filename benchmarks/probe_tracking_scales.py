"""Does a tracker's response prefer the right scale?  (docs/tracking.md, "Why the scales never won")

    PYTHONPATH=src python benchmarks/probe_tracking_scales.py [--model tracker] [--sequences DIR]

For each sequence: the exemplar from frame 0, search regions centred on the ground truth every
10th frame, scored at gains g = 0.8…1.25 (g = 1: the target at its true scale) two ways —
SiamFC's image pyramid (one crop per gain) and the feature-map scales (the unit crop's features
resized by 1/g).  Prints the mean peak prominence (peak − median) per gain and how often each
gain is the best.  A scale-selective model peaks at g = 1 in the image rows.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tracker")
    p.add_argument("--sequences", type=Path, default=Path(os.environ.get("SIAMNET_DATA", "../shared/datasets")) / "tracking")
    args = p.parse_args(argv)
    import torch
    import torch.nn.functional as F

    from siamnet.track import load_tracker
    from siamnet.track.crops import context_size, crop, to_tensor
    from siamnet.track.frames import find_sequences, load_sequence
    from siamnet.track.model import xcorr

    torch.set_num_threads(1)
    net = load_tracker(args.model).net
    gains = np.array([0.8, 0.87, 0.93, 1.0, 1.07, 1.15, 1.25])
    print("gains", " ".join(f"{g:6.2f}" for g in gains))
    for folder in find_sequences(args.sequences):
        frames, gt = load_sequence(folder)
        x, y, w, h = gt[0]
        fill = frames[0].reshape(-1, 3).mean(0)
        with torch.inference_mode():
            k = net.template(to_tensor(crop(frames[0], x + w / 2, y + h / 2, context_size(w, h), 127, fill)))
        img, feat = [], []
        for t in range(5, len(frames), 10):
            b = gt[t]
            if not np.isfinite(b).all():
                continue
            cx, cy, sx = b[0] + b[2] / 2, b[1] + b[3] / 2, context_size(b[2], b[3]) * 255 / 127
            with torch.inference_mode():
                f = net.encoder(to_tensor([crop(frames[t], cx, cy, sx * g, 255, fill) for g in gains]))
                r = (xcorr(k, f) * net.scale + net.bias)[:, 0].numpy()
                img.append([m.max() - np.median(m) for m in r])
                f1, n0, row = f[3:4], f.shape[-1], []
                for g in gains:
                    n = int(round(n0 / g))
                    ff = f1 if n == n0 else F.interpolate(f1, size=(n, n), mode="bilinear", align_corners=False)
                    m = (xcorr(k, ff) * net.scale + net.bias)[0, 0].numpy()
                    row.append(m.max() - np.median(m))
                feat.append(row)
        for name, a in (("image", np.array(img)), ("feature", np.array(feat))):
            print(f"{folder.name[:20]:20s} {name:8s} " + " ".join(f"{v:6.2f}" for v in a.mean(0))
                  + f"  best-gain counts {np.bincount(a.argmax(1), minlength=len(gains)).tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

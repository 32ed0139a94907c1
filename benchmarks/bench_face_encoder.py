"""Faces/s of dlib vs siamnet's PyTorch and ONNX Runtime face encoders, same chips, one run.

    PYTHONPATH=src python benchmarks/bench_face_encoder.py [--chips 128] [--batch 64] [--threads 2]

Chips: aligned 150x150 chips from $SIAMNET_DATA/celeba_faces (dlib HOG + 5 landmarks +
get_face_chip); random pixels if the dataset is absent (throughput does not depend on
content).  Each engine encodes all chips once to warm up, then ``--repeats`` times; the best
time counts.  dlib uses its batch call ``compute_face_descriptor(list_of_chips)``.
Prints a table and, last, one JSON line.  Needs dlib, face_recognition_models, onnxruntime.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chips", type=int, default=128, help="number of chips (default 128)")
    p.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per engine, best counts")
    p.add_argument("--data", type=Path, default=None, help="dataset root (default $SIAMNET_DATA)")
    return p.parse_args(argv)


def load_chips(n: int, data: Path | None) -> tuple[np.ndarray, str]:
    root = data or Path(os.environ.get("SIAMNET_DATA")
                        or Path(__file__).resolve().parents[1].parent / "shared" / "datasets")
    folder = root / "celeba_faces"
    if folder.is_dir():
        from siamnet.faces.detect import FacePipeline, load_image

        pipeline = FacePipeline()
        chips = []
        for f in sorted(folder.glob("*/*.jpg")):
            face = pipeline.largest_face(load_image(f))
            if face is not None:
                chips.append(face.chip)
            if len(chips) == n:
                return np.stack(chips), f"celeba_faces ({n} aligned chips)"
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 150, 150, 3), dtype=np.uint8), f"random pixels ({n} chips)"


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import dlib
    import torch

    from siamnet.faces.dlib_resnet import FusedDlibResNet, encode_chips, load_dlib_resnet
    from siamnet.faces.onnx_export import OnnxFaceEncoder, export_onnx
    from siamnet.faces.resources import dlib_model_path

    torch.set_num_threads(args.threads)
    chips, source = load_chips(args.chips, args.data)
    n = len(chips)

    rec = dlib.face_recognition_model_v1(
        str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")))
    chip_list = [np.ascontiguousarray(c) for c in chips]

    def run_dlib():
        out = []
        for s in range(0, n, args.batch):
            out += rec.compute_face_descriptor(chip_list[s:s + args.batch])
        return np.array(out, dtype=np.float32)

    model = load_dlib_resnet("cpu")
    fused = FusedDlibResNet(model)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(model, Path(tmp) / "face.onnx")
        ort = OnnxFaceEncoder(onnx_path, threads=args.threads)

        engines = {
            "dlib": run_dlib,
            "torch": lambda: encode_chips(model, chips, args.batch),
            "torch-fused-cl": lambda: encode_chips(fused, chips, args.batch, channels_last=True),
            "onnxruntime": lambda: ort.encode_chips(chips, args.batch),
        }
        results, outputs = {}, {}
        for name, fn in engines.items():
            # dlib is slow: one timed run after the warm-up is enough for it
            seconds = best_time(fn, 1 if name == "dlib" else args.repeats)
            outputs[name] = fn()
            results[name] = seconds

    ref = outputs["dlib"]
    print(f"face encoder throughput — {source}, batch {args.batch}, {args.threads} CPU threads, "
          f"torch {torch.__version__}, dlib {dlib.__version__}, {platform.processor() or platform.machine()}")
    print(f"{'engine':<16}{'faces/s':>10}{'x dlib':>9}{'max|Δ| vs dlib':>17}")
    rows = {}
    for name, seconds in results.items():
        fps = n / seconds
        ratio = fps / (n / results["dlib"])
        delta = float(np.abs(outputs[name] - ref).max())
        rows[name] = {"faces_per_s": round(fps, 2), "x_dlib": round(ratio, 2),
                      "max_abs_delta": delta}
        print(f"{name:<16}{fps:>10.1f}{ratio:>9.2f}{delta:>17.2e}")
    summary = {
        "benchmark": "face_encoder", "chips": n, "source": source, "batch": args.batch,
        "threads": args.threads, "engines": rows,
        "torch_x_dlib": rows["torch"]["x_dlib"],
        "best_torch_x_dlib": max(rows["torch"]["x_dlib"], rows["torch-fused-cl"]["x_dlib"]),
        "onnx_x_dlib": rows["onnxruntime"]["x_dlib"],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

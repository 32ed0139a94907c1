"""Faces/s of siamnet's dlib-ResNet module on a CUDA GPU, and how far its encodings drift from
the float32 CPU encodings (which match dlib to < 1e-4, see tests/faces/test_faces_equality.py).

    PYTHONPATH=src python benchmarks/bench_face_encoder_cuda.py \
        --weights ~/.cache/siamnet/dlib_resnet_v1-<hash>.safetensors \
        --chips chips.npy --reference reference.npy [--batches 64,256,1024]

``--chips``: (N, 150, 150, 3) uint8 aligned chips; ``--reference``: their (N, 128) float32
encodings computed on the CPU (``benchmarks/bench_face_encoder_cuda.py --make-reference``
writes both from $SIAMNET_DATA/celeba_faces, on a machine with dlib).  Needs only torch,
numpy and safetensors on the GPU machine, so it runs from a source checkout.  For each
precision (float32, float32 fused, float16 and bfloat16 autocast) and batch size: the chips are
tiled to the batch, encoded once to warm up, then timed over ``--seconds`` with CUDA
synchronisation; faces/s is images encoded / wall time, host→device copy of uint8 included.
Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", type=Path, help="the converted dlib weights (.safetensors)")
    p.add_argument("--chips", type=Path, required=True)
    p.add_argument("--reference", type=Path, required=True)
    p.add_argument("--batches", default="64,256,1024")
    p.add_argument("--seconds", type=float, default=3.0, help="timed seconds per configuration")
    p.add_argument("--make-reference", action="store_true",
                   help="write --chips and --reference from celeba_faces (CPU, needs dlib)")
    p.add_argument("--count", type=int, default=64, help="chips to write with --make-reference")
    return p.parse_args(argv)


def make_reference(args) -> None:
    from siamnet.faces.dlib_resnet import encode_chips, load_dlib_resnet

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_face_encoder import load_chips  # the CPU benchmark's chip loader

    chips, source = load_chips(args.count, None)
    ref = encode_chips(load_dlib_resnet(), chips)
    np.save(args.chips, chips)
    np.save(args.reference, ref)
    print(f"wrote {args.chips} and {args.reference}: {source}")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.make_reference:
        make_reference(args)
        return 0
    import torch
    from safetensors.torch import load_file

    from siamnet.faces.dlib_resnet import DlibResNet, FusedDlibResNet

    if not torch.cuda.is_available():
        print("no CUDA device: this benchmark measures the GPU path", file=sys.stderr)
        return 2
    model = DlibResNet()
    model.load_state_dict(load_file(str(args.weights)))
    model = model.eval().cuda()
    fused = FusedDlibResNet(model).eval().cuda()
    chips = np.load(args.chips)
    ref = np.load(args.reference)
    rows = []
    configs = [("float32", model, None), ("float32 fused", fused, None),
               ("float16 autocast", model, torch.float16), ("bfloat16 autocast", model, torch.bfloat16)]
    torch.backends.cudnn.benchmark = True
    for name, net, dtype in configs:
        for batch in [int(b) for b in args.batches.split(",")]:
            tiled = np.concatenate([chips] * (batch // len(chips) + 1))[:batch]
            host = torch.from_numpy(tiled).pin_memory()

            def run():
                x = host.cuda(non_blocking=True).permute(0, 3, 1, 2).float()
                with torch.inference_mode():
                    if dtype is None:
                        return net(x)
                    with torch.autocast("cuda", dtype=dtype):
                        return net(x)

            with torch.inference_mode():
                out = run().float()[: len(chips)].cpu().numpy()
            err = float(np.abs(out - ref).max())
            for _ in range(3):
                run()
            torch.cuda.synchronize()
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < args.seconds:
                run()
                n += batch
            torch.cuda.synchronize()
            secs = time.perf_counter() - t0
            rows.append({"precision": name, "batch": batch, "faces_per_s": n / secs, "max_abs_diff_vs_cpu": err})
    device = torch.cuda.get_device_name(0)
    print(f"siamnet dlib-ResNet on {device} (torch {torch.__version__}); chips: {len(chips)} tiled to the batch")
    print(f"{'precision':<20}{'batch':>7}{'faces/s':>12}{'max |Δ| vs CPU fp32':>22}")
    for r in rows:
        print(f"{r['precision']:<20}{r['batch']:>7}{r['faces_per_s']:>12.0f}{r['max_abs_diff_vs_cpu']:>22.2e}")
    print(json.dumps({"device": device, "torch": torch.__version__, "results": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

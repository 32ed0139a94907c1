"""``siamnet track`` and ``siamnet track-eval``: wired into the main CLI with :func:`add_commands`.

    siamnet track --model tracker --frames DIR_OR_VIDEO --init x,y,w,h [--out track.mp4|.gif] [--picture track.png] [--json]
    siamnet track-eval --model tracker --sequences ROOT [--json] [--plot success.png]

Bad input (an init box outside the frame or of zero size, an empty folder, an unreadable frame,
frames of mixed sizes, a video that cannot be opened) is one line and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import SiamnetError


def _threads(n):
    if n:
        import torch

        torch.set_num_threads(n)


def cmd_track(args) -> int:
    from . import load_tracker
    from .frames import check_box, parse_box, read_frames

    box = parse_box(args.init)
    _threads(args.threads)
    tracker = load_tracker(args.model)  # a bad model fails before frames are decoded
    frames = read_frames(args.frames)
    check_box(box, frames[0].shape[1], frames[0].shape[0], f"--init box (frame 1 is {frames[0].shape[1]}x{frames[0].shape[0]})")
    res = tracker.track(frames, box)
    if args.out:
        from .plot import save_track

        save_track(args.out, frames, res.boxes, res.lost, res.confidence)
    if args.picture:
        from .plot import save_image, sheet

        save_image(args.picture, sheet(frames, res.boxes, res.lost, res.confidence))
    n_lost = sum(res.lost)
    if args.json:
        print(json.dumps(res.to_dict()))
    else:
        print(f"{res.frames} frames tracked at {res.fps:.1f} fps; target lost in {n_lost} frame(s)"
              + (f" (τ = {tracker.threshold:.3f})" if tracker.threshold is not None else ""))
        last = res.boxes[-1]
        print(f"last box: {', '.join(f'{v:.1f}' for v in last)} (confidence {res.confidence[-1]:.3f})")
        for what, p in (("track", args.out), ("picture", args.picture)):
            if p:
                print(f"{what}: {p}")
    return 0


def cmd_track_eval(args) -> int:
    from . import load_tracker
    from .evaluate import evaluate, siamnet_run, summary

    _threads(args.threads)
    tracker = load_tracker(args.model)
    names = [s for s in (args.only or "").split(",") if s] or None
    res = evaluate(siamnet_run(tracker), args.sequences, names)
    if args.plot:
        from .plot import success_plot

        success_plot(args.plot, {args.model: res["overall"]}, title=f"{res['overall']['sequences']} sequences")
    s = summary(res)
    if args.json:
        print(json.dumps({"model": args.model, **s}))
    else:
        print(f"{'sequence':<24} {'frames':>6} {'AUC':>6} {'P@20':>6} {'fps':>6}")
        for name, r in s["sequences"].items():
            print(f"{name:<24} {r['frames_scored']:>6} {r['auc']:>6.3f} {r['precision20']:>6.3f} {r['fps']:>6.1f}")
        o = s["overall"]
        print(f"{'overall':<24} {o['frames_scored']:>6} {o['auc']:>6.3f} {o['precision20']:>6.3f} {o['fps']:>6.1f}")
        if args.plot:
            print(f"plot: {args.plot}")
    return 0


def add_commands(sub) -> None:
    """Add ``track`` and ``track-eval`` to an argparse sub-parser collection."""
    p = sub.add_parser("track", help="follow an object from one box in the first frame (SiamFC)",
                       description="Track the object in the --init box of the first frame through a folder of "
                                   "frames (name order) or a video; report each frame's box, confidence and "
                                   "whether the target is lost.")
    p.add_argument("--model", default="tracker", help="bundled tracker name or NAME.json (default: tracker)")
    p.add_argument("--frames", required=True, help="folder of images (name order) or a video file")
    p.add_argument("--init", required=True, help="x,y,w,h of the target in the first frame (pixels)")
    p.add_argument("--out", help="write the annotated track (.mp4, .avi or .gif)")
    p.add_argument("--picture", help="write sampled frames with their boxes on one image (.png/.jpg)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1; 0: torch's default, every core). On the 2-core CPU, Crossing: "
                        "1 thread 32-42 fps, 2 threads 38-50 while the other core was free but 12-21 while another "
                        "job held it (1 thread then: 40); one thread is the default that holds up")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=cmd_track)

    e = sub.add_parser("track-eval", help="success AUC, precision at 20 px and fps over OTB-style sequences",
                       description="Run the tracker on <seq>/img/* initialised on the first valid box of "
                                   "<seq>/groundtruth_rect.txt; NaN rows (target out of view) are skipped.")
    e.add_argument("--model", default="tracker")
    e.add_argument("--sequences", required=True, help="folder of OTB-style sequences (or one sequence)")
    e.add_argument("--only", help="comma-separated sequence names")
    e.add_argument("--plot", help="write the success and precision plots (.png)")
    e.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as for track; 0: torch's "
                   "default, every core)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_track_eval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m siamnet.track.cli")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SiamnetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

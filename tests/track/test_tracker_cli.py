import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from siamnet.errors import ModelError
from siamnet.track import load_tracker
from siamnet.track.cli import main
from siamnet.track.metrics import iou

from _track_support import moving_square, scaling_target, write_sequence


@pytest.fixture(scope="module")
def tracker():
    return load_tracker("tracker")


def test_bundled_card_is_a_calibrated_track_model(tracker):
    card = tracker.card
    assert card["format"] == "siamnet-model/2" and card["kind"] == "track"
    assert 0 < card["threshold"] < 1 and card["threshold_source"]
    assert card["seed"] == 0 and card["command"].startswith("python -m siamnet.track.train")
    assert card["input"]["exemplar"] == 127 and card["input"]["search"] == 287
    assert card["input"]["lost_ratio"] == 0.6 and card["input"]["lost_decay"] == 0.97
    assert card["metrics"]["validation"]["trackers"]


def test_follows_a_moving_square_and_its_confidence_drops_when_it_is_gone(tracker):
    frames, gt = moving_square(n=24, vanish_from=16)
    res = tracker.track(frames, tuple(gt[0]))
    assert res.frames == 24 and res.boxes[0] == list(gt[0])
    ious = iou(np.array(res.boxes[:16]), gt[:16])
    assert ious.min() > 0.5, ious
    assert not any(res.lost[:16])  # present: never reported lost at the card's τ
    assert max(res.confidence[16:]) < min(res.confidence[1:16]) - 0.2, res.confidence


def test_below_tau_the_box_stays_and_the_search_widens(tracker):
    frames, gt = moving_square(n=24, vanish_from=16)
    t = type(tracker)(tracker.net, tracker.settings, 0.5, tracker.card)  # τ between present and absent here
    res = t.track(frames, tuple(gt[0]))
    assert not any(res.lost[:16]) and all(res.lost[16:]), res.confidence
    assert all(b == res.boxes[15] for b in res.boxes[16:])  # lost: the last box is kept, not drifted
    assert t.lost and t._search(frames[-1])[5] == t.settings["lost_search"]


def test_a_sudden_drop_is_a_loss_and_the_target_is_taken_back_when_it_returns(tracker):
    frames, gt = moving_square(n=30)
    gone, _ = moving_square(n=30, vanish_from=16)
    frames = frames[:16] + gone[16:22] + frames[22:]  # hidden for frames 16-21, then back on its path
    tau = 0.05  # τ alone never fires here: the drop rule has to
    plain = type(tracker)(tracker.net, {**tracker.settings, "lost_ratio": 0.0}, tau, tracker.card)
    assert not any(plain.track(frames, tuple(gt[0])).lost)
    t = type(tracker)(tracker.net, {**tracker.settings, "lost_ratio": 0.6, "lost_decay": 0.97}, tau, tracker.card)
    res = t.track(frames, tuple(gt[0]))
    assert not any(res.lost[:16]) and all(res.lost[16:22]), (res.lost, res.confidence)
    assert all(b == res.boxes[15] for b in res.boxes[16:22])  # the box waits where the target was
    assert not any(res.lost[24:]), res.lost  # found again
    assert iou(np.array(res.boxes[24:]), gt[24:]).min() > 0.5


def test_the_drop_rules_reference_shrinks_while_lost_down_to_tau(tracker):
    t = type(tracker)(tracker.net, {**tracker.settings, "lost_ratio": 0.6, "lost_decay": 0.5}, 0.1, tracker.card)
    frames, gt = moving_square(n=2)
    t.init(frames[0], tuple(gt[0]))
    assert t._lost_bar() == 0.1  # fewer than three tracked frames: τ alone
    t._recent.extend([0.8, 0.9, 1.0])
    assert t._lost_bar() == pytest.approx(0.54)
    t._recent_scale = 0.5 ** 3  # three frames lost
    assert t._lost_bar() == 0.1


def test_unknown_model_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="no such tracker"):
        load_tracker(tmp_path / "nothing")
    (tmp_path / "x.json").write_text(json.dumps({"format": "siamnet-model/2", "kind": "glyph"}))
    with pytest.raises(ModelError, match="not a tracker"):
        load_tracker(tmp_path / "x.json")


def test_track_json_contract_and_outputs(square_seq, tmp_path, capsys):
    folder, frames, gt = square_seq
    init = ",".join(str(int(v)) for v in gt[0])
    rc = main(["track", "--frames", str(folder / "img"), "--init", init, "--json",
               "--out", str(tmp_path / "t.gif"), "--picture", str(tmp_path / "t.png")])
    assert rc == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    out = json.loads(last)
    assert set(out) >= {"boxes", "confidence", "lost", "fps", "frames"}
    assert out["frames"] == len(frames) == len(out["boxes"]) == len(out["confidence"]) == len(out["lost"])
    assert out["boxes"][0] == [float(v) for v in gt[0]] and out["fps"] > 0
    assert iou(np.array(out["boxes"]), gt).min() > 0.5
    assert Image.open(tmp_path / "t.png").size[0] > 0 and Image.open(tmp_path / "t.gif").n_frames == len(frames)


def test_track_a_video_file(tmp_path, capsys):
    import cv2

    frames, gt = moving_square(n=10)
    vw = cv2.VideoWriter(str(tmp_path / "v.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()
    assert main(["track", "--frames", str(tmp_path / "v.avi"), "--init", "60,80,40,40", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["frames"] == 10 and iou(np.array(out["boxes"]), gt).min() > 0.5


def test_bad_input_is_one_line_and_exit_2(square_seq, tmp_path, capsys):
    folder, frames, gt = square_seq
    img = str(folder / "img")
    empty = tmp_path / "empty"
    empty.mkdir()
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.fromarray(frames[0]).save(mixed / "1.jpg")
    Image.fromarray(frames[1][:100]).save(mixed / "2.jpg")
    broken = tmp_path / "broken"
    broken.mkdir()
    Image.fromarray(frames[0]).save(broken / "1.jpg")
    (broken / "2.jpg").write_bytes(b"garbage")
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 64)
    cases = {
        ("--frames", img, "--init", "300,200,50,50"): "outside",
        ("--frames", img, "--init", "10,10,0,20"): "zero",
        ("--frames", img, "--init", "10,10"): "x,y,w,h",
        ("--frames", str(empty), "--init", "1,1,5,5"): "no image frames",
        ("--frames", str(mixed), "--init", "60,80,40,40"): "mixed sizes",
        ("--frames", str(broken), "--init", "60,80,40,40"): "2.jpg: not a readable image",
        ("--frames", str(tmp_path / "bad.mp4"), "--init", "60,80,40,40"): "bad.mp4",
        ("--frames", str(tmp_path / "missing"), "--init", "60,80,40,40"): "no such",
    }
    for argv, words in cases.items():
        assert main(["track", *argv, "--json"]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], (argv, err)


def test_track_eval_skips_nan_frames(tmp_path, capsys):
    frames, gt = moving_square(n=12)
    gt[5] = np.nan  # out of view in the file: skipped, not scored
    write_sequence(tmp_path / "seqs" / "a", frames, gt, sep="\t")
    rc = main(["track-eval", "--sequences", str(tmp_path / "seqs"), "--json", "--plot", str(tmp_path / "s.png")])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    a = out["sequences"]["a"]
    assert a["frames_scored"] == 10 and a["auc"] > 0.6 and a["precision20"] == 1.0
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_module_entry_point(square_seq):
    folder, frames, gt = square_seq
    root = Path(__file__).resolve().parents[2]
    p = subprocess.run([sys.executable, "-m", "siamnet.track.cli", "track", "--frames", str(folder / "img"),
                        "--init", "0,0,-1,4"], capture_output=True, text=True, cwd=root,
                       env={"PYTHONPATH": str(root / "src"), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "zero" in p.stderr


@pytest.mark.data
def test_tracks_a_shared_validation_sequence(data_root, tracker):
    from siamnet.track.frames import load_sequence
    from siamnet.track.metrics import score_sequence

    folder = data_root / "tracking" / "Crossing"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    frames, gt = load_sequence(folder)
    res = tracker.track(frames[:60], tuple(gt[0]))
    r = score_sequence(np.array(res.boxes), gt[:60])
    assert r["auc"] > 0.5 and r["precision20"] > 0.9, r


def test_image_pyramid_scales_track_too(tracker):
    frames, gt = moving_square(n=10)
    t = type(tracker)(tracker.net, {**tracker.settings, "scale_mode": "image"}, tracker.threshold, tracker.card)
    res = t.track(frames, tuple(gt[0]))
    assert iou(np.array(res.boxes), gt).min() > 0.5


@pytest.mark.parametrize("rate", [1.015, 1 / 1.015])
def test_the_box_follows_a_growing_and_a_shrinking_target(tracker, rate):
    frames, gt = scaling_target(n=24, rate=rate)  # the side changes by 1.5 % a frame: 40 -> 57 or 28 px
    assert tracker.settings["scale_mode"] == "dsst"
    res = tracker.track(frames, tuple(gt[0]))
    side = np.sqrt(np.prod(np.array(res.boxes)[:, 2:], axis=1))
    true = np.sqrt(np.prod(gt[:, 2:], axis=1))
    assert abs(side[-1] / true[-1] - 1) < 0.12, (side[::4], true[::4])
    assert abs(side[-1] / side[0] - 1) > 0.25  # it did change: a box kept at its first size fails above
    assert iou(np.array(res.boxes), gt).min() > 0.6


def test_exemplar_scales_need_one_encoder_pass_per_frame(tracker, monkeypatch):
    frames, gt = moving_square(n=4)
    t = type(tracker)(tracker.net, {**tracker.settings, "scale_mode": "exemplar"}, None, tracker.card)
    t.init(frames[0], tuple(gt[0]))
    assert t.kernels.shape[0] == t.settings["scale_num"] and len(t._scale_refs) == t.settings["scale_num"]
    calls = []
    enc = t._encoder
    monkeypatch.setattr(t, "_encoder", lambda x: calls.append(x.shape[0]) or enc(x))
    t.update(frames[1])
    assert calls == [1]


def _with(tracker, **settings):
    return type(tracker)(tracker.net, {**tracker.settings, **settings}, None, tracker.card)


def test_the_target_cells_cut_from_the_search_features_match_the_exemplar(tracker):
    frames, gt = moving_square(n=2)
    t = _with(tracker, update="features")
    t.init(frames[0], tuple(gt[0]))
    maps, _, best, *_ = t._search(frames[0])  # the first frame again: the target at the centre
    r = maps[best]
    y, x = np.unravel_index(int(r.argmax()), r.shape)
    cos = torch.nn.functional.cosine_similarity
    own = cos(t._cut(t._feats[best], np.array([x, y], float)).flatten(), t.kernel0.flatten(), dim=0)
    off = cos(t._cut(t._feats[best], np.array([x + 2, y], float)).flatten(), t.kernel0.flatten(), dim=0)
    assert own > 0.8 and off < own - 0.2, (own, off)


@pytest.mark.parametrize("mode", ["features", "exemplar"])
def test_the_kernel_learns_on_confident_frames_only(tracker, mode):
    frames, gt = moving_square(n=14, vanish_from=8)
    t = _with(tracker, update=mode, update_rate=0.1, update_anchor=0.5, update_min_confidence=0.6)
    t.init(frames[0], tuple(gt[0]))
    k0 = t.kernel0.clone()
    confs, kernels = [], []
    for f in frames[1:]:
        _, c, _ = t.update(f)
        confs.append(c), kernels.append(t.kernel.clone())
    confs = np.array(confs)
    assert (confs[:7] >= 0.6).all() and (confs[7:] < 0.6).all(), confs  # present, then gone
    assert torch.equal(t.kernel0, k0)  # the anchor never moves
    assert t.updates == 7
    assert not torch.allclose(kernels[6], k0)  # learned while the square was there ...
    for k in kernels[7:]:
        assert torch.equal(k, kernels[6])  # ... and not from the background once it was gone
    lam = t.settings["update_anchor"]
    assert torch.allclose(t.kernel, lam * k0 + (1 - lam) * t.kernel_t)


def test_without_update_the_kernel_is_frame_zeros(tracker):
    frames, gt = moving_square(n=6)
    t = _with(tracker, update="none")
    t.init(frames[0], tuple(gt[0]))
    k0 = t.kernel.clone()
    for f in frames[1:]:
        t.update(f)
    assert t.updates == 0 and torch.equal(t.kernel, k0)


def test_an_unknown_update_is_a_model_error(tracker):
    with pytest.raises(ModelError, match="update 'feature'"):
        _with(tracker, update="feature")


def test_motion_prior_centres_the_search_ahead_of_the_box(tracker, monkeypatch):
    """``motion`` m: the search region is cut m × the last displacement ahead of the box, and a
    square moving at constant speed is still followed; m = 0 searches on the box (the card's)."""
    frames, gt = moving_square(n=10, step=(6, 3))
    t = _with(tracker, motion=1.0)
    centres = []
    real = type(t)._search
    monkeypatch.setattr(type(t), "_search", lambda self, f: centres.append(self.center.copy()) or real(self, f))
    res = t.track(frames, tuple(gt[0]))
    assert iou(np.array(res.boxes), gt).min() > 0.5
    boxes = np.array(res.boxes)
    tracked = boxes[:, :2] + boxes[:, 2:] / 2
    # from the third frame on, each search is centred one last step ahead of the previous box
    for i in range(3, 10):
        lead = tracked[i - 1] + (tracked[i - 1] - tracked[i - 2])
        assert np.allclose(centres[i], lead, atol=1e-6), (i, centres[i], lead)
    assert tracker.settings["motion"] == 0.0  # the bundled card keeps SiamFC's search

import numpy as np
import pytest
from PIL import Image

from siamnet.errors import DataError
from siamnet.track.frames import check_box, parse_box, read_frames, read_groundtruth, find_sequences
from siamnet.track.metrics import iou, overall, score_sequence


def test_iou_of_known_boxes():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]])
    assert np.allclose(iou(a, b), [1.0, 50 / 150, 0.0])


def test_success_auc_and_precision_skip_nan_frames():
    gt = np.array([[10, 10, 20, 20], [12, 10, 20, 20], [np.nan] * 4, [14, 10, 20, 20]])
    perfect = score_sequence(gt.copy(), gt)
    assert perfect["frames_scored"] == 2  # the init frame and the NaN frame are not scored
    assert perfect["auc"] == pytest.approx(20 / 21)  # IoU 1 passes every threshold below 1
    assert perfect["precision20"] == 1.0
    off = gt.copy()
    off[3] = [60, 60, 20, 20]  # a frame far off: IoU 0, 60+ px away
    r = score_sequence(off, gt)
    assert r["auc"] == pytest.approx(10 / 21) and r["precision20"] == 0.5
    o = overall({"a": perfect, "b": r})
    assert o["frames_scored"] == 4 and o["auc"] == pytest.approx(15 / 21)


def test_groundtruth_commas_tabs_and_nan(tmp_path):
    p = tmp_path / "gt.txt"
    p.write_text("1,2,3,4\n5\t6\t7\t8\nNaN,NaN,NaN,NaN\n")
    gt = read_groundtruth(p)
    assert gt.shape == (3, 4) and gt[1, 3] == 8 and np.isnan(gt[2]).all()
    p.write_text("1,2,3\n")
    with pytest.raises(DataError, match="gt.txt:1"):
        read_groundtruth(p)


def test_box_parsing_and_checks():
    assert parse_box("1, 2,3 ,4") == (1, 2, 3, 4)
    for bad in ("1,2,3", "a,b,c,d", "1,2,3,nan"):
        with pytest.raises(DataError, match="x,y,w,h"):
            parse_box(bad)
    check_box((0, 0, 320, 240), 320, 240)
    with pytest.raises(DataError, match="zero"):
        check_box((10, 10, 0, 5), 320, 240)
    with pytest.raises(DataError, match="outside"):
        check_box((300, 10, 50, 50), 320, 240)
    with pytest.raises(DataError, match="outside"):
        check_box((-5, 10, 20, 20), 320, 240)


def test_frames_in_name_order_and_bad_folders(tmp_path):
    d = tmp_path / "f"
    d.mkdir()
    for name, v in (("10.png", 10), ("2.png", 2), ("1.png", 1)):
        Image.fromarray(np.full((8, 8, 3), v, np.uint8)).save(d / name)
    assert [int(f[0, 0, 0]) for f in read_frames(d)] == [1, 2, 10]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no image frames"):
        read_frames(empty)
    (d / "3.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="3.png: not a readable image"):
        read_frames(d)
    (d / "3.png").unlink()
    Image.fromarray(np.zeros((9, 8, 3), np.uint8)).save(d / "4.png")
    with pytest.raises(DataError, match="mixed sizes"):
        read_frames(d)
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="clip.mp4"):
        read_frames(bad)
    with pytest.raises(DataError, match="no OTB-style sequence"):
        find_sequences(empty)

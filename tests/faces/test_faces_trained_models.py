"""Face models built from siamnet training: the `siamnet` and `dlib-resnet+projection` encoder
kinds of face cards, and fine-tuning dlib's ResNet with `siamnet train --encoder dlib-resnet`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from _support import REPO, make_model

from _faces_support import need_module


def _card(path, **kw):
    from siamnet.faces.models import FaceModelCard

    card = FaceModelCard(name=path.stem, kind="face", input={"chip": 150, "mode": "RGB", "alignment": "test"},
                         distance="euclidean", threshold=0.5, threshold_source="test", **kw)
    path.write_text(card.to_json())
    return path


def _siamnet_face_card(tmp_path, flip: bool):
    """A face card whose encoder was trained by siamnet: tiny's convnet, on 28 px grey chips."""
    raw = json.loads((tmp_path / "tiny.json").read_text())
    raw.update(kind="face", weights="tiny.safetensors", distance="euclidean",
               input={"chip": 150, "mode": "L", "size": 28, "flip_average": flip})
    path = tmp_path / f"tiny-face{'-flip' if flip else ''}.json"
    path.write_text(json.dumps(raw))
    return path


def test_siamnet_encoder_card_encodes_chips(tmp_path):
    from siamnet.data.images import Preprocess
    from siamnet.faces.models import load_face_model
    from siamnet.models import load_model

    model_file = make_model(tmp_path / "tiny", input_size=28)
    face = load_face_model(_siamnet_face_card(tmp_path, flip=False))
    chips = np.random.default_rng(0).integers(0, 256, (3, 150, 150, 3), dtype=np.uint8)
    enc = face.encode_items(chips)
    assert enc.shape == (3, 16) and np.allclose(np.linalg.norm(enc, axis=1), 1, atol=1e-5)
    # the same as preprocessing by hand (grey, 28 px, Lanczos) and encoding with the siamnet model
    m = load_model(model_file)
    pre = Preprocess(size=28, mode="L", invert=False)
    by_hand = np.stack([pre.apply(Image.fromarray(c), Image.LANCZOS) for c in chips])
    assert np.allclose(enc, m.embed(by_hand).numpy(), atol=1e-6)
    # flip_average: the chip and its mirror image, each encoded, averaged
    mirrored = np.stack([pre.apply(Image.fromarray(np.ascontiguousarray(c[:, ::-1])), Image.LANCZOS) for c in chips])
    want = (m.embed(by_hand).numpy() + m.embed(mirrored).numpy()) / 2
    assert np.allclose(load_face_model(_siamnet_face_card(tmp_path, flip=True)).encode_items(chips), want, atol=1e-5)


def test_siamnet_card_without_weights_is_refused(tmp_path):
    from siamnet.errors import ModelError
    from siamnet.faces.models import load_face_model

    make_model(tmp_path / "tiny", input_size=28)
    card = _siamnet_face_card(tmp_path, flip=False)
    raw = json.loads(card.read_text())
    raw["weights"] = "missing.safetensors"
    card.write_text(json.dumps(raw))
    with pytest.raises(ModelError, match="weights"):
        load_face_model(card)


def test_zero_projection_gives_dlib_encodings(tmp_path, face_model, celeba_chips):
    import torch
    from safetensors.torch import save_file

    from siamnet.faces.models import load_face_model

    save_file({"projection.fc.weight": torch.zeros(128, 128), "projection.fc.bias": torch.zeros(128)},
              str(tmp_path / "proj.safetensors"))
    card = _card(tmp_path / "proj.json", encoder="dlib-resnet+projection", weights="proj.safetensors")
    chips = celeba_chips[0][:4]
    assert np.allclose(load_face_model(card).encode_items(chips), face_model.encode_items(chips), atol=1e-6)
    # flip_average: the chip and its mirror image, averaged, then the (zero) projection
    flip = _card(tmp_path / "flip.json", encoder="dlib-resnet+projection", weights="proj.safetensors")
    raw = json.loads(flip.read_text())
    raw["input"]["flip_average"] = True
    flip.write_text(json.dumps(raw))
    mirrored = np.ascontiguousarray(chips[:, :, ::-1])
    want = (face_model.encode_items(chips) + face_model.encode_items(mirrored)) / 2
    assert np.allclose(load_face_model(flip).encode_items(chips), want, atol=1e-6)


def test_bundled_face_models_load_and_encode(siamnet_cache, celeba_chips):
    from siamnet.faces.models import list_face_models, load_face_model

    names = {c.name for c in list_face_models()}
    assert "dlib-resnet" in names
    # retired (issue 16): face-siamese did not beat dlib-resnet on real-world pairs, face-small
    # (from scratch, 83-84 %) is far below face_recognition on the same pairs
    assert "face-siamese" not in names and "face-small" not in names
    enc = load_face_model("dlib-resnet").encode_items(celeba_chips[0][:2])
    assert enc.shape == (2, 128) and np.isfinite(enc).all()


def test_finetune_dlib_resnet_with_siamnet_train(tmp_path, siamnet_cache, celeba_chips):
    """`siamnet train --encoder dlib-resnet` starts from dlib's weights, trains only level0 + fc."""
    need_module("dlib")
    from safetensors.torch import load_file

    from siamnet.faces.dlib_resnet import load_dlib_resnet

    chips, ids, _ = celeba_chips
    data = tmp_path / "chips"
    for person in sorted(set(ids))[:6]:
        (data / person).mkdir(parents=True)
        for n, i in enumerate([i for i, p in enumerate(ids) if p == person][:3]):
            Image.fromarray(chips[i]).save(data / person / f"{n}.png")
    out = tmp_path / "ft"
    cmd = [sys.executable, "-m", "siamnet", "train", "--data", str(data), "--encoder", "dlib-resnet",
           "--mode", "RGB", "--input-size", "150", "--no-normalize", "--no-augment", "--p", "3", "--k", "2",
           "--margin", "5", "--epochs", "1", "--batches-per-epoch", "1", "--val-fraction", "0.4", "--val-ways", "2",
           "--val-episodes", "4", "--lr", "1e-3", "--no-progress", "--workers", "1", "--out", str(out)]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    card = json.loads((out / "model.json").read_text())
    assert card["encoder"] == "dlib-resnet"
    assert card["training"]["history"][0]["epoch"] == 0  # dlib's own weights measured first
    # the weights after the last step (the checkpoint): only level0 and fc moved
    after = load_file(str(out / "checkpoint.safetensors"))
    start = load_dlib_resnet().state_dict()
    prefix = next(k[:k.index("net.") + 4] for k in after if "net." in k)
    changed = {k[len(prefix):] for k, v in after.items() if k.startswith(prefix)
               and not np.allclose(v.numpy(), start[k[len(prefix):]].numpy())}
    assert changed, "nothing was trained"
    assert all(k.split(".")[0] in ("level0", "fc") for k in changed), sorted(changed)[:5]

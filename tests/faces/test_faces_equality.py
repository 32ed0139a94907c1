"""Our encoder vs dlib's compute_face_descriptor on ≥ 200 real aligned chips."""

from __future__ import annotations

import numpy as np
import pytest

from siamnet.faces.dlib_resnet import DLIB_DISTANCE_THRESHOLD, FusedDlibResNet, encode_chips

from _faces_support import MIN_CHIPS, need_module

TOLERANCE = 1e-4

pytestmark = pytest.mark.data


def _pair_decisions(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    iu = np.triu_indices(len(emb), k=1)
    d = np.linalg.norm(emb[:, None, :].astype(np.float64) - emb[None, :, :], axis=-1)[iu]
    return d, d < DLIB_DISTANCE_THRESHOLD


def _check_against_dlib(ours, ref, ids, label):
    assert ours.shape == ref.shape and len(ref) >= MIN_CHIPS
    max_delta = float(np.abs(ours - ref).max())
    d_ref, same_ref = _pair_decisions(ref)
    d_ours, same_ours = _pair_decisions(ours)
    disagree = int((same_ref != same_ours).sum())
    print(f"\n[{label}] chips={len(ref)} max|delta|={max_delta:.3g} "
          f"pairs={len(d_ref)} decisions_disagree={disagree} "
          f"max|delta dist|={np.abs(d_ref - d_ours).max():.3g}")
    assert max_delta <= TOLERANCE, f"{label}: max |delta| {max_delta} > {TOLERANCE}"
    assert disagree == 0, f"{label}: {disagree} same/different decisions differ at 0.6"
    # sanity: the encoder actually separates people (not just two equal constant outputs)
    ids = np.array(ids)
    iu = np.triu_indices(len(ids), k=1)
    same_id = (ids[:, None] == ids[None, :])[iu]
    assert same_ref[same_id].mean() > 0.7 and same_ref[~same_id].mean() < 0.1


def test_torch_matches_dlib(dlib_model, celeba_chips, dlib_descriptors):
    chips, ids, _ = celeba_chips
    ours = encode_chips(dlib_model, chips, batch_size=64)
    _check_against_dlib(ours, dlib_descriptors, ids, "torch")


def test_fused_torch_matches_dlib(dlib_model, celeba_chips, dlib_descriptors):
    chips, ids, _ = celeba_chips
    ours = encode_chips(FusedDlibResNet(dlib_model), chips, batch_size=64, channels_last=True)
    _check_against_dlib(ours, dlib_descriptors, ids, "torch-fused")


def test_onnx_matches_dlib(dlib_model, celeba_chips, dlib_descriptors, tmp_path_factory):
    need_module("onnxruntime")
    need_module("onnx")
    from siamnet.faces.onnx_export import OnnxFaceEncoder, export_onnx

    path = export_onnx(dlib_model, tmp_path_factory.mktemp("onnx") / "face.onnx")
    enc = OnnxFaceEncoder(path, threads=2)
    chips, ids, _ = celeba_chips
    ours = enc.encode_chips(chips, batch_size=64)
    _check_against_dlib(ours, dlib_descriptors, ids, "onnx")

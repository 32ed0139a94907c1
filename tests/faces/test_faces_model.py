"""The PyTorch module: shapes, folding, freezing, weight cache (no dataset needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamnet.faces.dlib_resnet import (
    DlibResNet,
    FusedDlibResNet,
    cache_dir,
    encode_chips,
    freeze_for_finetuning,
)


def _random_model(seed=0) -> DlibResNet:
    torch.manual_seed(seed)
    m = DlibResNet()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("affine1.weight") or name.endswith("affine2.weight"):
                p.uniform_(0.2, 0.6)
            elif "affine" in name:
                p.uniform_(-0.1, 0.1)
    return m.eval()


def test_output_shape_and_intermediate_sizes():
    m = _random_model()
    x = torch.rand(3, 3, 150, 150) * 255
    assert m(x).shape == (3, 128)
    sizes = {}
    hooks = [getattr(m, n).register_forward_hook(
        lambda mod, i, o, n=n: sizes.__setitem__(n, tuple(o.shape[1:])))
        for n in m.level_names]
    with torch.no_grad():
        m(x)
    for h in hooks:
        h.remove()
    # dlib: 150 → conv7/2 72 → pool 35 → 17 → 8 → max(3, 4)=4 → max(1, 2)=2
    assert sizes == {"level4": (32, 35, 35), "level3": (64, 17, 17), "level2": (128, 8, 8),
                     "level1": (256, 4, 4), "level0": (256, 2, 2)}


def test_encode_chips_batches_and_shape():
    m = _random_model()
    chips = np.random.default_rng(0).integers(0, 256, (5, 150, 150, 3), dtype=np.uint8)
    a = encode_chips(m, chips, batch_size=2)
    b = encode_chips(m, chips, batch_size=64)
    assert a.shape == (5, 128) and a.dtype == np.float32
    np.testing.assert_allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError, match="150"):
        encode_chips(m, np.zeros((1, 100, 100, 3), np.uint8))


def test_fused_model_matches():
    m = _random_model(1)
    x = torch.rand(2, 3, 150, 150) * 255
    with torch.no_grad():
        ref = m(x)
        out = FusedDlibResNet(m)(x)
    assert torch.allclose(ref, out, atol=1e-4 * ref.abs().max().item())


def test_freeze_default_leaves_last_level_and_fc():
    m = DlibResNet()
    names = freeze_for_finetuning(m)
    trainable = {n for n, p in m.named_parameters() if p.requires_grad}
    assert trainable == set(names)
    expected = {n for n, _ in m.named_parameters() if n.startswith(("level0.", "fc."))}
    assert trainable == expected
    assert "fc.weight" in trainable and "level0.0.conv1.weight" in trainable
    assert not any(n.startswith(("stem.", "level1.", "level4.")) for n in trainable)
    # and gradients flow only there
    out = m(torch.rand(2, 3, 150, 150) * 255).sum()
    out.backward()
    for n, p in m.named_parameters():
        assert (p.grad is not None) == (n in trainable), n


def test_freeze_custom_and_unknown():
    m = DlibResNet()
    freeze_for_finetuning(m, ("level1", "level0", "fc"))
    n_train = sum(p.numel() for p in m.parameters() if p.requires_grad)
    n_expected = sum(p.numel() for n, p in m.named_parameters()
                     if n.split(".")[0] in ("level1", "level0", "fc"))
    assert n_train == n_expected
    with pytest.raises(ValueError, match="unknown module"):
        freeze_for_finetuning(m, ("level9",))


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SIAMNET_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SIAMNET_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x" / "siamnet"


def test_weights_are_converted_once_then_cached(siamnet_cache, resnet_dat, monkeypatch):
    from siamnet.faces import dlib_resnet

    model = dlib_resnet.load_dlib_resnet()
    files = list(siamnet_cache.glob("dlib_resnet_v1-*.safetensors"))
    assert len(files) == 1
    # second load must come from the cache, not from the .dat file
    monkeypatch.setattr(dlib_resnet, "convert_dlib_file",
                        lambda *a: pytest.fail("converted again instead of using the cache"))
    again = dlib_resnet.load_dlib_resnet()
    for (k, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), k
    # a damaged cache file is ignored (with a warning) and rebuilt
    files[0].write_bytes(b"garbage")
    monkeypatch.undo()
    with pytest.warns(UserWarning, match="unreadable cached weights"):
        dlib_resnet.load_dlib_resnet()

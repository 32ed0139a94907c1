"""Koch's affine distortions: identity when switched off, mirroring only when asked."""

import torch

from siamnet.data.augment import KochAffine


def _still(flip: bool) -> KochAffine:
    return KochAffine(rotation=0, shear=0, scale=0, translate=0, flip=flip)


def test_no_distortion_is_identity():
    x = torch.rand(6, 1, 8, 8)
    assert torch.allclose(_still(False)(x, torch.Generator().manual_seed(0)), x, atol=1e-5)


def test_flip_mirrors_about_half_and_leaves_the_rest():
    x = torch.rand(200, 1, 8, 8)
    y = _still(True)(x, torch.Generator().manual_seed(0))
    mirrored = torch.tensor([torch.allclose(y[i], x[i].flip(-1), atol=1e-5) for i in range(len(x))])
    kept = torch.tensor([torch.allclose(y[i], x[i], atol=1e-5) for i in range(len(x))])
    assert bool((mirrored | kept).all())
    assert 60 < int(mirrored.sum()) < 140


def test_distortions_change_images_and_keep_shape():
    x = torch.rand(16, 3, 20, 20)
    y = KochAffine(p=1.0)(x, torch.Generator().manual_seed(1))
    assert y.shape == x.shape and not torch.allclose(y, x)

"""Koch et al.'s affine distortions, applied to a whole batch at once on its device.

Each image gets T = (θ, ρx, ρy, sx, sy, tx, ty) with rotation θ ∈ [−10°, 10°], shear
ρ ∈ [−0.3, 0.3], scale s ∈ [0.8, 1.2] and translation t ∈ [−2, 2] px (of a 105 px image);
as in the paper, each component is switched on with probability ½.  ``flip=True`` also mirrors
half of the images left-right (right for faces, wrong for characters, whose mirror images may be
other characters).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


class KochAffine:
    def __init__(self, rotation: float = 10.0, shear: float = 0.3, scale: float = 0.2,
                 translate: float = 2 / 105, p: float = 0.5, flip: bool = False):
        self.rotation, self.shear, self.scale, self.translate, self.p = rotation, shear, scale, translate, p
        self.flip = flip

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n = x.shape[0]

        def draw(limit: float) -> torch.Tensor:
            u = torch.rand(n, generator=generator) * 2 - 1
            on = torch.rand(n, generator=generator) < self.p
            return u * limit * on

        theta = draw(math.radians(self.rotation))
        shx, shy = draw(self.shear), draw(self.shear)
        sx, sy = 1 + draw(self.scale), 1 + draw(self.scale)
        tx, ty = draw(2 * self.translate), draw(2 * self.translate)  # grid coordinates span 2
        cos, sin = torch.cos(theta), torch.sin(theta)
        rot = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
        shear = torch.stack([torch.stack([torch.ones(n), shx], 1), torch.stack([shy, torch.ones(n)], 1)], 1)
        scale = torch.diag_embed(torch.stack([1 / sx, 1 / sy], 1))
        a = rot @ shear @ scale
        if self.flip:  # x → −x in grid coordinates mirrors the image
            mirror = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
            a = a * torch.stack([mirror, torch.ones(n)], 1).unsqueeze(1)
        mat = torch.cat([a, torch.stack([tx, ty], 1).unsqueeze(2)], 2).to(x.device, x.dtype)
        grid = F.affine_grid(mat, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class StrokeWidth:
    """Thicker or thinner pen strokes: each image (ink high on 0 background) is, with
    probability ``p`` each, dilated (3×3 max filter: a broader pen) or eroded (3×3 min filter,
    blended back half-way so thin strokes thin out rather than vanish)."""

    def __init__(self, p: float = 0.25):
        self.p = p

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n = x.shape[0]
        u = torch.rand(n, generator=generator).to(x.device).view(n, 1, 1, 1)
        thick = F.max_pool2d(x, 3, 1, 1)
        thin = 0.5 * (x - F.max_pool2d(-x, 3, 1, 1))  # (x + erode(x)) / 2, erode(x) = −maxpool(−x)
        return torch.where(u < self.p, thick, torch.where(u < 2 * self.p, thin, x))

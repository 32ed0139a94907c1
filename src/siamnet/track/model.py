"""SiamFC: the response map f(z, x) = φ(z) ⋆ φ(x) + b (Bertinetto et al. 2016).

The same encoder φ maps the exemplar z (the target with some context) and the search region x
(a larger crop around where the target was) to feature maps; the exemplar's map, used as a
kernel, is slid over the search region's map (cross-correlation).  A high response says "the
target is here".  For a batch, the correlation is one grouped convolution: the batch is folded
into channels, each exemplar correlating only with its own search region.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


def xcorr(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Cross-correlate each exemplar map z[i] (C, k, k) over its search map x[i] (C, H, W)
    → (N, 1, H−k+1, W−k+1), as one grouped convolution.  A single exemplar (1, C, k, k) is
    slid over every search map (the scales of one frame; the tracker's case) by
    :func:`_xcorr_one`."""
    n, c, h, w = x.shape
    if z.shape[0] == 1:
        return _xcorr_one(z, x)
    out = F.conv2d(x.reshape(1, n * c, h, w), z, groups=n)
    return out.reshape(n, 1, out.shape[-2], out.shape[-1])


def _xcorr_one(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """One exemplar (1, C, k, k) over every search map (N, C, H, W) as a matrix product and a
    strided sum: G = Zᵀ·X over the channels, (N, k·k, H·W), gives each kernel cell's response at
    every position, and out[y, x] = Σ_ij G[ij, (y + i)·W + (x + j)] reads G along its diagonals
    (one ``as_strided`` view).  The same sums as ``F.conv2d(x, z)`` in another order (float
    noise, ~1e-6 relative), about 7× faster on a CPU at one thread for 128 channels, 8×8 over
    32×32 cells (0.3 against 2.0 ms: docs/tracking.md, "Speed engineering")."""
    n, c, h, w = x.shape
    kh, kw = z.shape[-2:]
    oh, ow = h - kh + 1, w - kw + 1
    g = torch.matmul(z.reshape(c, kh * kw).t(), x.reshape(n, c, h * w)).contiguous()  # (N, kh·kw, H·W)
    hw = h * w
    diag = g.as_strided((n, kh, kw, oh, ow), (kh * kw * hw, kw * hw + w, hw + 1, w, 1))
    return diag.sum((1, 2)).unsqueeze(1)


class SiamFC(nn.Module):
    """φ shared by both branches, the exemplar's map cut to its central ``kernel`` cells (the
    target's own cells, away from the padded border), and a learned scale and bias."""

    def __init__(self, encoder: nn.Module, kernel: int = 8):
        super().__init__()
        self.encoder, self.kernel = encoder, kernel
        self.scale = nn.Parameter(torch.tensor(8.0 / (encoder.out_channels * kernel * kernel)))
        self.bias = nn.Parameter(torch.zeros(()))

    def template(self, z: torch.Tensor) -> torch.Tensor:
        """Exemplar crops (N, 3, 127, 127), float 0..255 → kernels (N, C, k, k)."""
        f = self.encoder(z)
        k, h = self.kernel, f.shape[-1]
        if h > k:
            s = (h - k) // 2
            f = f[..., s:s + k, s:s + k]
        return f

    def respond(self, kernels: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Kernels from :meth:`template` and search crops (N, 3, 255, 255) → response maps."""
        return xcorr(kernels, self.encoder(x)) * self.scale + self.bias

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.respond(self.template(z), x)

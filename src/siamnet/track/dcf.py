"""An online discriminative correlation filter (DCF) on the tracker's search features.

SiamFC's kernel is the target's own look (frame 0's, or a running average of it): it scores
anything that looks like the target high, including a second pedestrian or a bollard next to
it, because it never sees what the *background around this target* looks like. A DCF does:
it is a linear filter w over the same C-channel search feature map x (the encoder's output,
stride 8, already computed every frame) fitted by ridge regression to a Gaussian label y that
is 1 at the target's cell and ~0 everywhere else, distractors included,

    min_w  Σ_cells (Σ_l w_l ⋆ x_l − y)² + λ Σ_l ‖w_l‖²,

over all circular shifts of x (the correlation filter trick: KCF/DSST/ECO with a linear kernel,
the online part of DiMP). In the Fourier domain the correlations become per-frequency products
and, for one sample, the exact solution per frequency and channel is

    W_l = Y · X̄_l / (Σ_k X̄_k · X_k + λ)

(the multi-channel MOSSE/DSST form; capitals: 2-D DFTs over the cells). The response to a new
map z is r = F⁻¹(Σ_l W_l · Z_l). Over the frames the numerator A_l = Y · X̄_l and the denominator
B = Σ_k |X_k|² are running averages with rate η (DSST's approximation of the ridge solution over
all frames seen):  A ← (1 − η)·A + η·A_new,  B ← (1 − η)·B + η·B_new.

Details here:

* the features are multiplied by a cosine (Hann) window before the DFT, so the circular shifts
  do not wrap the map's edges onto each other;
* the label is a Gaussian of width σ cells centred on the map's centre cell ((n − 1)/2, which is
  where the target is on the first frame: the search region is centred on it); a later frame's
  sample, whose target sits at centre + δ (sub-cell), is shifted back by δ in the Fourier domain
  (a phase ramp, exact and free) before it is learned, so the filter always learns "target at
  the centre" from the one DFT the response already took;
* λ is relative: ``lam`` × the mean of the first frame's B (the features' spectral energy), so
  it does not depend on the features' scale;
* ``response(z, offset)`` can read the response at cells shifted by ``offset`` (again a phase
  ramp): the tracker reads it at p + (k − 1)/2, the target centre that goes with SiamFC's
  position p (the top-left cell of the k×k kernel's window), so the two maps align cell for cell.

Cost, one thread, C = 128, 32×32 cells: one real 2-D FFT of the map, a multiply-sum over the
channels and one inverse FFT for the response, a few multiply-adds for the update (see
docs/tracking.md for the measured times).
"""

from __future__ import annotations

import math

import torch


def _freqs(ny: int, nx: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The angular frequencies of an rfft2 grid: (ny, 1) and (1, nx // 2 + 1), radians per cell."""
    wy = 2 * math.pi * torch.fft.fftfreq(ny)[:, None]
    wx = 2 * math.pi * torch.fft.rfftfreq(nx)[None, :]
    return wy, wx


def gaussian_label(ny: int, nx: int, sigma: float) -> torch.Tensor:
    """A Gaussian of width ``sigma`` cells peaked at the centre ((ny − 1)/2, (nx − 1)/2), with
    circular distances (the filter's shifts are circular)."""
    def axis(n):
        d = torch.arange(n, dtype=torch.float32) - (n - 1) / 2
        d = torch.remainder(d + n / 2, n) - n / 2
        return torch.exp(-0.5 * (d / sigma) ** 2)

    return axis(ny)[:, None] * axis(nx)[None, :]


class FeatureDCF:
    """A multi-channel linear correlation filter learned online on (C, ny, nx) feature maps:
    ``init(x)`` (target at the centre), then per frame ``response(z)`` and, on a confidently
    tracked frame, ``update(shift)`` (learn that frame's map, the target ``shift`` cells from its
    centre)."""

    def __init__(self, lam: float = 0.1, sigma: float = 1.0, lr: float = 0.02):
        self.lam, self.sigma, self.lr = float(lam), float(sigma), float(lr)
        self.shape = None
        self.updates = 0
        self._zf = None  # the DFT of the map the latest response was taken on

    def _dft(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, *x.shape[-2:]).float()
        return torch.fft.rfft2(x * self.window)

    def _phase(self, dy: float, dx: float) -> torch.Tensor:
        """exp(i·(ωy·dy + ωx·dx)): multiplying a spectrum by it reads its map at c + (dy, dx)."""
        return torch.polar(torch.ones_like(self._wy * self._wx), self._wy * dy + self._wx * dx)

    @torch.inference_mode()
    def init(self, x: torch.Tensor) -> None:
        """Learn the filter from one map whose target is at the centre cell."""
        ny, nx = x.shape[-2:]
        self.shape = (int(ny), int(nx))
        hy = torch.hann_window(ny + 2, periodic=False)[1:-1]  # no zero weights at the borders
        hx = torch.hann_window(nx + 2, periodic=False)[1:-1]
        self.window = (hy[:, None] * hx[None, :]).float()
        self._wy, self._wx = _freqs(ny, nx)
        self.yf = torch.fft.rfft2(gaussian_label(ny, nx, self.sigma))
        xf = self._dft(x)
        self.num = self.yf * xf.conj()
        self.den = (xf.real ** 2 + xf.imag ** 2).sum(0)
        self.lam_abs = self.lam * float(self.den.mean())
        self.updates = 0
        self._zf = None

    def fits(self, z: torch.Tensor) -> bool:
        """Whether ``z`` has the cells the filter was learned on (the lost state's wider search
        region does not)."""
        return self.shape is not None and tuple(z.shape[-2:]) == self.shape

    @torch.inference_mode()
    def response(self, z: torch.Tensor, offset: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
        """The filter's response over ``z``'s cells (ny, nx), read at c + ``offset`` (dy, dx)
        cells; the target at the map's centre scores at the centre cell."""
        self._zf = self._dft(z)
        rf = (self.num * self._zf).sum(0) / (self.den + self.lam_abs)
        if offset[0] or offset[1]:
            rf = rf * self._phase(*offset)
        return torch.fft.irfft2(rf, s=self.shape)

    @torch.inference_mode()
    def update(self, shift: tuple[float, float]) -> None:
        """Learn the map of the latest ``response``, whose target is ``shift`` (dy, dx) cells from
        the centre, with rate ``lr``."""
        if self._zf is None:
            raise RuntimeError("FeatureDCF.update needs a response on this frame's map first")
        # the map shifted so that the target is at the centre: X·e^{iω·δ}; its numerator
        # Y·conj(X·e^{iω·δ}) = (Y·e^{−iω·δ})·X̄ (the 2-D factor first), its energy that of X
        zf, lr = self._zf, self.lr
        self.num.mul_(1 - lr).add_((self.yf * self._phase(*shift).conj()) * zf.conj(), alpha=lr)
        self.den.mul_(1 - lr).add_((zf.real ** 2 + zf.imag ** 2).sum(0), alpha=lr)
        self.updates += 1
        self._zf = None

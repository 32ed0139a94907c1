"""SiamFC inference: follow the target from its first box, frame by frame.

Each frame: crop a search region around the last position (s_x = s_z · search/exemplar, the
target's context square scaled up), encode it once, and correlate the exemplar's kernel with
it; the response is upsampled, normalised and blended with a cosine (Hann) window that favours
small motion, and its peak gives the displacement.

The size (``scale_mode``, the card's ``input``):

* ``"dsst"`` (the default): SiamFC at the unit scale finds the position, then a 1-D scale
  correlation filter learned online on the target's own look at 33 sizes
  (:mod:`siamnet.track.scale`, DSST) measures the size change there;
* ``"exemplar"``: one kernel per scale g (the first frame's exemplar cropped at s_z/g), each
  scale's peak divided by its kernel's own first-frame match, the best (non-unit ones
  penalised) taken with SiamFC's damping (``scale_lr``); one encoder pass per frame;
* ``"image"``: SiamFC's pyramid, one search crop per scale (3× the encoder work);
* ``"feature"``: the search features resized by 1/g (the unit scale always wins: the
  resampling alone costs the other scales' peaks 5-10 %).

The *confidence* is the peak's prominence (peak − median of the map, the background level)
relative to the target's own prominence on the first frame, clipped to 0..1: about 1 while
the target looks as it did, near 0.3 for background alone.  Below the card's τ the frame
reports the target **lost**: the box stays where it was, and the next frames search a wider
region (``lost_search`` pixels at the same scale, almost no window) until the target is found
again with confidence ≥ τ.  With ``lost_ratio`` ρ > 0 (the card's ``input``) a *sudden drop* is a
loss too: confidence below ρ × the median confidence of the last ``lost_history`` tracked frames
(an occluder, or the target gone, drops it by half within a frame; a slow change of look moves
the median with it).  The target is taken back when the confidence reaches that bar again; while
lost the bar's reference shrinks by ``lost_decay`` a frame, down to τ, so that a target whose
look changed while hidden is not refused for ever.

The exemplar (``update``, the card's ``input``): ``"none"`` keeps frame 0's kernel k0 for the whole
sequence; ``"features"`` cuts the target's own k×k cells out of the search features at the new peak
(bilinearly, at the peak's sub-cell position: no extra encoder work) and ``"exemplar"`` encodes a
fresh exemplar crop at the new box (one more encoder pass, on a 127-px crop).  Only on a frame
tracked with confidence ≥ ``update_min_confidence``, the running kernel learns it,
k_t ← (1 − η)·k_t + η·k_new, and the next frame correlates with k = λ·k0 + (1 − λ)·k_t: the
anchor λ on frame 0 keeps a slow drift onto background from taking over (the linear update of
DaSiamRPN / UpdateNet's baseline).  The confidence stays relative to frame 0's own match.  (With
``scale_mode: "exemplar"`` the per-scale kernels of frame 0 are used and the update has no effect.)

The distractors (``dcf_weight`` β > 0, the card's ``input``; 0, the default, leaves all of this
out): a discriminative correlation filter (:mod:`siamnet.track.dcf`) learned online on the same
search features — the target's cell scored 1, its surroundings (look-alikes included) 0 — is
learned on the first frame's search region, and each frame its response, read at the target
centre p + (k − 1)/2 that goes with SiamFC's position p, is fused with SiamFC's before the
upsampling, window and peak: r = (1 − β)·r_siam + β·r_dcf, each scaled to 0..1 first.  On a
frame tracked with confidence ≥ ``dcf_min_confidence`` it learns that frame's map with the
target at the new position (rate ``dcf_lr``).  Not while lost: the lost state's wider search
region has more cells than the filter, so those frames use SiamFC alone and teach it nothing.
The confidence (and τ) stays SiamFC's own.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from ..errors import DataError, ModelError
from .card import DEFAULT_INPUT, load_net, read_card, resolve
from .crops import context_size, crop, to_tensor
from .dcf import FeatureDCF
from .frames import check_box
from .model import SiamFC, xcorr
from .scale import ScaleFilter


UPDATES = ("none", "features", "exemplar")  # the exemplar kernel's update (``update``)


def _gray(frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0


def _fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    w = conv.weight
    std = torch.sqrt(bn.running_var + bn.eps)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                      conv.dilation, conv.groups, bias=True)
    with torch.no_grad():
        fused.weight.copy_(w * (bn.weight / std).reshape(-1, 1, 1, 1))
        b = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        fused.bias.copy_((b - bn.running_mean) * bn.weight / std + bn.bias)
    return fused


def fuse_batchnorm(module: nn.Module) -> nn.Module:
    """Fold every batch norm that directly follows a conv into it (inference only): the same
    outputs, about a quarter less time on a CPU."""
    for name, child in list(module.named_children()):
        fuse_batchnorm(child)
    # named pairs (EfficientNet-Lite's _conv -> _bn attributes)
    pairs = [("_conv_stem", "_bn0"), ("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2")]
    for c, b in pairs:
        conv, bn = getattr(module, c, None), getattr(module, b, None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            setattr(module, c, _fold_bn(conv, bn))
            setattr(module, b, nn.Identity())
    if isinstance(module, nn.Sequential):
        items = list(module)
        for i in range(len(items) - 1):
            if isinstance(items[i], nn.Conv2d) and isinstance(items[i + 1], nn.BatchNorm2d):
                module[i] = _fold_bn(items[i], items[i + 1])
                module[i + 1] = nn.Identity()
    return module


@dataclass
class TrackResult:
    boxes: list  # [x, y, w, h] per frame, the first being the init box
    confidence: list  # per frame (1.0 for the first)
    lost: list  # per frame
    fps: float  # frames per second of tracking alone (frames decoded beforehand)

    @property
    def frames(self) -> int:
        return len(self.boxes)

    def to_dict(self) -> dict:
        return {"frames": self.frames, "fps": round(self.fps, 2),
                "boxes": [[round(float(v), 2) for v in b] for b in self.boxes],
                "confidence": [round(float(c), 4) for c in self.confidence], "lost": [bool(v) for v in self.lost]}


@dataclass
class Tracker:
    """A SiamFC tracker: ``init(frame, box)`` then ``update(frame)`` per frame, or ``track``."""

    net: SiamFC
    settings: dict = field(default_factory=lambda: dict(DEFAULT_INPUT))
    threshold: float | None = None  # lost-confidence τ
    card: dict = field(default_factory=dict)

    def __post_init__(self):
        self.settings = {**DEFAULT_INPUT, **self.settings}
        if self.settings["update"] not in UPDATES:
            raise ModelError(f"{self.card.get('name', 'tracker')}: input update {self.settings['update']!r} "
                             f"is not one of {', '.join(UPDATES)}")
        self.net = fuse_batchnorm(self.net.eval())
        self._windows: dict[int, np.ndarray] = {}
        self._encoder = self._compile(self.net.encoder)

    def _compile(self, encoder: nn.Module, side: int | None = None):
        """The search encoder as a frozen TorchScript graph optimised for inference: every conv
        (batch norms folded) a oneDNN convolution on prepacked weights in oneDNN's blocked
        layout, its ReLU6 applied in place there (``torch.jit.optimize_for_inference``).  About
        1.9× faster per 255-px crop on a CPU at one thread than the plain frozen channels-last
        trace (14-16 against 27-32 ms), 2.4× faster than eager mode; outputs equal to ~5e-6
        (float noise).  Run twice here on a probe of the search size, so that the first frame
        does not pay oneDNN's one-off setup (~90 ms)."""
        if next(encoder.parameters()).device.type != "cpu":
            return encoder
        side = side or self.settings["search"]
        try:
            with torch.inference_mode():
                cl = encoder.to(memory_format=torch.channels_last)
                probe = torch.zeros(1, 3, side, side).to(memory_format=torch.channels_last)
                frozen = torch.jit.freeze(torch.jit.trace(cl, probe, check_trace=False))
                try:
                    fast = torch.jit.optimize_for_inference(frozen)
                    for _ in range(2):
                        fast(probe)
                    return fast
                except Exception:  # noqa: BLE001 - a build without oneDNN: the frozen trace still works
                    return frozen
        except Exception:  # noqa: BLE001 - an unusual build without TorchScript: eager mode still works
            return encoder

    @classmethod
    def load(cls, name_or_path: str | Path = "tracker") -> "Tracker":
        path = resolve(name_or_path)
        card = read_card(path)
        return cls(load_net(card, path), card.get("input", {}), card.get("threshold"), card)

    # -- one frame at a time ---------------------------------------------------------------

    def init(self, frame: np.ndarray, box) -> None:
        H, W = frame.shape[:2]
        check_box(box, W, H)
        x, y, w, h = (float(v) for v in box)
        s = self.settings
        self.center = np.array([x + w / 2, y + h / 2])
        self.size = np.array([w, h])
        self.init_size = self.size.copy()
        self.frame_size = (W, H)
        self.fill = frame.reshape(-1, 3).mean(0)
        s_z = context_size(w, h, s["context"])
        z = crop(frame, self.center[0], self.center[1], s_z, s["exemplar"], self.fill)
        with torch.inference_mode():
            self.kernel = self.net.template(to_tensor(z))
        self.kernel0 = self.kernel  # frame 0's, the anchor
        self.kernel_t = self.kernel.clone()  # the running kernel (``update``)
        self.updates = 0
        self.lost = False
        self._recent = deque(maxlen=max(int(s["lost_history"]), 1))  # tracked frames' confidences
        self._recent_scale = 1.0  # the drop rule's reference shrinks by lost_decay a lost frame
        self.velocity = np.zeros(2)  # the last tracked frame's displacement (``motion``)
        self._scale_refs = None
        if s.get("scale_mode") == "exemplar":
            self._exemplar_pyramid(frame, s_z)
        self.scaler = None
        if s.get("scale_mode") == "dsst":
            self.scaler = ScaleFilter(int(s["dsst_scales"]), float(s["dsst_step"]), lr=float(s["dsst_lr"]))
            self.scaler.init(_gray(frame), self.center, self.size)
        # the target's own response on the first frame: what "fully present" looks like
        self.reference = 1.0
        self.dcf = None
        _, _, best, prom, _, _ = self._search(frame)
        self.reference = max(prom, 1e-6)
        if float(s.get("dcf_weight", 0.0)) > 0:  # the target is at the search region's centre
            self.dcf = FeatureDCF(float(s["dcf_lambda"]), float(s["dcf_sigma"]), float(s["dcf_lr"]))
            self.dcf.init(self._feats[best][0])

    def _gains(self) -> np.ndarray:
        half = (self.settings["scale_num"] - 1) // 2
        return np.array([self.settings["scale_step"] ** i for i in range(-half, half + 1)])

    def _exemplar_pyramid(self, frame: np.ndarray, s_z: float) -> None:
        """Kernels of the first frame's target as if it had grown by g (the exemplar cropped at
        s_z/g), one per scale, and each kernel's prominence on its own first-frame search region
        (cropped at s_x/g: the target exactly at that kernel's scale), which the scales' peaks
        are divided by, so that every scale is scored as a fraction of its own perfect match."""
        s = self.settings
        gains = self._gains()
        c = self.center
        zs = [crop(frame, c[0], c[1], s_z / g, s["exemplar"], self.fill) for g in gains]
        s_x = s_z * s["search"] / s["exemplar"]
        xs = [crop(frame, c[0], c[1], s_x / g, s["search"], self.fill) for g in gains]
        with torch.inference_mode():
            self.kernels = self.net.template(to_tensor(zs))  # (S, C, k, k)
            feat = self._encoder(to_tensor(xs, channels_last=True)).contiguous()
            r = (xcorr(self.kernels, feat) * self.net.scale + self.net.bias)[:, 0].numpy()
        self._scale_refs = np.maximum([self._prominence(m) for m in r], 1e-6)

    def _prominence(self, r: np.ndarray) -> float:
        """How far the peak stands above the map's median (the background level)."""
        return float(r.max() - np.median(r))

    def _search(self, frame: np.ndarray):
        """Encode the search region and correlate at every scale → (maps, gains, best, prominence, side, px)."""
        s = self.settings
        w, h = self.size
        s_x = context_size(w, h, s["context"]) * s["search"] / s["exemplar"]
        search_px = s["lost_search"] if self.lost else s["search"]
        side = s_x * search_px / s["search"]
        half = 0 if s.get("scale_mode") == "dsst" else (s["scale_num"] - 1) // 2  # dsst: the unit scale only
        if s.get("scale_mode") == "image" and half:  # SiamFC's own: one crop per scale, one batch
            gains = list(self._gains())
            xs = [crop(frame, self.center[0], self.center[1], side * g, search_px, self.fill) for g in gains]
            with torch.inference_mode():
                feat = self._encoder(to_tensor(xs, channels_last=True)).contiguous()
                r = (xcorr(self.kernel, feat) * self.net.scale + self.net.bias)[:, 0].numpy()
            maps = list(r)
            self._feats = [feat[i:i + 1] for i in range(len(maps))]
        elif s.get("scale_mode") == "exemplar" and half:  # one encoder pass, one kernel per scale
            x = crop(frame, self.center[0], self.center[1], side, search_px, self.fill)
            with torch.inference_mode():
                feat = self._encoder(to_tensor(x, channels_last=True)).contiguous()
                r = (F.conv2d(feat, self.kernels) * self.net.scale + self.net.bias)[0].numpy()
            maps, gains = list(r), list(self._gains())
            self._feats = [feat] * len(maps)
        else:
            maps, gains = self._feature_scales(frame, side, search_px, half)
        prom = np.array([self._prominence(m) for m in maps])
        if self._scale_refs is not None and s.get("scale_norm", "self") == "self":  # fraction of its own match
            prom = prom / self._scale_refs * self._scale_refs[half]
        penalised = np.where(np.isclose(gains, 1.0), prom, prom * s["scale_penalty"])
        best = int(np.argmax(penalised))
        return maps, gains, best, float(prom[best]), side, search_px

    def _window(self, n: int, weight: float | None = None) -> np.ndarray:
        """The n×n Hann window (float32, sum 1), or ``weight`` × it (both kept per n and weight)."""
        if n not in self._windows:
            h = np.hanning(n)
            win = np.outer(h, h)
            self._windows[n] = (win / win.sum()).astype(np.float32)
        if weight is None:
            return self._windows[n]
        key = (n, float(weight))
        if key not in self._windows:
            self._windows[key] = weight * self._windows[n]
        return self._windows[key]

    def _feature_scales(self, frame, side, search_px, half):
        """One encoder pass; the scales taken by resizing the feature map by 1/g."""
        s = self.settings
        k = s["kernel"]
        x = crop(frame, self.center[0], self.center[1], side, search_px, self.fill)
        with torch.inference_mode():
            feat = self._encoder(to_tensor(x, channels_last=True)).contiguous()
            n0 = feat.shape[-1]
            gains, maps, self._feats = [], [], []
            for i in range(-half, half + 1):
                n = max(int(round(n0 / s["scale_step"] ** i)), k)
                f = feat if n == n0 else F.interpolate(feat, size=(n, n), mode="bilinear", align_corners=False)
                maps.append((xcorr(self.kernel, f) * self.net.scale + self.net.bias)[0, 0].numpy())
                gains.append(n0 / n)
                self._feats.append(f)
        return maps, gains

    def _cut(self, feat: torch.Tensor, pos: np.ndarray) -> torch.Tensor:
        """The k×k feature cells whose correlation window starts at the response position ``pos``
        (x, y in response cells, sub-cell), sampled bilinearly → (1, C, k, k)."""
        k = self.settings["kernel"]
        n_y, n_x = feat.shape[-2:]
        steps = torch.arange(k, dtype=torch.float32)
        gx = (float(pos[0]) + steps) * 2 / max(n_x - 1, 1) - 1
        gy = (float(pos[1]) + steps) * 2 / max(n_y - 1, 1) - 1
        grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)[None]
        return F.grid_sample(feat, grid, mode="bilinear", padding_mode="border", align_corners=True)

    def _learn_kernel(self, frame: np.ndarray, feat: torch.Tensor, pos: np.ndarray) -> None:
        """One step of the linear template update (``update``), on a confidently tracked frame."""
        s = self.settings
        with torch.inference_mode():
            if s["update"] == "features":
                new = self._cut(feat, pos)
            else:  # "exemplar": a fresh crop at the new box
                if getattr(self, "_encoder_z", None) is None:
                    self._encoder_z = self._compile(self.net.encoder, s["exemplar"])
                s_z = context_size(self.size[0], self.size[1], s["context"])
                z = crop(frame, self.center[0], self.center[1], s_z, s["exemplar"], self.fill)
                f = self._encoder_z(to_tensor(z, channels_last=True)).contiguous()
                k, h = s["kernel"], f.shape[-1]
                o = (h - k) // 2
                new = f[..., o:o + k, o:o + k]
            eta, lam = float(s["update_rate"]), float(s["update_anchor"])
            self.kernel_t = (1 - eta) * self.kernel_t + eta * new
            self.kernel = (lam * self.kernel0 + (1 - lam) * self.kernel_t).contiguous()
        self.updates += 1

    def _fuse_dcf(self, r: np.ndarray, feat: torch.Tensor) -> np.ndarray:
        """SiamFC's map r fused with the DCF's response on the same search features, read at the
        target centres of r's positions (p + (k − 1)/2 cells), both scaled to 0..1."""
        c = (self.settings["kernel"] - 1) / 2
        R0, R1 = r.shape
        rd = self.dcf.response(feat[0], (c, c))[:R0, :R1].numpy()
        beta = float(self.settings["dcf_weight"])

        def unit(m):
            m = m - m.min()
            return m / max(float(m.max()), 1e-12)

        return ((1 - beta) * unit(r) + beta * unit(rd)).astype(np.float32)

    def _lost_bar(self) -> float | None:
        """The confidence below which this frame is lost: τ, or (``lost_ratio`` ρ > 0, three tracked
        frames seen) ρ × their recent median (× the decay while lost) when that is higher."""
        tau = self.threshold
        rho = float(self.settings["lost_ratio"])
        if tau is None or rho <= 0 or len(self._recent) < 3:
            return tau
        return max(tau, rho * float(np.median(self._recent)) * self._recent_scale)

    def update(self, frame: np.ndarray) -> tuple[list, float, bool]:
        s = self.settings
        stride, up = s["stride"], s["response_up"]
        before = self.center.copy()
        m = float(s.get("motion", 0.0))
        if m and not self.lost:  # search where the target would be at its last velocity
            W, H = self.frame_size
            self.center = np.clip(self.center + m * self.velocity, [0, 0], [W, H])
        maps, gains, best, prom, side, search_px = self._search(frame)
        conf = float(np.clip(prom / self.reference, 0.0, 1.0))
        g = gains[best]

        import cv2

        r = maps[best]
        R = r.shape[0]
        dcf_used = False
        if self.dcf is not None and not self.lost and self.dcf.fits(self._feats[best]):
            r, dcf_used = self._fuse_dcf(r, self._feats[best]), True
        U = R * up
        ru = cv2.resize(r, (U, U), interpolation=cv2.INTER_CUBIC)
        wi = s["lost_window_influence"] if self.lost else s["window_influence"]
        # (ru − min) / Σ, then (1 − wi)·ru + wi·window, in place (the same operations, no copies)
        ru -= ru.min()
        ru /= max(float(ru.sum()), 1e-12)
        ru *= 1 - wi
        ru += self._window(U, wi)
        py, px = np.unravel_index(int(np.argmax(ru)), ru.shape)
        pos = (np.array([px, py]) + 0.5) / up - 0.5  # in response cells
        d = pos - (R - 1) / 2
        disp = d * stride * g * side / search_px

        bar = self._lost_bar()
        if bar is not None and conf < bar:
            self.lost = True  # keep the box; search wider next frame
            self.center, self.velocity = before, np.zeros(2)
            self._recent_scale *= float(s["lost_decay"])
        else:
            self.lost = False
            self._recent.append(conf)
            self._recent_scale = 1.0
            W, H = self.frame_size
            self.center = np.clip(self.center + disp, [0, 0], [W, H])
            self.velocity = self.center - before
            if self.scaler is not None:  # the scale filter's estimate at the new position, then learn it
                gray = _gray(frame)
                new = self.size * self.scaler.estimate(gray, self.center, self.size)
            else:
                new = self.size * ((1 - s["scale_lr"]) + s["scale_lr"] * g)
            self.size = np.clip(new, np.maximum(self.init_size * 0.1, 4.0), [W, H])
            if self.scaler is not None:
                self.scaler.update(gray, self.center, self.size)
            if s.get("update", "none") != "none" and conf >= float(s["update_min_confidence"]):
                self._learn_kernel(frame, self._feats[best], pos)
            if dcf_used and conf >= float(s["dcf_min_confidence"]):  # the target now at centre + d
                self.dcf.update((float(d[1]), float(d[0])))
        b = [self.center[0] - self.size[0] / 2, self.center[1] - self.size[1] / 2, self.size[0], self.size[1]]
        return [float(v) for v in b], conf, self.lost

    # -- a whole sequence ------------------------------------------------------------------

    def track(self, frames: list[np.ndarray], box) -> TrackResult:
        if not frames:
            raise DataError("no frames to track")
        t0 = time.perf_counter()
        self.init(frames[0], box)
        boxes, confs, lost = [[float(v) for v in box]], [1.0], [False]
        for f in frames[1:]:
            if f.shape != frames[0].shape:
                raise DataError(f"frame of size {f.shape[1]}x{f.shape[0]}, the first is "
                                f"{frames[0].shape[1]}x{frames[0].shape[0]} (frames of mixed sizes)")
            b, c, l = self.update(f)
            boxes.append(b), confs.append(c), lost.append(l)
        dt = time.perf_counter() - t0
        return TrackResult(boxes, confs, lost, len(frames) / max(dt, 1e-9))

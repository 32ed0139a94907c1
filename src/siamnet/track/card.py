"""The tracker's model files: ``NAME.safetensors`` (``encoder.*``, ``head.scale``, ``head.bias``)
and ``NAME.json``, a ``siamnet-model/2`` card of kind ``track``.

The card's ``input`` holds the tracker's settings (exemplar/search sizes, context, scales and
penalties, the lost-search size); ``threshold`` is the lost-confidence τ (a frame whose peak
confidence is below τ reports the target as lost).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import ModelError
from .encoder import build_encoder
from .model import SiamFC

FORMAT = "siamnet-model/2"
KIND = "track"

#: SiamFC's inference settings (Bertinetto et al. 2016, the 3-scale variant), the card's ``input``.
#: ``scale_mode``: how the scales are searched — "exemplar" (one kernel per scale, cut from the first
#: frame at s_z/g, each scale's peak divided by that kernel's own first-frame match; one encoder
#: pass per frame), "image" (SiamFC's pyramid: one search crop per scale, 3× the work) or
#: "feature" (the search features resized by 1/g; biased to the unit scale by the resampling).
#: ``scale_norm``: "self" (exemplar mode's per-kernel normalisation) or "none"; "dsst": SiamFC at
#: the unit scale for the position, then a 1-D scale correlation filter (:mod:`siamnet.track.scale`)
#: learned online for the size (``dsst_scales`` scales of step ``dsst_step``, learning rate ``dsst_lr``).
#: ``update``: the exemplar kernel's update — "none" (frame 0's kernel k0 forever), "features" (the
#: target's own k×k cells cut out of the search features at the new peak, no extra encoder pass) or
#: "exemplar" (a fresh exemplar crop at the new box, one extra encoder pass on a 127-px crop); on a
#: frame whose confidence is ≥ ``update_min_confidence`` the running kernel k_t ← (1 − η)·k_t + η·k_new
#: (η = ``update_rate``) and the kernel used is λ·k0 + (1 − λ)·k_t (λ = ``update_anchor``).
#: ``motion``: the next search region is centred ``motion`` × the last tracked displacement ahead
#: of the box (a constant-velocity prior; 0: on the box, SiamFC's).
#: ``dcf_weight`` β: a discriminative correlation filter learned online on the search features
#: (:mod:`siamnet.track.dcf`) fused with SiamFC's response, r = (1 − β)·r_siam + β·r_dcf (0: off,
#: SiamFC alone); ``dcf_lr`` its update rate η, ``dcf_lambda`` its ridge λ (relative to the first
#: frame's spectral energy), ``dcf_sigma`` its Gaussian label's width in cells, and
#: ``dcf_min_confidence`` the confidence a frame needs for the filter to learn it.
#: ``lost_ratio`` ρ: besides τ, a frame is also lost when its confidence falls below ρ × the median
#: confidence of the last ``lost_history`` tracked frames (a sudden drop: an occluder, the target
#: gone; 0: τ alone); while lost that reference shrinks by ``lost_decay`` a frame, so that a target
#: whose look changed while hidden is taken back in the end.
DEFAULT_INPUT = {
    "exemplar": 127, "search": 255, "context": 0.5, "stride": 8, "kernel": 8,
    "scale_num": 3, "scale_step": 1.0375, "scale_penalty": 0.9745, "scale_lr": 0.59,
    "window_influence": 0.176, "response_up": 16, "lost_search": 383, "lost_window_influence": 0.05,
    "scale_mode": "dsst", "scale_norm": "self", "dsst_scales": 33, "dsst_step": 1.02, "dsst_lr": 0.01,
    "update": "none", "update_rate": 0.01, "update_anchor": 0.5, "update_min_confidence": 0.5,
    "motion": 0.0,
    "dcf_weight": 0.0, "dcf_lr": 0.02, "dcf_lambda": 0.1, "dcf_sigma": 1.0, "dcf_min_confidence": 0.3,
    "lost_ratio": 0.0, "lost_history": 10, "lost_decay": 0.9,
}


def save_tracker(path: str | Path, net: SiamFC, card: dict) -> Path:
    """Write ``path``.safetensors and ``path``.json (the card gets format and kind)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"encoder.{k}": v.detach().contiguous() for k, v in net.encoder.state_dict().items()}
    tensors["head.scale"] = net.scale.detach().reshape(1).contiguous()
    tensors["head.bias"] = net.bias.detach().reshape(1).contiguous()
    save_file(tensors, str(path.with_suffix(".safetensors")))
    card = {"name": path.name, "format": FORMAT, "kind": KIND, **{k: v for k, v in card.items()
                                                                  if k not in ("format", "kind")}}
    card["name"] = card.get("name") or path.name
    path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return path.with_suffix(".json")


def resolve(name_or_path: str | Path) -> Path:
    """A bundled tracker's name or a path to NAME(.json|.safetensors) → the card's path."""
    p = Path(name_or_path)
    if p.suffix in (".json", ".safetensors"):
        p = p.with_suffix("")
    if p.with_suffix(".json").is_file():
        return p.with_suffix(".json")
    from ..models import BUNDLED

    b = BUNDLED / f"{name_or_path}.json"
    if b.is_file():
        return b
    raise ModelError(f"{name_or_path}: no such tracker model (neither a bundled name nor NAME.json)")


def read_card(path: Path) -> dict:
    try:
        card = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not a readable model card ({exc})") from None
    if card.get("format") != FORMAT:
        raise ModelError(f"{path}: not a siamnet model card (format {card.get('format')!r}, expected {FORMAT!r})")
    if card.get("kind") != KIND:
        raise ModelError(f"{path}: a {card.get('kind')!r} model, not a tracker (kind 'track')")
    return card


def load_net(card: dict, path: Path) -> SiamFC:
    enc = build_encoder(card.get("encoder", ""), card.get("encoder_args", {}))
    settings = {**DEFAULT_INPUT, **card.get("input", {})}
    net = SiamFC(enc, kernel=int(settings["kernel"]))
    weights = path.with_suffix(".safetensors")
    try:
        tensors = load_file(str(weights))
    except (OSError, SafetensorError) as exc:
        raise ModelError(f"{weights}: not readable tracker weights ({exc})") from None
    enc_sd = {k[len("encoder."):]: v for k, v in tensors.items() if k.startswith("encoder.")}
    try:
        net.encoder.load_state_dict(enc_sd)
    except RuntimeError as exc:
        raise ModelError(f"{weights}: weights do not fit the card's encoder ({str(exc).splitlines()[0]})") from None
    with torch.no_grad():
        net.scale.copy_(tensors["head.scale"].reshape(()))
        net.bias.copy_(tensors["head.bias"].reshape(()))
    return net.eval()

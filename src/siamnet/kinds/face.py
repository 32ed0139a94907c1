"""The ``face`` kind: a photo → the aligned chip of its face (detect, 5 landmarks, dlib's
``get_face_chip``), the pipeline of :mod:`siamnet.faces` (pluggable with
``siamnet.faces.use_pipeline``).

Settings: ``chip`` (side of the aligned chip, 150 for dlib's ResNet), ``flip_average``
(encode each chip and its mirror image and average the two), and, for encoders trained by
``siamnet train`` on smaller inputs, ``size``/``mode`` (the chip is resized with Lanczos to
``size``×``size`` and converted to ``mode``), ``pick`` (which face is the subject of a
photo holding several: ``largest`` or ``centre``, the one nearest the photo's centre) and
``detector`` (``hog``, ``hog+cnn``: dlib's CNN detector where HOG finds nothing, or ``cnn``).  A photo without a face raises
:class:`~siamnet.faces.api.NoFaceError` naming it; :meth:`FaceKind.instances` lists every face.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from ..data.images import Preprocess, to_float
from . import Kind, register_kind


@register_kind
class FaceKind(Kind):
    name = "face"

    def __init__(self, chip: int = 150, mode: str = "RGB", flip_average: bool = False,
                 size: int | None = None, alignment: str = "", pick: str = "largest",
                 detector: str = "hog", **extra: Any):
        from ..faces.detect import check_detector, check_pick

        if isinstance(chip, bool) or not isinstance(chip, int) or not 32 <= chip <= 1024:
            raise ValueError(f"chip must be a whole number of pixels from 32 to 1024, got {chip!r}")
        if mode not in ("L", "RGB"):
            raise ValueError(f"mode must be 'L' or 'RGB', got {mode!r}")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 1024):
            raise ValueError(f"size must be null or a whole number of pixels from 8 to 1024, got {size!r}")
        check_pick(pick), check_detector(detector)
        super().__init__(chip=chip, mode=mode, flip_average=bool(flip_average), alignment=alignment, pick=pick,
                         detector=detector, **extra)
        self.pick, self.detector = pick, detector
        if size is not None:
            self.settings["size"] = size
        self.chip = chip
        self.flip_average = bool(flip_average)
        self.resize = None if size is None else Preprocess(size=size, mode=mode, invert=False)

    def describe(self, x: Any, default: str = "image") -> str:
        from ..faces.api import describe

        return describe(x, default)

    def load(self, x: Any) -> np.ndarray:
        """The aligned chip (chip, chip, 3) uint8 of the photo's subject (``pick``)."""
        return self.load_many([x])[0]

    def load_many(self, xs: Sequence[Any]) -> list[np.ndarray]:
        """Chips of each photo's subject (``pick``), found on worker threads (dlib releases
        the GIL); the first photo without a face raises NoFaceError naming it."""
        from ..faces.api import NoFaceError, iter_chips

        xs = list(xs)
        out = []
        for i, (chip, _) in enumerate(iter_chips(xs, self.chip, pick=self.pick, detector=self.detector)):
            if chip is None:
                raise NoFaceError(f"{self.describe(xs[i], f'image {i + 1}')}: no face detected")
            out.append(chip)
        return out

    def instances(self, x: Any) -> list[tuple[dict | None, np.ndarray]]:
        """Every face in the photo, largest first, as ({"box": FaceBox}, chip)."""
        from ..faces.api import faces

        return [({"box": f.box}, f.chip) for f in faces(x, chip_size=self.chip, detector=self.detector)]

    def views(self, items: Sequence[np.ndarray]) -> list[Sequence[np.ndarray]]:
        if not self.flip_average:
            return [items]
        return [items, [np.ascontiguousarray(c[:, ::-1]) for c in items]]

    def collate(self, items: Sequence[np.ndarray], device: str | torch.device = "cpu") -> torch.Tensor:
        if self.resize is not None:  # a siamnet-trained encoder: chip → its input, 0..1
            from PIL import Image

            return to_float(np.stack([self.resize.apply(Image.fromarray(c), Image.LANCZOS) for c in items]), device)
        from ..faces.dlib_resnet import chips_to_tensor  # dlib's ResNet: 0..255, channels-last

        return chips_to_tensor(np.stack(items), device, channels_last=True)

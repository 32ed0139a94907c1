"""Object tracking with a fully-convolutional Siamese network (SiamFC, Bertinetto et al. 2016).

The only example of the target is the box on the first frame; the same encoder φ encodes that
exemplar and every search region after it, and the response map φ(z) ⋆ φ(x) says where the
target is.  A frame whose peak confidence falls below the card's τ reports the target lost,
and the tracker widens its search to find it again.

>>> from siamnet.track import load_tracker
>>> tracker = load_tracker("tracker")
>>> result = tracker.track(frames, (x, y, w, h))   # boxes, confidence, lost per frame
"""

from __future__ import annotations


def load_tracker(name_or_path="tracker"):
    """A bundled tracker's name, or a path to NAME(.json|.safetensors) → :class:`Tracker`."""
    from .tracker import Tracker

    return Tracker.load(name_or_path)


__all__ = ["load_tracker"]

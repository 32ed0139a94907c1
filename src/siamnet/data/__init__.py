"""Folders and official file formats turned into arrays and batches. Nothing here trains."""

from .augment import KochAffine
from .episodes import Episode, make_episodes
from .folders import ImageFolder, add_rotations
from .images import Preprocess, load_image, open_image, to_float
from .lake import Run, read_runs
from .pairs import make_pairs
from .sampler import PKSampler

__all__ = ["KochAffine", "Episode", "make_episodes", "ImageFolder", "add_rotations", "Preprocess",
           "load_image", "open_image", "to_float", "Run", "read_runs", "PKSampler", "make_pairs"]

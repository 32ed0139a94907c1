"""The idea itself, in pure PyTorch: encoders, distance, losses, miners, the pair head and the
Siamese wrapper. Nothing here knows about files, databases, HTTP or faces."""

from .distance import DISTANCES, Euclidean, SquaredEuclidean, get_distance
from .encoders import ENCODERS, ConvNet, Encoder, KochNet, ResNet, build_encoder
from .heads import PairHead, ResidualProjection
from .losses import ContrastiveLoss, PairBCELoss, ResponseMapLogisticLoss, TripletMarginLoss
from .miners import MINERS, BatchAllMiner, BatchHardMiner, PairMiner, SemiHardMiner
from .siamese import ContrastiveObjective, PairObjective, SiameseNetwork, TripletObjective

__all__ = [
    "DISTANCES", "Euclidean", "SquaredEuclidean", "get_distance",
    "ENCODERS", "ConvNet", "Encoder", "KochNet", "ResNet", "build_encoder",
    "PairHead", "ResidualProjection", "ContrastiveLoss", "PairBCELoss", "ResponseMapLogisticLoss",
    "TripletMarginLoss",
    "MINERS", "BatchAllMiner", "BatchHardMiner", "PairMiner", "SemiHardMiner",
    "ContrastiveObjective", "PairObjective", "SiameseNetwork", "TripletObjective",
]

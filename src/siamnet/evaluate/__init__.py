"""Metrics and protocols computed from encodings: one-shot episodes, Lake's runs, verification."""

from .embedding import pca_2d, plot_embeddings
from .oneshot import episode_correct, evaluate_episodes, evaluate_runs
from .openset import open_set_rates, open_set_threshold
from .verification import (auc, best_accuracy_threshold, cross_validated_accuracy, equal_error_rate,
                           plot_roc, roc_curve, threshold_at_far, verification_report)

__all__ = ["pca_2d", "plot_embeddings", "episode_correct", "evaluate_episodes", "evaluate_runs", "open_set_rates", "open_set_threshold", "auc", "best_accuracy_threshold", "cross_validated_accuracy",
           "equal_error_rate", "plot_roc", "roc_curve", "threshold_at_far", "verification_report"]

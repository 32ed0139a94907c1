"""Print the README's results table from the bundled models' cards (numbers measured by training)."""

from siamnet.models import list_models


def main() -> None:
    print("| model | objective | miner | epochs (best) | validation 20-way 1-shot, within alphabet | ± 95% CI | verification AUC | EER | τ |")
    # τ is a distance (same when d < τ) for distance models, a probability (same when P > τ) for pair-head ones
    print("|---|---|---|---|---|---|---|---|---|")
    for c in list_models():
        one = c.metrics.get("validation_oneshot")
        ver = c.metrics.get("validation_verification", {})
        if not one or not one.get("within_groups"):
            continue  # only the alphabet (Omniglot) models: the table's protocol is within-alphabet
        miner = c.training.get("miner", "") if c.objective == "triplet" else "balanced pairs"
        print(f"| `{c.name}` | {c.objective} | {miner} | {c.metrics['epochs_run']} ({c.metrics['best_epoch']}) "
              f"| {100 * one['accuracy']:.2f} % ({one['trials']} trials) | {100 * one['accuracy_ci95']:.2f} "
              f"| {ver.get('auc', float('nan')):.4f} | {100 * ver.get('eer', float('nan')):.2f} % "
              f"| {'P(same) > ' if c.score == 'pair_head' else 'd < '}{c.threshold:.4f} |")


if __name__ == "__main__":
    main()

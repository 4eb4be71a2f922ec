"""The knowledge base format: parsing, every `kb check` problem, and the CLI's exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportbot.cli import main
from supportbot.domain.errors import KnowledgeBaseError
from supportbot.domain.models import Lang, Severity
from supportbot.knowledge.canned import parse_canned_replies
from supportbot.knowledge.loader import diff, load_knowledge_base
from supportbot.knowledge.parser import parse_article
from supportbot.retrieval.duplicates import find_near_duplicates
from supportbot.retrieval.embedders import HashingEmbedder

GOOD = """---
title: Card payment declined
tags: [card, payment]
questions:
  - my card was declined
---
Your bank may decline a payment. See [reset](../account/reset-password.md).

## Steps
1. Open **Settings > Payments**.
2. Check the expiry date,
   then the CVC code.
3. Call your bank.
"""


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def codes(problems: object) -> set[str]:
    return {p.code for p in problems}  # type: ignore[attr-defined]


def test_parser_reads_front_matter_body_and_steps() -> None:
    article, problems = parse_article(GOOD, "en/payments/card-declined.md")
    assert problems == []
    assert article is not None
    assert article.id == "en/payments/card-declined"
    assert article.lang is Lang.EN
    assert article.category == "payments"
    assert article.tags == ("card", "payment")
    assert [s.number for s in article.steps] == [1, 2, 3]
    assert article.steps[1].text == "Check the expiry date,\nthen the CVC code."
    assert "## Steps" not in article.body


def test_parser_folder_language_and_explicit_values() -> None:
    text = "---\ntitle: Как удалить профиль\nid: delete\ncategory: profile\n---\nНастройки."
    article, _ = parse_article(text, "ru/misc/deep/delete.md")
    assert article is not None
    assert (article.id, article.lang, article.category) == ("delete", Lang.RU, "profile")
    nested, _ = parse_article("---\ntitle: T\n---\nBody text here.", "groups/admins/x.md")
    assert nested is not None
    assert nested.category == "groups"


def test_parser_detects_language_when_absent() -> None:
    article, _ = parse_article("---\ntitle: Пароль\n---\nЗабыли пароль? Сбросьте его.", "x.md")
    assert article is not None
    assert article.lang is Lang.RU


def test_parser_invalid_yaml_points_at_the_line() -> None:
    text = "---\ntitle: Card\ntags: [card, payment\nquestions: []\n---\nBody."
    article, problems = parse_article(text, "bad.md")
    assert article is None
    [problem] = problems
    assert problem.code == "invalid-yaml"
    assert problem.line in {3, 4}
    assert "not valid YAML" in problem.message


def test_parser_missing_title_says_how_to_fix() -> None:
    article, problems = parse_article("---\ntags: [a]\n---\nBody.", "t.md")
    assert article is None
    assert codes(problems) == {"missing-title"}
    assert 'add "title: ..."' in problems[0].message


def test_parser_missing_front_matter() -> None:
    _, problems = parse_article("Just text", "t.md")
    assert codes(problems) == {"no-front-matter"}


def test_parser_empty_body_is_an_error() -> None:
    _, problems = parse_article("---\ntitle: Empty\n---\n\n", "e.md")
    assert codes(problems) == {"empty-body"}
    assert problems[0].line == 4


def test_parser_steps_must_be_a_numbered_list() -> None:
    text = "---\ntitle: T\n---\nIntro.\n\n## Шаги\n- Откройте настройки.\n- Нажмите «Удалить».\n"
    _, problems = parse_article(text, "s.md")
    [problem] = problems
    assert problem.code == "steps-not-numbered"
    assert problem.line == 6
    assert "found a bullet list" in problem.message


def test_parser_warns_about_unknown_keys_and_order() -> None:
    text = "---\ntitle: T\nauthor: me\n---\nText.\n\n## Steps\n1. One.\n3. Two.\n"
    article, problems = parse_article(text, "w.md")
    assert article is not None
    assert codes(problems) == {"unknown-key", "steps-order"}
    assert all(p.severity is Severity.WARNING for p in problems)
    assert next(p for p in problems if p.code == "unknown-key").line == 3


def test_canned_replies_parse_with_placeholders() -> None:
    text = "- id: hello\n  title: Greeting\n  lang: en\n  text: Hi {name}!\n- id: x\n"
    replies, problems = parse_canned_replies(text, "canned_replies.yaml")
    assert [r.id for r in replies] == ["hello"]
    assert replies[0].text == "Hi {name}!"
    assert codes(problems) == {"canned-missing"}
    assert problems[0].line == 5


def test_loader_finds_duplicate_ids_and_broken_links(tmp_path: Path) -> None:
    write(tmp_path, "en/payments/card-declined.md", GOOD)
    write(
        tmp_path,
        "en/payments/copy.md",
        "---\ntitle: Copy\nid: en/payments/card-declined\n---\nText.",
    )
    kb = load_knowledge_base(tmp_path)
    by_code = {p.code: p for p in kb.problems}
    assert by_code["duplicate-id"].path == "en/payments/copy.md"
    assert "en/payments/card-declined.md" in by_code["duplicate-id"].message
    assert by_code["broken-link"].line == 7
    assert "en/account/reset-password" in by_code["broken-link"].message


def test_loader_resolves_links_relative_and_from_the_root(tmp_path: Path) -> None:
    write(tmp_path, "en/payments/card-declined.md", GOOD)
    write(
        tmp_path,
        "en/account/reset-password.md",
        "---\ntitle: Reset\n---\nSee [card](en/payments/card-declined).",
    )
    kb = load_knowledge_base(tmp_path)
    assert kb.problems == ()
    assert len(kb.articles) == 2


def test_loader_keeps_the_last_good_version_of_a_broken_file(tmp_path: Path) -> None:
    path = write(tmp_path, "en/a.md", "---\ntitle: Good title\n---\nGood body.")
    first = load_knowledge_base(tmp_path)
    path.write_text("---\ntitle: [broken\n---\nNew body.", encoding="utf-8")
    second = load_knowledge_base(tmp_path, first)
    assert second.articles["en/a"].title == "Good title"
    assert {"invalid-yaml", "kept-last-good"} <= codes(second.problems)
    assert diff(first, second).changed == frozenset()


def test_loader_reports_non_utf8_files(tmp_path: Path) -> None:
    (tmp_path / "latin1.md").write_bytes("---\ntitle: Caf\xe9\n---\nx".encode("latin-1"))
    kb = load_knowledge_base(tmp_path)
    assert codes(kb.problems) == {"not-utf8"}


def test_loader_requires_the_directory(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="not found"):
        load_knowledge_base(tmp_path / "missing")


def test_near_duplicates_are_found_within_a_language() -> None:
    texts = {
        "en/a": "How to delete your profile",
        "en/b": "How to delete your profile",
        "ru/a": "How to delete your profile",
        "en/c": "Card payment declined by the bank",
    }
    articles = [
        parse_article(f"---\ntitle: {t}\nlang: {i[:2]}\n---\n{t}.", f"{i}.md")[0]
        for i, t in texts.items()
    ]
    pairs = find_near_duplicates([a for a in articles if a], HashingEmbedder(), 0.9)
    assert [(a, b) for a, b, _ in pairs] == [("en/a", "en/b")]


def test_kb_check_exit_codes_and_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    kb = tmp_path / "kb"
    write(kb, "en/ok.md", "---\ntitle: Fine\nauthor: x\n---\nText.")
    assert main(["kb", "check", str(kb), "--no-embeddings"]) == 0  # warnings only
    out = capsys.readouterr().out
    assert f"{kb / 'en/ok.md'}:3: warning:" in out
    assert "1 article served, 0 served without steps, 0 skipped" in out

    write(kb, "en/bad.md", "---\ntags: [x]\n---\nText.")
    assert main(["kb", "check", str(kb), "--no-embeddings"]) == 1
    out = capsys.readouterr().out
    assert f"{kb / 'en/bad.md'}:1: error: title is missing" in out


def test_kb_check_the_shipped_knowledge_base_is_clean(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = Path(__file__).parent.parent / "knowledge_base"
    assert main(["kb", "check", str(root), "--no-embeddings"]) == 0, capsys.readouterr().out


def test_kb_preview_shows_each_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path,
        "knowledge_base/en/payments/card.md",
        GOOD.replace(" See [reset](../account/reset-password.md).", ""),
    )
    assert main(["kb", "preview", str(path)]) == 0
    out = capsys.readouterr().out
    assert "id:        en/payments/card" in out
    assert "Step 2 of 3" in out

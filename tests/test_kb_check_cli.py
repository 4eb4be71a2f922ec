"""`supportbot kb check` and `kb preview` as an editor runs them: output and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportbot.cli import main
from supportbot.domain.models import Article, Lang
from supportbot.retrieval.duplicates import find_near_duplicates
from supportbot.retrieval.embedders import HashingEmbedder

GOOD = "---\ntitle: Card payment declined\n---\nYour bank may decline a payment.\n"


@pytest.fixture(autouse=True)
def _no_local_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty directory so a developer's ./config.toml changes nothing."""
    monkeypatch.chdir(tmp_path)


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def check(kb: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["kb", "check", str(kb), "--no-embeddings"])
    return code, capsys.readouterr().out.splitlines()


def test_kb_check_clean_knowledge_base_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = tmp_path / "kb"
    write(kb, "en/payments/card.md", GOOD)
    write(kb, "canned_replies.yaml", "- {id: hi, title: Hi, lang: en, text: 'Hi {name}'}\n")
    code, out = check(kb, capsys)
    assert code == 0
    assert out == [
        "0 errors, 0 warnings; 1 canned reply",
        "1 article served, 0 served without steps, 0 skipped",
    ]


def test_kb_check_warnings_only_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = tmp_path / "kb"
    write(kb, "en/a.md", "---\ntitle: A\nauthor: me\n---\nText.\n\n## Steps\n2. One.\n1. Two.\n")
    code, out = check(kb, capsys)
    assert code == 0
    assert out[0].startswith(f"{kb / 'en/a.md'}:3: warning: unknown front-matter key 'author'")
    assert out[0].endswith("[unknown-key]")
    assert out[1].startswith(f"{kb / 'en/a.md'}:7: warning: steps are numbered 2, 1")
    assert out[-2:] == [
        "0 errors, 2 warnings; 0 canned replies",
        "1 article served, 0 served without steps, 0 skipped",
    ]


def test_kb_check_every_error_is_reported_sorted_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = tmp_path / "kb"
    write(kb, "en/a.md", GOOD)
    write(kb, "en/b.md", "---\ntitle: B\nid: en/a\n---\nText.\n")  # duplicate id
    write(kb, "en/c.md", "---\ntags: [x]\n---\nText.\n")  # missing title
    write(kb, "en/d.md", "---\ntitle: D\n---\n\n")  # empty body
    write(kb, "en/e.md", "---\ntitle: E\n---\nIntro.\n\n## Steps\n- one\n")  # served, no steps
    write(kb, "en/f.md", "---\ntitle: F\n---\nSee [x](../gone.md).\n")  # broken link
    write(kb, "en/g.md", "---\ntitle: G\ntags: [a\n---\nText.\n")  # invalid YAML
    code, out = check(kb, capsys)
    assert code == 1
    assert [line.split(": ", 1)[0] for line in out[:-2]] == [
        f"{kb / 'en/b.md'}:3",
        f"{kb / 'en/c.md'}:1",
        f"{kb / 'en/d.md'}:4",
        f"{kb / 'en/e.md'}:6",
        f"{kb / 'en/f.md'}:4",
        f"{kb / 'en/g.md'}:3",
    ]
    assert [line.rsplit(" [", 1)[1] for line in out[:-2]] == [
        "duplicate-id]",
        "missing-title]",
        "empty-body]",
        "steps-not-numbered]",
        "broken-link]",
        "invalid-yaml]",
    ]
    assert [": error: " in line for line in out[:-2]] == [True] * 3 + [False] + [True] * 2
    assert out[-2:] == [
        "5 errors, 1 warning; 0 canned replies",
        "3 articles served, 1 served without steps, 4 skipped",
    ]


def test_kb_check_missing_directory_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kb", "check", str(tmp_path / "nope"), "--no-embeddings"]) == 2
    assert "Knowledge base directory not found" in capsys.readouterr().err


def test_kb_check_empty_directory_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "kb").mkdir()
    code, out = check(tmp_path / "kb", capsys)
    assert code == 1
    assert "no articles found" in out[0]


def test_kb_check_near_duplicates_with_the_configured_encoder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, "config.toml", '[[retrieval.encoders]]\nbackend = "hashing"\n')
    kb = tmp_path / "kb"
    text = "---\ntitle: Delete your profile\n---\nOpen Settings and delete your profile.\n"
    write(kb, "en/profile/delete.md", text)
    write(kb, "en/profile/remove.md", text)
    write(kb, "en/payments/card.md", GOOD)
    code = main(["--config", str(config), "kb", "check", str(kb), "--threshold", "0.9"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    [warning] = out[:-2]
    assert warning.startswith(f"{kb / 'en/profile/delete.md'}:1: warning: ")
    assert "en/profile/delete.md and en/profile/remove.md are near-duplicates" in warning
    assert "similarity 1.00" in warning
    assert "merge them" in warning
    assert out[-2:] == [
        "0 errors, 1 warning; 0 canned replies",
        "3 articles served, 0 served without steps, 0 skipped",
    ]


def make(article_id: str, title: str, lang: Lang, body: str = "") -> Article:
    return Article(id=article_id, title=title, body=body or title, lang=lang)


def test_find_near_duplicates_pairs_same_language_articles_most_similar_first() -> None:
    articles = [
        make("en/a", "How to delete your profile", Lang.EN),
        make("en/b", "How to delete your profile", Lang.EN),
        make("en/c", "How to delete your profile forever", Lang.EN),
        make("ru/a", "How to delete your profile", Lang.RU),  # a translation, not a duplicate
        make("en/d", "Card payment declined by the bank", Lang.EN),
    ]
    pairs = find_near_duplicates(articles, HashingEmbedder(), 0.8)
    assert [(a, b) for a, b, _ in pairs] == [("en/a", "en/b"), ("en/a", "en/c"), ("en/b", "en/c")]
    assert pairs[0][2] == pytest.approx(1.0)
    assert pairs[0][2] >= pairs[1][2] >= 0.8


def test_find_near_duplicates_nothing_below_the_threshold() -> None:
    articles = [
        make("en/a", "Reset your password", Lang.EN),
        make("en/b", "Card payment declined", Lang.EN),
    ]
    assert find_near_duplicates(articles, HashingEmbedder(), 0.9) == []
    assert find_near_duplicates(articles[:1], HashingEmbedder(), 0.0) == []


def test_kb_preview_shows_fields_and_each_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "somewhere/kb/ru/payments/card.md",
        "---\ntitle: Карта отклонена\ntags: [карта]\nquestions:\n  - карту отклонили\n---\n"
        "Банк отклонил платёж.\n\n## Шаги\n1. Откройте **Настройки**.\n2. Позвоните в банк.\n",
    )
    assert main(["kb", "preview", str(path)]) == 0
    out = capsys.readouterr().out
    assert "id:        ru/payments/card" in out
    assert "language:  ru" in out
    assert "category:  payments" in out
    assert "  - карту отклонили" in out
    assert "Банк отклонил платёж." in out
    # Rendered as the user sees it: the bot's step heading, no raw markdown.
    assert "Шаг 1 из 2\n\nОткройте Настройки." in out
    assert "Шаг 2 из 2\n\nПозвоните в банк." in out


def test_kb_preview_shows_problems_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "kb/en/bad.md", "---\ntags: [x]\n---\nText.\n")
    assert main(["kb", "preview", str(path)]) == 1
    out = capsys.readouterr().out
    assert "not served" in out
    assert f"{path}:1: error: title is missing" in out

"""Editor-proof articles: guides as editors write them, served even when their steps are not.

Through the public interfaces: the loader, `supportbot kb check` and `kb preview`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from supportbot.cli import main
from supportbot.domain.models import Article, Problem, Severity
from supportbot.knowledge.loader import load_knowledge_base
from supportbot.knowledge.parser import parse_article

GUIDE = """---
title: Delete your profile
---
You can delete your profile in Settings.

## Steps
You need your phone at hand.

1. Open **Settings**.
2. Tap **Delete profile**.
3. Confirm with the code from the SMS.

Перед удалением: save your photos, they are gone after 30 days.
- Messages stay with the people you wrote to.
"""


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


def test_loader_guide_with_a_note_after_the_list_keeps_intro_steps_and_closing_note(
    tmp_path: Path,
) -> None:
    write(tmp_path, "en/profile/delete.md", GUIDE)
    kb = load_knowledge_base(tmp_path)
    assert kb.problems == ()
    article = kb.articles["en/profile/delete"]
    assert [step.text for step in article.steps] == [
        "Open **Settings**.",
        "Tap **Delete profile**.",
        "Confirm with the code from the SMS.",
    ]
    assert article.guide_intro == "You need your phone at hand."
    assert article.closing_note == (
        "Перед удалением: save your photos, they are gone after 30 days.\n"
        "- Messages stay with the people you wrote to."
    )
    assert article.body == "You can delete your profile in Settings."


def test_kb_check_guide_with_a_tip_after_the_list_is_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "en/profile/delete.md", GUIDE)
    code, out = check(tmp_path, capsys)
    assert code == 0
    assert out[-1] == "1 article served, 0 served without steps, 0 skipped"


def test_loader_broken_steps_section_is_served_as_a_plain_article_with_a_warning(
    tmp_path: Path,
) -> None:
    text = "---\ntitle: Cancel\n---\nYou can cancel.\n\n## Steps\n- Open orders.\n- Tap Cancel.\n"
    write(tmp_path, "en/orders/cancel.md", text)
    kb = load_knowledge_base(tmp_path)
    article = kb.articles["en/orders/cancel"]
    assert article.steps == ()
    assert "- Tap Cancel." in article.body
    assert [(p.code, p.severity) for p in kb.problems] == [
        ("steps-not-numbered", Severity.WARNING)
    ]
    assert kb.report.without_steps == ("en/orders/cancel.md",)
    assert kb.report.skipped == ()


def test_kb_check_counts_articles_served_without_steps_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "en/a.md", GUIDE)
    write(tmp_path, "en/b.md", "---\ntitle: B\n---\nText.\n\n## Steps\nJust do it.\n")
    write(tmp_path, "en/c.md", "---\ntags: [x]\n---\nNo title.\n")
    write(tmp_path, "en/d.md", "---\ntitle: D\n---\n\n")
    code, out = check(tmp_path, capsys)
    assert code == 1  # something is skipped
    assert out[-1] == "2 articles served, 1 served without steps, 2 skipped"


def test_kb_check_warnings_only_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "en/b.md", "---\ntitle: B\n---\nText.\n\n## Steps\nJust do it.\n")
    code, out = check(tmp_path, capsys)
    assert code == 0
    assert out[-1] == "1 article served, 1 served without steps, 0 skipped"


def test_loader_report_names_skipped_files_and_keeps_the_last_good_version(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "en/profile/delete.md", GUIDE)
    first = load_knowledge_base(tmp_path)
    path.write_text("---\ntitle: [unclosed\n---\nText.\n", encoding="utf-8")
    second = load_knowledge_base(tmp_path, first)
    assert second.articles["en/profile/delete"] == first.articles["en/profile/delete"]
    [skipped] = second.report.skipped
    assert (skipped.path, skipped.code) == ("en/profile/delete.md", "invalid-yaml")
    assert second.report.kept == ("en/profile/delete.md",)
    assert second.report.summary() == "1 article served, 0 served without steps, 1 skipped"


def test_kb_check_flags_bold_and_link_that_cross(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "---\ntitle: Markup\n---\nFine **bold**.\n\nThen **a [b** c](https://x.org).\n"
    write(tmp_path, "en/markup.md", text)
    code, out = check(tmp_path, capsys)
    assert code == 1
    [line] = [line for line in out if "[telegram-markup]" in line]
    assert line.startswith(f"{tmp_path / 'en/markup.md'}:6: error: Telegram would refuse")


def test_kb_preview_shows_each_message_as_the_user_sees_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "en/profile/delete.md", GUIDE)
    assert main(["kb", "preview", str(path), "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "**" not in out  # rendered, not raw markdown
    messages = out.split("--- message ")[1:]
    assert len(messages) == 5  # the answer, three steps, "did it solve the problem?"
    assert "[📋 Show me step by step]" in messages[0]
    assert "You need your phone at hand." in messages[1]
    assert messages[1].index("You need your phone") < messages[1].index("Step 1 of 3")
    assert "Перед удалением" in messages[3]
    assert "Step 3 of 3" in messages[3]
    assert "Did it solve the problem?" in messages[4]


async def test_bot_sends_a_guides_introduction_with_step_1_and_its_closing_note_with_the_last(
    tmp_path: Path,
) -> None:
    from fakes import TOKEN, ScriptedSuggester, running_bot
    from faketg import FakeTelegram
    from supportbot.domain.models import DecisionKind

    write(tmp_path, "en/profile/delete.md", GUIDE)
    kb = load_knowledge_base(tmp_path)
    script = [("delete", DecisionKind.ANSWER, ("en/profile/delete",))]
    suggester = ScriptedSuggester(items=list(kb.articles.values()), script=script)
    async with FakeTelegram(token=TOKEN) as tg, running_bot(tg, suggester=suggester) as bot:
        (answer,) = await bot.say(1001, "how do I delete my profile", language_code="en")
        assert (answer.text or "").endswith("You can delete your profile in Settings.")
        (step1,) = await bot.press(1001, answer, "step by step")
        assert step1.text == "You need your phone at hand.\n\nStep 1 of 3\n\nOpen Settings."
        (step2,) = await bot.press(1001, step1, "Done")
        assert "Перед удалением" not in (step2.text or "")
        (step3,) = await bot.press(1001, step2, "Done")
        assert step3.text == (
            "Step 3 of 3\n\nConfirm with the code from the SMS.\n\n"
            "Перед удалением: save your photos, they are gone after 30 days.\n"
            "- Messages stay with the people you wrote to."
        )
        (question,) = await bot.press(1001, step3, "Done")
        assert question.text == "That was the last step. Did it solve the problem?"


def parse(body: str) -> tuple[Article | None, list[Problem]]:
    return parse_article(f"---\ntitle: T\n---\nText.\n\n## Steps\n{body}", "en/t.md")


def test_parse_article_bullets_right_after_the_last_step_are_the_closing_note() -> None:
    article, problems = parse("1. Open.\n2. Tap.\n- Tip: it is quick.\n- Tip two.\n")
    assert problems == []
    assert article is not None
    assert [s.text for s in article.steps] == ["Open.", "Tap."]
    assert article.closing_note == "- Tip: it is quick.\n- Tip two."


def test_parse_article_an_unindented_line_right_after_a_step_continues_it() -> None:
    article, problems = parse("1. Open the app\nand sign in.\n2. Tap.\n")
    assert problems == []
    assert article is not None
    assert article.steps[0].text == "Open the app\nand sign in."


def test_parse_article_text_between_steps_stays_with_the_step_above_with_a_warning() -> None:
    article, problems = parse("1. Open.\n\nNote: wait a bit.\n\n2. Tap.\n")
    assert article is not None
    assert [s.text for s in article.steps] == ["Open.\n\nNote: wait a bit.", "Tap."]
    assert article.closing_note == ""
    [problem] = problems
    assert (problem.code, problem.line, problem.severity) == (
        "steps-interrupted",
        9,
        Severity.WARNING,
    )


def test_parse_article_empty_steps_are_left_out_with_a_warning() -> None:
    article, problems = parse("1.\n2. Tap.\n")
    assert article is not None
    assert [(s.number, s.text) for s in article.steps] == [(1, "Tap.")]
    assert [(p.code, p.severity) for p in problems] == [("empty-step", Severity.WARNING)]


def test_parse_article_a_second_steps_section_is_sent_as_plain_text_with_a_warning() -> None:
    article, problems = parse("1. Open.\n\n## Steps\n1. Again.\n")
    assert article is not None
    assert [s.text for s in article.steps] == ["Open."]
    assert "1. Again." in article.body
    assert [(p.code, p.severity) for p in problems] == [("duplicate-steps", Severity.WARNING)]


def test_parse_article_a_bad_id_falls_back_to_the_path_and_stays_served() -> None:
    article, problems = parse_article("---\ntitle: T\nid: a b\n---\nText.\n", "en/x.md")
    assert article is not None
    assert article.id == "en/x"
    assert [(p.code, p.severity) for p in problems] == [("bad-id", Severity.ERROR)]


def test_renderer_sends_crossing_markup_as_plain_text_rather_than_nothing() -> None:
    from supportbot.knowledge.markup import telegram_html_error
    from supportbot.telegram.render import markdown_to_html

    rendered = markdown_to_html("Then **a [b** c](https://x.org) & more.")
    assert rendered == "Then **a [b** c](https://x.org) &amp; more."
    assert telegram_html_error(rendered) is None
    assert markdown_to_html("**a** [b](https://x.org)") == '<b>a</b> <a href="https://x.org">b</a>'

"""The article and canned reply format: what parses, and every problem an editor can make."""

from __future__ import annotations

from supportbot.domain.models import Lang, Problem, Severity
from supportbot.knowledge.canned import parse_canned_replies
from supportbot.knowledge.markup import find_links
from supportbot.knowledge.parser import parse_article

GUIDE = """---
title: Card payment declined
tags: [card, payment]
questions:
  - my card was declined
  - "payment fails: what now?"
---
Your bank may decline a payment. See [reset](../account/reset-password.md).

## Steps
1. Open **Settings > Payments**.
2. Check the expiry date,
   then the CVC code.

   Both are on the card.
3. Call your bank.

## After that
Still declined? Write to us.
"""


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def test_parse_article_reads_front_matter_body_and_steps() -> None:
    article, problems = parse_article(GUIDE, "en/payments/card-declined.md")
    assert problems == []
    assert article is not None
    assert article.id == "en/payments/card-declined"
    assert (article.title, article.lang, article.category) == (
        "Card payment declined",
        Lang.EN,
        "payments",
    )
    assert article.tags == ("card", "payment")
    assert article.questions == ("my card was declined", "payment fails: what now?")
    assert [step.number for step in article.steps] == [1, 2, 3]
    assert article.steps[0].text == "Open **Settings > Payments**."
    assert article.steps[1].text == (
        "Check the expiry date,\nthen the CVC code.\n\nBoth are on the card."
    )
    assert article.source == "en/payments/card-declined.md"


def test_parse_article_removes_only_the_steps_section_from_the_body() -> None:
    article, _ = parse_article(GUIDE, "en/payments/card-declined.md")
    assert article is not None
    assert "## Steps" not in article.body
    assert "Call your bank" not in article.body
    assert article.body.startswith("Your bank may decline a payment.")
    assert article.body.endswith("## After that\nStill declined? Write to us.")


def test_parse_article_russian_steps_heading() -> None:
    text = "---\ntitle: Удаление профиля\n---\nВот как.\n\n## Шаги\n1. Откройте настройки.\n"
    article, problems = parse_article(text, "ru/profile/delete.md")
    assert problems == []
    assert article is not None
    assert article.steps[0].text == "Откройте настройки."


def test_parse_article_lang_folder_sets_lang_and_next_folder_is_the_category() -> None:
    text = "---\ntitle: Карта отклонена\n---\nБанк отклонил платёж по карте."
    article, problems = parse_article(text, "ru/payments/x.md")
    assert problems == []
    assert article is not None
    assert (article.id, article.lang, article.category) == ("ru/payments/x", Lang.RU, "payments")


def test_parse_article_nested_folders_first_folder_is_the_category() -> None:
    article, _ = parse_article("---\ntitle: Admins\n---\nAdmins can help.", "groups/admins/x.md")
    assert article is not None
    assert (article.id, article.category) == ("groups/admins/x", "groups")


def test_parse_article_root_file_has_the_general_category() -> None:
    article, _ = parse_article("---\ntitle: Hello\n---\nWelcome to support.", "hello.md")
    assert article is not None
    assert article.category == ""


def test_parse_article_explicit_id_and_category_win() -> None:
    text = "---\ntitle: Как удалить профиль\nid: delete\ncategory: profile\n---\nНастройки."
    article, _ = parse_article(text, "ru/misc/deep/delete.md")
    assert article is not None
    assert (article.id, article.category, article.lang) == ("delete", "profile", Lang.RU)


def test_parse_article_detects_the_language_when_absent() -> None:
    article, problems = parse_article("---\ntitle: Пароль\n---\nЗабыли пароль? Сбросьте.", "p.md")
    assert problems == []
    assert article is not None
    assert article.lang is Lang.RU


def test_parse_article_invalid_yaml_reports_the_line_in_the_file() -> None:
    text = "---\ntitle: Card\ntags: [card, payment\nquestions: []\n---\nBody."
    article, problems = parse_article(text, "bad.md")
    assert article is None
    problem = only(problems)
    assert problem.code == "invalid-yaml"
    assert problem.severity is Severity.ERROR
    assert problem.path == "bad.md"
    assert problem.line == 4  # the YAML error surfaces where the list should have closed
    assert "not valid YAML" in problem.message


def test_parse_article_invalid_yaml_unquoted_colon_points_at_its_line() -> None:
    text = "---\ntitle: Card\ncategory: payments\nquestions: why: declined\n---\nBody."
    _, problems = parse_article(text, "bad.md")
    assert only(problems).line == 4
    assert "quoted" in problems[0].message


def test_parse_article_missing_front_matter() -> None:
    article, problems = parse_article("Just text", "t.md")
    assert article is None
    problem = only(problems)
    assert (problem.code, problem.line) == ("no-front-matter", 1)
    assert '"title: ..."' in problem.message


def test_parse_article_unterminated_front_matter() -> None:
    _, problems = parse_article("---\ntitle: T\nBody text", "t.md")
    assert only(problems).code == "unterminated-front-matter"
    assert 'add a line "---"' in problems[0].message


def test_parse_article_missing_title_says_how_to_fix() -> None:
    article, problems = parse_article("---\ntags: [a]\n---\nBody.", "t.md")
    assert article is None
    problem = only(problems)
    assert problem.code == "missing-title"
    assert problem.message == 'title is missing: add "title: ..." to the front matter'


def test_parse_article_empty_title_points_at_the_title_line() -> None:
    _, problems = parse_article("---\nid: x\ntitle:\n---\nBody.", "t.md")
    assert (only(problems).code, problems[0].line) == ("missing-title", 3)


def test_parse_article_unknown_key_is_a_warning_listing_the_allowed_keys() -> None:
    article, problems = parse_article("---\ntitle: T\nauthor: me\n---\nText.", "w.md")
    assert article is not None
    problem = only(problems)
    assert (problem.code, problem.line, problem.severity) == ("unknown-key", 3, Severity.WARNING)
    assert "id, title, category, tags, lang, questions" in problem.message


def test_parse_article_tags_must_be_a_list_and_are_ignored_until_then() -> None:
    article, problems = parse_article("---\ntitle: T\ntags: card\n---\nText.", "t.md")
    assert article is not None  # a bad field never takes the article off the bot
    assert article.tags == ()
    problem = only(problems)
    assert (problem.code, problem.line, problem.severity) == ("bad-tags", 3, Severity.ERROR)
    assert "tags: [card, payment]" in problem.message


def test_parse_article_questions_must_be_a_list_of_strings() -> None:
    text = "---\ntitle: T\nquestions:\n  - fine\n  - card: declined\n---\nText."
    _, problems = parse_article(text, "t.md")
    problem = only(problems)
    assert (problem.code, problem.line) == ("bad-questions", 3)
    assert "quotes" in problem.message


def test_parse_article_lang_must_be_ru_or_en() -> None:
    _, problems = parse_article("---\ntitle: T\nlang: de\n---\nText.", "t.md")
    problem = only(problems)
    assert (problem.code, problem.line, problem.severity) == ("bad-lang", 3, Severity.ERROR)
    assert "ru or en" in problem.message


def test_parse_article_declared_lang_mismatch_is_a_warning() -> None:
    text = "---\ntitle: Оплата картой\nlang: en\n---\nБанк отклонил платёж."
    article, problems = parse_article(text, "x.md")
    assert article is not None
    assert article.lang is Lang.EN  # the editor's word wins; the warning asks them to check
    problem = only(problems)
    assert (problem.code, problem.line, problem.severity) == (
        "lang-mismatch",
        3,
        Severity.WARNING,
    )
    assert "looks ru" in problem.message


def test_parse_article_empty_body_is_an_error_on_the_first_body_line() -> None:
    article, problems = parse_article("---\ntitle: Empty\n---\n\n", "e.md")
    assert article is None
    problem = only(problems)
    assert (problem.code, problem.line, problem.severity) == ("empty-body", 4, Severity.ERROR)


def test_parse_article_steps_bullet_list_is_served_as_plain_text_with_a_warning() -> None:
    text = "---\ntitle: T\n---\nIntro.\n\n## Steps\n- Open settings.\n- Tap Delete.\n"
    article, problems = parse_article(text, "s.md")
    assert article is not None
    assert article.steps == ()
    assert article.body == "Intro.\n\n## Steps\n- Open settings.\n- Tap Delete."
    problem = only(problems)
    assert (problem.code, problem.line, problem.severity) == (
        "steps-not-numbered",
        6,
        Severity.WARNING,
    )
    assert "numbered list" in problem.message
    assert "found a bullet list" in problem.message


def test_parse_article_steps_plain_text_says_what_was_found() -> None:
    text = "---\ntitle: T\n---\nIntro.\n\n## Steps\nOpen settings and tap Delete.\n"
    _, problems = parse_article(text, "s.md")
    assert 'found plain text ("Open settings' in only(problems).message


def test_parse_article_steps_out_of_order_is_a_warning() -> None:
    text = "---\ntitle: T\n---\nText.\n\n## Steps\n1. One.\n3. Two.\n2. Three.\n"
    article, problems = parse_article(text, "w.md")
    assert article is not None
    assert [s.number for s in article.steps] == [1, 2, 3]
    problem = only(problems)
    assert (problem.code, problem.line, problem.severity) == (
        "steps-order",
        6,
        Severity.WARNING,
    )


def test_parse_article_steps_all_numbered_one_are_in_order() -> None:
    text = "---\ntitle: T\n---\nText.\n\n## Steps\n1. One.\n1. Two.\n"
    article, problems = parse_article(text, "w.md")
    assert problems == []
    assert article is not None
    assert [s.text for s in article.steps] == ["One.", "Two."]


def test_parse_article_step_keeps_nested_markdown() -> None:
    text = "---\ntitle: T\n---\nText.\n\n## Steps\n1. Choose:\n   - **Card**\n     or\n   - Bank\n"
    article, _ = parse_article(text, "w.md")
    assert article is not None
    assert article.steps[0].text == "Choose:\n- **Card**\n  or\n- Bank"


def test_parse_article_steps_heading_inside_code_block_is_not_a_section() -> None:
    text = "---\ntitle: T\n---\nExample:\n\n```\n## Steps\n- not a guide\n```\n"
    article, problems = parse_article(text, "w.md")
    assert problems == []
    assert article is not None
    assert article.steps == ()


def test_find_links_skips_urls_anchors_images_and_code() -> None:
    text = (
        "---\ntitle: T\n---\n"
        "[a](https://x.org) [b](mailto:x@y.z) [c](#top) ![d](img.png) `[e](f)`\n"
        "[g](../account/reset-password.md) [h](en/account/reset-password)\n"
    )
    links = find_links(text, "en/payments/card.md")
    assert [(link.line, link.target) for link in links] == [
        (5, "../account/reset-password.md"),
        (5, "en/account/reset-password"),
    ]
    assert links[0].candidates == ("en/account/reset-password",)
    assert links[1].candidates[0] == "en/account/reset-password"


def test_parse_canned_replies_reads_entries_with_placeholders() -> None:
    text = (
        "- id: hello\n  title: Greeting\n  lang: en\n  tags: [hi]\n"
        "  text: Hi {name}, I'm {operator}.\n"
        "- id: bye\n  title: Прощание\n  lang: ru\n  text: До свидания, {name}!\n"
    )
    replies, problems = parse_canned_replies(text, "canned_replies.yaml")
    assert problems == []
    assert [(r.id, r.lang, r.tags) for r in replies] == [
        ("hello", Lang.EN, ("hi",)),
        ("bye", Lang.RU, ()),
    ]
    assert replies[0].text == "Hi {name}, I'm {operator}."


def test_parse_canned_replies_problems_carry_the_entry_line() -> None:
    text = (
        "# replies\n"
        "- id: ok\n  title: OK\n  lang: en\n  text: Fine.\n"
        "- id: missing\n  lang: en\n"
        "- id: odd\n  title: Odd\n  lang: en\n  text: Hello {user}\n"
        "- id: ok\n  title: Again\n  lang: en\n  text: Again.\n"
    )
    replies, problems = parse_canned_replies(text, "canned_replies.yaml")
    assert [r.id for r in replies] == ["ok"]
    assert [(p.code, p.line) for p in problems] == [
        ("canned-missing", 6),
        ("bad-placeholder", 11),
        ("duplicate-id", 12),
    ]
    assert "{user}" in problems[1].message


def test_parse_canned_replies_invalid_yaml_has_a_line() -> None:
    replies, problems = parse_canned_replies("- id: a\n  text: [oops\n", "c.yaml")
    assert replies == []
    assert only(problems).code == "invalid-yaml"
    assert problems[0].line >= 2


def test_parse_article_warns_about_an_article_too_long_to_search() -> None:
    body = "Long manual text about many things. " * 1000
    article, problems = parse_article(f"---\ntitle: Manual\n---\n{body}", "en/manual.md")
    assert article is not None  # still served
    problem = only(problems)
    assert (problem.severity, problem.code, problem.line) == (Severity.WARNING, "too-long", 4)
    assert "split it" in problem.message


def test_chunks_of_an_over_long_article_cover_only_its_start() -> None:
    from supportbot.domain.models import MAX_BODY_CHARS, Article
    from supportbot.retrieval.chunking import article_chunks

    body = "\n\n".join(f"Paragraph {i} about topic number {i} in detail." for i in range(5000))
    chunks = article_chunks(Article(id="m", title="Manual", body=body))
    assert sum(len(c.text) for c in chunks) < 2 * MAX_BODY_CHARS

"""Texts in both languages and the rendering of replies into Telegram HTML."""

from __future__ import annotations

from faketg import parse_html
from supportbot.conversation.replies import Outgoing, Reply, Say
from supportbot.domain.models import Article, Lang
from supportbot.telegram.render import Renderer, markdown_to_html, split_html
from supportbot.telegram.texts import Texts


def test_texts_exist_in_both_languages_and_parse_as_telegram_html() -> None:
    texts = Texts.load()
    assert texts.keys(Lang.RU) == texts.keys(Lang.EN)
    for lang in Lang:
        for key in texts.keys(lang)["messages"]:
            raw = texts.raw(lang, key)
            filled = raw.replace("{", "<b>").replace("}", "</b>") if "{" in raw else raw
            parse_html(filled)  # raises like Telegram on broken markup


def test_render_escapes_article_text_and_keeps_markdown_bold() -> None:
    html = markdown_to_html("Tap **Forgot <password>** & wait")
    assert html == "Tap <b>Forgot &lt;password&gt;</b> &amp; wait"
    assert parse_html(html)[0] == "Tap Forgot <password> & wait"


def test_render_splits_long_text_at_paragraphs_under_the_limit() -> None:
    paragraphs = [f"Paragraph {i}: " + "word & " * 200 for i in range(20)]
    parts = split_html(paragraphs)
    assert len(parts) > 1
    assert all(len(p) <= 4096 for p in parts)
    assert all(p.startswith("Paragraph") for p in parts)
    one_huge_word = split_html(["x" * 20000])
    assert all(len(p) <= 4096 for p in one_huge_word)
    assert "".join(one_huge_word).replace("\n", "") == "x" * 20000


def test_render_puts_the_keyboard_on_the_last_part_only() -> None:
    article = Article(id="a", title="T", body="\n\n".join(["y " * 1500] * 3))
    from supportbot.conversation.replies import Act, Action

    reply = Reply(
        Lang.EN,
        1,
        (Outgoing(Say.ANSWER, article=article, actions=(Action(Act.HELPED, "a"),)),),
    )
    rendered = Renderer(Texts.load()).render(reply)
    assert len(rendered) > 1
    assert [r.markup is not None for r in rendered] == [False] * (len(rendered) - 1) + [True]


def test_render_links_and_code_spans_stay_valid_telegram_html() -> None:
    link = markdown_to_html("see [the page](https://x.test/?a=1&b=2) now")
    assert 'href="https://x.test/?a=1&amp;b=2"' in link
    for text in ("**bold `code** x`", "**Settings > `Payments`**", "use `**not bold**` here"):
        parse_html(markdown_to_html(text))  # Telegram's parser would reject mis-nesting
    assert markdown_to_html("use `**x**`") == "use <code>**x**</code>"

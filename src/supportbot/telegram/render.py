"""Engine replies -> Telegram HTML messages with keyboards, split under the 4096 limit."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from supportbot.conversation.replies import Outgoing, Reply, Say
from supportbot.domain.handoff import HandoffState, HandoffStatus
from supportbot.domain.models import Article, Lang
from supportbot.telegram.texts import Texts

if TYPE_CHECKING:  # `kb check` renders articles without loading aiogram
    from aiogram.types import InlineKeyboardMarkup

TELEGRAM_LIMIT = 4096
# Room left for "(continued)" and the like; the budget is measured on the HTML source,
# which is never shorter than the text Telegram counts.
_BUDGET = TELEGRAM_LIMIT - 64

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")
# Link texts hold no brackets: every match attempt stops at the next "[", so a line of
# 200,000 "[" is scanned once, not once per bracket.
_LINK = re.compile(r"\[([^\[\]\n]+)\]\((https?://[^)\s]+)\)")
# A link to another article ([text](en/account/reset-password)): the text stays, the id goes.
_ARTICLE_LINK = re.compile(r"\[([^\[\]\n]+)\]\((?!https?://)[^)\s]+\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)
_PARAGRAPHS = re.compile(r"\n\s*\n")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
_TAG = re.compile(r"<(/?)(b|a|code)\b[^>]*>")


@dataclass(frozen=True, slots=True)
class Rendered:
    """One Telegram message: HTML text and an optional inline keyboard."""

    text: str
    markup: InlineKeyboardMarkup | None = None


def markdown_to_html(text: str) -> str:
    """The little markdown articles use (bold, code, links, headings) as Telegram HTML.

    Everything is escaped first, so no user or article text can inject markup; markup
    whose tags would cross is sent as plain text rather than refused by Telegram.
    """
    out = format_markdown(text)
    if not _well_nested(out):
        # Bold and a link that cross (**a [b** c](url)): Telegram would refuse the whole
        # message, so it goes without formatting; `kb check` reports the paragraph.
        return html.escape(text.strip(), quote=False)
    return out


def format_markdown(text: str) -> str:
    """`markdown_to_html` without the plain-text fallback: what `kb check` validates."""
    out = html.escape(text.strip(), quote=False)
    # Code spans first, set aside: nothing inside them is markup, and bold around them
    # must not interleave with their tags.
    codes: list[str] = []

    def keep(match: re.Match[str]) -> str:
        codes.append(match.group(1))
        return f"\x00{len(codes) - 1}\x00"

    out = _CODE.sub(keep, out)
    out = _HEADING.sub(r"<b>\1</b>", out)
    # The URL is escaped already (&amp;); only a quote could end the attribute early.
    out = _LINK.sub(
        lambda m: f'<a href="{m.group(2).replace(chr(34), "&quot;")}">{m.group(1)}</a>', out
    )
    out = _ARTICLE_LINK.sub(r"«\1»", out)
    out = _BOLD.sub(r"<b>\1</b>", out)
    return _PLACEHOLDER.sub(lambda m: f"<code>{codes[int(m.group(1))]}</code>", out)


def _well_nested(rendered: str) -> bool:
    """True when every tag the renderer wrote closes in the order it was opened."""
    open_tags: list[str] = []
    for match in _TAG.finditer(rendered):
        closing, name = match.groups()
        if not closing:
            open_tags.append(name)
        elif not open_tags or open_tags.pop() != name:
            return False
    return not open_tags


def _pieces(block: str, limit: int) -> Iterator[str]:
    """Split one markdown block into HTML pieces of at most `limit`, at the gentlest seam."""
    rendered = markdown_to_html(block)
    if len(rendered) <= limit:
        yield rendered
        return
    for seam in ("\n", ". ", " "):
        parts = block.split(seam)
        if len(parts) > 1:
            current = ""
            for part in parts:
                candidate = f"{current}{seam}{part}" if current else part
                if current and len(markdown_to_html(candidate)) > limit:
                    yield from _pieces(current, limit)
                    current = part
                else:
                    current = candidate
            if current:
                yield from _pieces(current, limit)
            return
    # One enormous word: cut it (escaping can grow it up to 6x, hence the margin).
    step = max(1, limit // 6)
    for start in range(0, len(block), step):
        yield markdown_to_html(block[start : start + step])


def split_html(blocks: list[str], limit: int = _BUDGET) -> list[str]:
    """Pack markdown paragraphs into as few messages as fit, never splitting mid-tag."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        for piece in _pieces(block, limit):
            candidate = f"{current}\n\n{piece}" if current else piece
            if current and len(candidate) > limit:
                messages.append(current)
                current = piece
            else:
                current = candidate
    if current:
        messages.append(current)
    return messages


def article_blocks(article: Article, *, inline_steps: bool) -> list[str]:
    """An article as markdown paragraphs: bold title, body, and (optionally) its guide."""
    blocks = [f"**{article.title}**", *_PARAGRAPHS.split(article.body.strip())]
    if inline_steps and article.steps:
        blocks += _PARAGRAPHS.split(article.guide_intro)
        blocks += [f"{step.number}. {step.text}" for step in article.steps]
        blocks += _PARAGRAPHS.split(article.closing_note)
    return [b for b in blocks if b.strip()]


def step_messages(article: Article, number: int, head: str, limit: int = _BUDGET) -> list[str]:
    """One step of a guide as HTML messages; `head` is its "Step N of M" line (HTML).

    The guide's introduction comes before step 1, its closing note after the last step.
    """
    blocks = _PARAGRAPHS.split(article.steps[number - 1].text)
    if number == len(article.steps):
        blocks += _PARAGRAPHS.split(article.closing_note)
    parts = split_html([b for b in blocks if b.strip()], limit - len(head)) or [""]
    parts[0] = f"{head}\n\n{parts[0]}"
    if number == 1 and article.guide_intro.strip():
        intro = split_html(_PARAGRAPHS.split(article.guide_intro), limit)
        if len(intro[-1]) + len(parts[0]) + 2 <= limit:
            parts[0] = f"{intro.pop()}\n\n{parts[0]}"
        parts = intro + parts
    return parts


class Renderer:
    """Turns the engine's `Reply` into Telegram messages in the user's language."""

    def __init__(self, texts: Texts) -> None:
        self.texts = texts

    def render(self, reply: Reply, *, name: str = "") -> list[Rendered]:
        """Every message of a reply, in order."""
        from supportbot.telegram.keyboards import keyboard  # aiogram: only when a bot renders

        out: list[Rendered] = []
        for message in reply.messages:
            markup = keyboard(message.actions, reply.conversation, reply.lang, self.texts)
            parts = self._texts(message, reply.lang, name)
            out += [Rendered(text) for text in parts[:-1]]
            out.append(Rendered(parts[-1], markup))
        return out

    def _texts(self, message: Outgoing, lang: Lang, name: str) -> list[str]:
        t = self.texts
        article = message.article
        match message.say:
            case Say.GREETING:
                return [t.message(lang, "greeting", name=name or "👋")]
            case Say.ANSWER if article is not None:
                return split_html(article_blocks(article, inline_steps=message.inline_steps))
            case Say.SUGGEST:
                listing = "\n".join(
                    f"{i}. {html.escape(s.title)}" for i, s in enumerate(message.suggestions, 1)
                )
                return [f"{t.raw(lang, 'suggest')}\n\n{listing}"]
            case Say.STEP if article is not None and message.step is not None:
                head = t.message(
                    lang, "step", number=message.step.number, total=len(article.steps)
                )
                return step_messages(article, message.step.number, head)
            case Say.HANDOFF:
                return [self._handoff(lang, message.status)]
            case Say.WAITING_OFFER if article is not None:
                head = t.message(lang, "waiting_offer")
                parts = split_html(article_blocks(article, inline_steps=True), _BUDGET - len(head))
                return [f"{head}\n\n{parts[0]}", *parts[1:]]
            case Say.GUIDE_RESUME if article is not None:
                step = message.actions[0].step if message.actions else 1
                return [t.message(lang, "guide_resume", number=step, title=article.title)]
            case _:
                return [t.message(lang, message.say.value)]

    def _handoff(self, lang: Lang, status: HandoffStatus | None) -> str:
        t = self.texts
        if status is None or status.state is HandoffState.UNAVAILABLE:
            return t.message(lang, "handoff_unavailable")
        if status.state is HandoffState.ASSIGNED:
            return t.message(lang, "handoff_assigned")
        if status.state is HandoffState.AFTER_HOURS:
            if status.opens_at is None:
                return t.message(lang, "handoff_after_hours_no_time")
            return t.message(
                lang, "handoff_after_hours", opens_at=status.opens_at.strftime("%Y-%m-%d %H:%M %Z")
            )
        if status.queue_position is None:
            return t.message(lang, "handoff_queued_no_position")
        if status.wait_estimate_s:
            minutes = max(1, round(status.wait_estimate_s / 60))
            return t.message(
                lang, "handoff_queued_wait", position=status.queue_position, minutes=minutes
            )
        return t.message(lang, "handoff_queued", position=status.queue_position)

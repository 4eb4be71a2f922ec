"""What the desk shows in Telegram: the ticket's card, staff notices, the user's notices."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup

from supportbot.desk.models import Message, Notice, Ticket, TicketStatus
from supportbot.desk.ports import ArticleSource
from supportbot.domain.handoff import Author
from supportbot.domain.models import Lang
from supportbot.telegram import staff_keyboards as keyboards
from supportbot.telegram.texts import Texts

TELEGRAM_LIMIT = 4096
_LINE = {Author.USER: "line_user", Author.BOT: "line_bot", Author.OPERATOR: "line_operator"}


class StaffCards:
    """Renders the desk's values as texts and buttons (staff language, user language)."""

    def __init__(self, texts: Texts, knowledge: ArticleSource) -> None:
        self.texts = texts
        self._knowledge = knowledge

    def card(self, ticket: Ticket) -> tuple[str, InlineKeyboardMarkup | None]:
        """The ticket's card: who, what, the conversation so far, the guess; buttons."""
        text = "\n".join(self._head(ticket))
        lines = self._transcript(ticket)
        if lines:
            body = "\n".join(lines)
            room = TELEGRAM_LIMIT - len(text) - 200
            while len(body) > room and lines:
                lines.pop(0)  # the oldest lines go first: the latest matter most
                body = "\n".join(["…", *lines])
            text += "\n\n" + self.texts.staff("transcript") + "\n" + body
        return text, keyboards.card_buttons(ticket, self.texts)

    def _head(self, ticket: Ticket) -> list[str]:
        t = self.texts
        if ticket.status is TicketStatus.QUEUED:
            status = t.staff("status_queued")
        elif ticket.status is TicketStatus.ASSIGNED:
            name = ticket.operator_name or str(ticket.operator_id)
            status = t.staff("status_assigned", operator=name)
        else:
            status = t.staff("status_closed")
        username = f" (@{ticket.username})" if ticket.username else ""
        head = [
            t.staff("card_title", id=ticket.id, status=status),
            t.staff(
                "user_line",
                name=ticket.user_name,
                username=username,
                lang=ticket.lang.value,
                user_id=ticket.user_id,
            ),
            t.staff("subject", subject=cut(ticket.subject, 300)),
            t.staff("reason", reason=ticket.reason.replace("_", " ")),
        ]
        if ticket.suggested_category:
            head.append(t.staff("guess", category=ticket.suggested_category))
        article = self._knowledge.article(ticket.article_id) if ticket.article_id else None
        if article is not None and ticket.failed_step is not None:
            head.append(t.staff("failed_step", step=ticket.failed_step, title=article.title))
        elif article is not None:
            head.append(t.staff("article", title=article.title))
        if ticket.previous_id is not None:
            head.append(t.staff("previous", id=ticket.previous_id))
        if ticket.reopened:
            head.append(t.staff("reopened", times=ticket.reopened))
        if ticket.closed_at is not None and ticket.category:
            category = " / ".join(c for c in (ticket.category, ticket.subcategory) if c)
            head.append(t.staff("closed_line", by=ticket.closed_by or "", category=category))
        return head

    def _transcript(self, ticket: Ticket) -> list[str]:
        lines = []
        for entry in ticket.transcript:
            if entry.reaction in {"helpful", "not_helpful"}:
                shown = self._knowledge.article(entry.article_id) if entry.article_id else None
                title = shown.title if shown else entry.article_id
                lines.append(self.texts.staff(f"reaction_{entry.reaction}", title=title))
            else:
                lines.append(self.texts.staff(_LINE[entry.author], text=cut(entry.text, 300)))
        return lines

    def staff_notice(self, message: Message) -> str:
        """A staff notice's text."""
        params = dict(message.params)
        if message.notice is Notice.STAFF_CLOSED:
            category = " / ".join(
                c for c in (params.get("category"), params.get("subcategory")) if c
            )
            params = {"category": category or self.texts.staff("category_none")}
        if message.notice is Notice.STAFF_RATED and params.get("comment"):
            params["comment"] = f"«{cut(str(params['comment']), TELEGRAM_LIMIT // 2)}»"
        text = self.texts.staff(message.notice.value, **params)
        if len(text) > TELEGRAM_LIMIT:
            # A user's long text (escaped, it grows) is cut to the longest part that fits.
            longest = max(params, key=lambda k: len(str(params[k])))
            value = str(params[longest])
            low, high = 1, len(value)
            while low < high:
                middle = (low + high + 1) // 2
                params[longest] = cut(value, middle)
                if len(self.texts.staff(message.notice.value, **params)) <= TELEGRAM_LIMIT:
                    low = middle
                else:
                    high = middle - 1
            params[longest] = cut(value, low)
            text = self.texts.staff(message.notice.value, **params)
        return text

    def user_notice(self, lang: Lang, message: Message) -> tuple[str, InlineKeyboardMarkup | None]:
        """A user notice's text and buttons."""
        params = dict(message.params)
        ticket_id = int(params.pop("ticket_id", 0))
        markup: InlineKeyboardMarkup | None = None
        key = message.notice.value
        if message.notice is Notice.ASSIGNED:
            key = "assigned_named" if params.get("operator") else "assigned"
            markup = keyboards.solved(ticket_id, self.texts, lang)
        elif message.notice is Notice.CLOSED_ASK_FCR:
            markup = keyboards.fcr(ticket_id, self.texts, lang)
        elif message.notice is Notice.ASK_RATING:
            markup = keyboards.rating(ticket_id)
        return self.texts.user(lang, key, **params), markup

    def topic_name(self, ticket: Ticket) -> str:
        """The forum topic's name: number, user, subject (Telegram allows 128 characters)."""
        subject = " ".join(ticket.subject.split()) or "—"
        name = self.texts.staff_plain(
            "topic_name", id=ticket.id, name=ticket.user_name, subject=cut(subject, 80)
        )
        return name[:128]


def cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"

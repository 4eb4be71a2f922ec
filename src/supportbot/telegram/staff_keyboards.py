"""The desk's inline keyboards: card buttons, pickers, agent assist, the user's desk buttons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder, KeyboardBuilder

from supportbot.desk.models import Ticket, TicketStatus, short_key
from supportbot.desk.queue import OperatorLoad
from supportbot.domain.models import Article, CannedReply, Lang
from supportbot.telegram.callbacks import DeskData, StaffAction, UserAction, UserDeskData
from supportbot.telegram.texts import Texts

_MAX_LABEL = 60


def card_buttons(ticket: Ticket, texts: Texts) -> InlineKeyboardMarkup | None:
    """Take (queued), Close, Transfer (assigned); none on a closed ticket."""
    if ticket.status is TicketStatus.CLOSED:
        return None
    kb = InlineKeyboardBuilder()
    if ticket.status is TicketStatus.QUEUED:
        kb.button(text=texts.staff_button("take"), callback_data=_k(StaffAction.TAKE, ticket.id))
    kb.button(text=texts.staff_button("close"), callback_data=_k(StaffAction.CLOSE, ticket.id))
    if ticket.status is TicketStatus.ASSIGNED:
        kb.button(
            text=texts.staff_button("transfer"), callback_data=_k(StaffAction.TRANSFER, ticket.id)
        )
    return _markup(kb)


def assist(
    ticket_id: int,
    articles: Sequence[Article],
    canned: Sequence[CannedReply],
    texts: Texts,
) -> InlineKeyboardMarkup:
    """Suggested articles and canned replies, one per row; a tap sends one."""
    kb = InlineKeyboardBuilder()
    for article in articles:
        label = texts.staff("assist_article", title=article.title)[:_MAX_LABEL]
        kb.button(
            text=label, callback_data=_k(StaffAction.ARTICLE, ticket_id, short_key(article.id))
        )
    for reply in canned:
        label = texts.staff("assist_canned", title=reply.title)[:_MAX_LABEL]
        kb.button(text=label, callback_data=_k(StaffAction.CANNED, ticket_id, short_key(reply.id)))
    return _markup(kb.adjust(1))


def canned_found(ticket_id: int, found: Sequence[CannedReply]) -> InlineKeyboardMarkup:
    """`/t`'s results, one per row."""
    kb = InlineKeyboardBuilder()
    for reply in found:
        kb.button(
            text=f"💬 {reply.title}"[:_MAX_LABEL],
            callback_data=_k(StaffAction.CANNED, ticket_id, short_key(reply.id)),
        )
    return _markup(kb.adjust(1))


def category_picker(
    ticket: Ticket,
    categories: Mapping[str, tuple[str, ...]],
    texts: Texts,
    *,
    required: bool,
) -> InlineKeyboardMarkup:
    """Categories for closing; the bot's guess first and marked."""
    names = list(categories)
    guess = ticket.suggested_category
    kb = InlineKeyboardBuilder()
    for i in sorted(range(len(names)), key=lambda i: names[i] != guess):
        label = ("✅ " if names[i] == guess else "") + names[i]
        kb.button(text=label, callback_data=_k(StaffAction.CATEGORY, ticket.id, str(i)))
    tail = InlineKeyboardBuilder()
    if not required:
        tail.button(
            text=texts.staff_button("no_category"),
            callback_data=_k(StaffAction.NO_CATEGORY, ticket.id),
        )
    tail.button(text=texts.staff_button("back"), callback_data=_k(StaffAction.BACK, ticket.id))
    return _markup(kb.adjust(1).attach(tail))


def subcategory_picker(
    ticket_id: int, category: str, index: str, subs: Sequence[str], texts: Texts
) -> InlineKeyboardMarkup:
    """Subcategories of the chosen category."""
    kb = InlineKeyboardBuilder()
    for i, sub in enumerate(subs):
        kb.button(
            text=f"{category} → {sub}"[:_MAX_LABEL],
            callback_data=_k(StaffAction.SUBCATEGORY, ticket_id, f"{index}.{i}"),
        )
    kb.button(text=texts.staff_button("back"), callback_data=_k(StaffAction.CLOSE, ticket_id))
    return _markup(kb.adjust(1))


def transfer_picker(
    ticket_id: int, targets: Sequence[OperatorLoad], texts: Texts, capacity: int
) -> InlineKeyboardMarkup:
    """Colleagues to pass the ticket to, and "back to the queue"."""
    kb = InlineKeyboardBuilder()
    for t in targets:
        state = "🟢" if t.operator.online else "⚪"
        kb.button(
            text=f"{state} {t.operator.name} {t.load}/{capacity}",
            callback_data=_k(StaffAction.TRANSFER_TO, ticket_id, str(t.operator.id)),
        )
    kb.adjust(1)
    tail = InlineKeyboardBuilder()
    tail.button(
        text=texts.staff_button("to_queue"),
        callback_data=_k(StaffAction.TRANSFER_TO, ticket_id, "q"),
    )
    tail.button(text=texts.staff_button("back"), callback_data=_k(StaffAction.BACK, ticket_id))
    return _markup(kb.attach(tail))


def solved(ticket_id: int, texts: Texts, lang: Lang) -> InlineKeyboardMarkup:
    """The user's "My problem is solved" under the "an operator has it" notice."""
    kb = InlineKeyboardBuilder()
    kb.button(text=texts.button(lang, "solved"), callback_data=_u(UserAction.SOLVED, ticket_id))
    return _markup(kb)


def fcr(ticket_id: int, texts: Texts, lang: Lang) -> InlineKeyboardMarkup:
    """ "Was your problem solved?" yes / no."""
    kb = InlineKeyboardBuilder()
    kb.button(text=texts.button(lang, "yes"), callback_data=_u(UserAction.FCR, ticket_id, 1))
    kb.button(text=texts.button(lang, "no"), callback_data=_u(UserAction.FCR, ticket_id, 0))
    return _markup(kb)


def rating(ticket_id: int) -> InlineKeyboardMarkup:
    """1-5 in one row."""
    kb = InlineKeyboardBuilder()
    for score in range(1, 6):
        kb.button(text=str(score), callback_data=_u(UserAction.RATE, ticket_id, score))
    return _markup(kb)


def _markup(kb: KeyboardBuilder[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=kb.export())


def _k(action: StaffAction, ticket_id: int, value: str = "") -> DeskData:
    return DeskData(action=action, ticket=ticket_id, value=value)


def _u(action: UserAction, ticket_id: int, value: int = 0) -> UserDeskData:
    return UserDeskData(action=action, ticket=ticket_id, value=value)

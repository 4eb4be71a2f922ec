"""The operator desk's routers: the staff group (operators) and the desk's user buttons.

`get_staff_router(staff_chat_id)` takes only updates from the staff group; members act,
non-members are refused. `get_desk_user_router()` takes private-chat updates that belong
to the desk (banned users, rating buttons and comments, /close, edits) and lets everything
else fall through to the user router. Handlers are thin: narrow, call the desk, render.
"""

from __future__ import annotations

import html
import logging

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    User,
)

from supportbot.conversation.engine import Conversation
from supportbot.conversation.replies import UserInfo
from supportbot.desk.errors import DeskRefusal
from supportbot.desk.models import Relay, Ticket, short_key
from supportbot.desk.queue import OperatorLoad, QueueInfo
from supportbot.desk.service import DeskService
from supportbot.domain.errors import StaleCallbackError
from supportbot.telegram.staff_desk import (
    DeskData,
    StaffMembership,
    TelegramStaffDesk,
    UserDeskData,
)
from supportbot.telegram.staff_texts import StaffTexts

logger = logging.getLogger(__name__)


class IsStaffMember(Filter):
    """The sender is a member of the staff group (asked from Telegram, cached)."""

    async def __call__(
        self, event: Message | CallbackQuery, bot: Bot, staff_members: StaffMembership
    ) -> bool:
        user = event.from_user
        return user is not None and await staff_members.is_member(bot, user.id)


def _not_a_command(message: Message) -> bool:
    # Other routers' commands (/stats) are not messages for a user.
    return not (message.text or "").startswith("/") or (message.text or "").startswith("//")


def _where(message: Message) -> dict[str, int | None]:
    topic = message.message_thread_id if message.is_topic_message else None
    reply = message.reply_to_message
    return {"topic_id": topic, "reply_to": reply.message_id if reply is not None else None}


def _name(user: User) -> str:
    return user.first_name or user.username or str(user.id)


def get_staff_router(staff_chat_id: int) -> Router:
    """The staff group's router: operators' commands, replies, edits and buttons."""
    root = Router(name=__name__)
    members = Router(name=f"{__name__}.members")
    outsiders = Router(name=f"{__name__}.outsiders")
    for router in (members, outsiders):
        router.message.filter(F.chat.id == staff_chat_id, F.from_user, ~F.from_user.is_bot)
        router.edited_message.filter(F.chat.id == staff_chat_id, F.from_user)
        router.callback_query.filter(F.message.chat.id == staff_chat_id)
    members.message.filter(IsStaffMember())
    members.edited_message.filter(IsStaffMember())
    members.callback_query.filter(IsStaffMember())
    # A member's message no handler wants (an unknown command) is not a refusal.
    outsiders.message.filter(~IsStaffMember())
    outsiders.callback_query.filter(~IsStaffMember())

    @members.message(Command("online", "offline"))
    async def on_online(
        message: Message, command: CommandObject, desk: DeskService, staff_texts: StaffTexts
    ) -> None:
        """/online, /offline: whether tickets may be assigned to the operator."""
        user = _sender(message)
        online = command.command == "online"
        await desk.set_online(user.id, _name(user), online)
        await message.reply(staff_texts.staff("online" if online else "offline"))

    @members.message(Command("queue"))
    async def on_queue(message: Message, desk: DeskService, staff_texts: StaffTexts) -> None:
        """/queue: how many wait, for how long, and every operator's load."""
        info = await desk.queue_info()
        await message.reply(render_queue(info, staff_texts, desk.params.capacity))

    @members.message(Command("t"))
    async def on_canned(
        message: Message, command: CommandObject, desk: DeskService, staff_texts: StaffTexts
    ) -> None:
        """/t <words>: canned replies matching the words, as buttons."""
        words = (command.args or "").strip()
        if not words:
            await message.reply(staff_texts.staff("canned_usage"))
            return
        ticket = await desk.ticket_at(**_where(message))
        if ticket is None:
            await message.reply(staff_texts.staff("canned_where"))
            return
        found = desk.assist.search_canned(words, ticket.lang)
        if not found:
            await message.reply(staff_texts.staff("canned_none", words=words))
            return
        rows = [
            [
                InlineKeyboardButton(
                    text=f"💬 {reply.title}"[:60],
                    callback_data=DeskData(a="cr", t=ticket.id, v=short_key(reply.id)).pack(),
                )
            ]
            for reply in found
        ]
        await message.reply(
            staff_texts.staff("canned_found", words=words),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
        )

    @members.message(Command("note"))
    async def on_note(message: Message) -> None:
        """/note text: an internal note, never sent to the user."""

    @members.message(Command("ban", "unban"))
    async def on_ban(
        message: Message, command: CommandObject, desk: DeskService, staff_texts: StaffTexts
    ) -> None:
        """/ban (in a ticket, or with a user id) and /unban <user id>."""
        arg = (command.args or "").strip()
        user_id: int | None = int(arg) if arg.lstrip("-").isdigit() else None
        if user_id is None and command.command == "ban":
            ticket = await desk.ticket_at(**_where(message))
            user_id = ticket.user_id if ticket is not None else None
        if user_id is None:
            await message.reply(staff_texts.staff("ban_usage"))
            return
        if command.command == "ban":
            await desk.ban(user_id, by=_sender(message).id)
            await message.reply(staff_texts.staff("banned", user_id=user_id))
        elif await desk.bans.lift(user_id):
            await message.reply(staff_texts.staff("unbanned", user_id=user_id))
        else:
            await message.reply(staff_texts.staff("not_banned", user_id=user_id))

    @members.message(F.func(_not_a_command))
    async def on_staff_message(
        message: Message,
        desk: DeskService,
        staff_texts: StaffTexts,
        album: list[Message] | None = None,
    ) -> None:
        """A message (or an album) in a ticket's topic, or a reply to its card, goes to the
        user."""
        user = _sender(message)
        relayed = await desk.relay_from_operator(
            operator_id=user.id,
            operator_name=_name(user),
            message_ids=[m.message_id for m in album or [message]],
            internal=(message.text or message.caption or "").startswith("//"),
            **_where(message),
        )
        if relayed is Relay.UNDELIVERED:
            await message.reply(staff_texts.staff("not_delivered"))

    @members.edited_message()
    async def on_staff_edit(
        message: Message, desk: DeskService, staff_desk: TelegramStaffDesk
    ) -> None:
        """An operator edited a relayed message: edit the user's copy."""
        found = await desk.edited_by_operator(message.message_id)
        if found is not None:
            ticket, copy_id = found
            await staff_desk.edit_copy(ticket.user_id, copy_id, message)

    @members.callback_query(DeskData.filter())
    async def on_staff_button(
        query: CallbackQuery,
        callback_data: DeskData,
        desk: DeskService,
        staff_desk: TelegramStaffDesk,
        staff_texts: StaffTexts,
    ) -> None:
        """Take, Close (category pickers), Transfer, and the agent-assist buttons."""
        user = query.from_user
        name = _name(user)
        ticket_id = callback_data.t
        action, value = callback_data.a, callback_data.v
        markup: InlineKeyboardMarkup | None = None
        notice: str | None = None
        if action == "tk":
            await desk.take(ticket_id, user.id, name)
        elif action == "cl" and not desk.categories():
            await desk.close(ticket_id, user.id, name)
        elif action in {"cl", "bk"}:
            ticket = await _open(desk, ticket_id)
            markup = (
                category_picker(ticket, desk, staff_texts)
                if action == "cl"
                else staff_desk.card(ticket)[1]
            )
        elif action == "ca":
            category = _pick(list(desk.categories()), value)
            subs = desk.categories()[category]
            if subs:
                markup = subcategory_picker(ticket_id, category, value, subs, staff_texts)
            else:
                await desk.close(ticket_id, user.id, name, category=category)
        elif action == "cs":
            cat_index, _, sub_index = value.partition(".")
            category = _pick(list(desk.categories()), cat_index)
            subcategory = _pick(list(desk.categories()[category]), sub_index)
            await desk.close(ticket_id, user.id, name, category=category, subcategory=subcategory)
        elif action == "cn":
            await desk.close(ticket_id, user.id, name)
        elif action == "tr":
            targets = await desk.transfer_targets(ticket_id, user.id)
            markup = transfer_picker(ticket_id, targets, staff_texts, desk.params.capacity)
        elif action == "tt":
            target = None if value == "q" else int(value)
            await desk.transfer(ticket_id, user.id, name, target)
        elif action == "ar":
            await desk.send_article(ticket_id, user.id, name, value)
            notice = staff_texts.staff("sent")
        elif action == "cr":
            await desk.send_canned(ticket_id, user.id, name, value)
            notice = staff_texts.staff("sent")
        else:
            raise StaleCallbackError("unknown desk action")
        if markup is not None and query.message is not None:
            await staff_desk.bot.edit_message_reply_markup(
                chat_id=query.message.chat.id,
                message_id=query.message.message_id,
                reply_markup=markup,
            )
        await query.answer(notice)

    @outsiders.message()
    @outsiders.callback_query()
    async def on_outsider(event: Message | CallbackQuery, staff_texts: StaffTexts) -> None:
        """Someone who is not (or no longer) in the staff group: refused, politely."""
        user = event.from_user
        logger.info("staff group: non-member %s refused", user.id if user else None)
        text = staff_texts.staff("not_member")
        if isinstance(event, CallbackQuery):
            await event.answer(html.unescape(text), show_alert=True)
        elif event.chat.type != ChatType.PRIVATE:
            await event.reply(text)

    root.include_routers(members, outsiders)
    return root


def get_group_router() -> Router:
    """`/chatid` in any group: the id to put in `desk.staff_chat_id` (setting up the desk)."""
    router = Router(name=f"{__name__}.groups")
    router.message.filter(F.chat.type.in_({ChatType.GROUP, ChatType.SUPERGROUP}))

    @router.message(Command("chatid"))
    async def on_chat_id(message: Message) -> None:
        """/chatid: this group's id and mode."""
        mode = "forum (a topic per ticket)" if message.chat.is_forum else "reply mode"
        await message.reply(
            f"desk.staff_chat_id = <code>{message.chat.id}</code>\n"
            f"{html.escape(message.chat.title or '')}: {mode}"
        )

    return router


class BannedUser(Filter):
    """A private message or button of a banned user."""

    async def __call__(self, event: Message | CallbackQuery, desk: DeskService) -> bool:
        user = event.from_user
        return user is not None and desk.bans.is_banned(user.id)


class AwaitingComment(Filter):
    """The user's next text is the comment to their rating."""

    async def __call__(self, message: Message, desk: DeskService) -> bool:
        user = message.from_user
        text = message.text or ""
        return (
            user is not None and not text.startswith("/") and desk.feedback.awaits_comment(user.id)
        )


class HasOpenTicket(Filter):
    """The user has an open ticket."""

    async def __call__(self, message: Message, desk: DeskService) -> bool:
        user = message.from_user
        return user is not None and await desk.open_ticket_id(user.id) is not None


def get_desk_user_router() -> Router:
    """The desk's part of private chats; include it before the user router."""
    router = Router(name=f"{__name__}.user")
    router.message.filter(F.chat.type == ChatType.PRIVATE, F.from_user)
    router.edited_message.filter(F.chat.type == ChatType.PRIVATE, F.from_user)
    router.callback_query.filter(F.from_user)

    @router.message(BannedUser())
    async def on_banned(
        message: Message, desk: DeskService, conversation: Conversation, staff_texts: StaffTexts
    ) -> None:
        """A banned user: one polite notice, then silence; nothing reaches the staff."""
        user = _sender(message)
        if await desk.bans.take_notice(user.id):
            lang = await conversation.language(UserInfo(user.id, language_code=user.language_code))
            await message.answer(staff_texts.user(lang, "banned"))

    @router.callback_query(BannedUser())
    async def on_banned_button(query: CallbackQuery) -> None:
        """A banned user's button: acknowledged, ignored."""
        await query.answer()

    @router.message(Command("close"), HasOpenTicket())
    async def on_close(message: Message, desk: DeskService) -> None:
        """/close: the user closes their ticket (the desk asks for a rating)."""
        await desk.close_by_user(_sender(message).id, solved=None)

    @router.message(F.text, AwaitingComment())
    async def on_comment(message: Message, desk: DeskService) -> None:
        """The comment after a rating."""
        await desk.feedback.add_comment(_sender(message).id, message.text or "")

    @router.edited_message()
    async def on_user_edit(
        message: Message, desk: DeskService, staff_desk: TelegramStaffDesk
    ) -> None:
        """The user edited a relayed message: edit the staff's copy."""
        found = await desk.edited_by_user(_sender(message).id, message.message_id)
        if found is not None:
            _, copy_id = found
            await staff_desk.edit_copy(staff_desk.chat_id, copy_id, message)

    @router.callback_query(UserDeskData.filter())
    async def on_user_button(
        query: CallbackQuery,
        callback_data: UserDeskData,
        desk: DeskService,
        staff_desk: TelegramStaffDesk,
    ) -> None:
        """ "My problem is solved", "Was it solved?" yes / no, and the 1-5 rating."""
        user_id = query.from_user.id
        if query.message is not None:
            # The buttons do their job once: remove them before anything else is sent.
            try:
                await staff_desk.bot.edit_message_reply_markup(
                    chat_id=query.message.chat.id, message_id=query.message.message_id
                )
            except TelegramBadRequest as error:
                if "not modified" not in str(error).lower():
                    raise
                # Removed already by a first tap: the desk refuses the repeat below.
        try:
            if callback_data.a == "s":
                await desk.close_by_user(user_id)
            elif callback_data.a == "f":
                await desk.feedback.answer_fcr(callback_data.t, user_id, bool(callback_data.v))
            elif callback_data.a == "r":
                await desk.feedback.rate(callback_data.t, user_id, callback_data.v)
            else:
                raise StaleCallbackError("unknown desk button")
        except DeskRefusal as refusal:
            raise StaleCallbackError(refusal.code) from refusal
        await query.answer()

    return router


# --- rendering ---------------------------------------------------------------------------


def render_queue(info: QueueInfo, texts: StaffTexts, capacity: int) -> str:
    """/queue's text."""
    oldest = ""
    if info.oldest_wait_s is not None:
        oldest = texts.staff("queue_oldest", minutes=max(0, round(info.oldest_wait_s / 60)))
    lines = [
        texts.staff("queue", length=info.length, oldest=oldest, assigned=info.assigned),
        *(
            texts.staff(
                "queue_operator",
                state="🟢" if item.operator.online else "⚪",
                name=item.operator.name,
                load=item.load,
                capacity=capacity,
            )
            for item in info.operators
        ),
    ]
    if not info.is_open and info.opens_at is not None:
        lines.append(
            texts.staff("queue_closed", opens_at=info.opens_at.strftime("%Y-%m-%d %H:%M %Z"))
        )
    return "\n".join(lines)


def category_picker(ticket: Ticket, desk: DeskService, texts: StaffTexts) -> InlineKeyboardMarkup:
    """Categories for closing; the bot's guess first and marked."""
    names = list(desk.categories())
    order = sorted(range(len(names)), key=lambda i: names[i] != ticket.suggested_category)
    rows = [
        [
            InlineKeyboardButton(
                text=("✅ " if names[i] == ticket.suggested_category else "") + names[i],
                callback_data=DeskData(a="ca", t=ticket.id, v=str(i)).pack(),
            )
        ]
        for i in order
    ]
    tail = [
        InlineKeyboardButton(
            text=texts.staff_button("back"), callback_data=DeskData(a="bk", t=ticket.id).pack()
        )
    ]
    if not desk.params.require_category:
        tail.insert(
            0,
            InlineKeyboardButton(
                text=texts.staff_button("no_category"),
                callback_data=DeskData(a="cn", t=ticket.id).pack(),
            ),
        )
    return InlineKeyboardMarkup(inline_keyboard=[*rows, tail])


def subcategory_picker(
    ticket_id: int, category: str, index: str, subs: tuple[str, ...], texts: StaffTexts
) -> InlineKeyboardMarkup:
    """Subcategories of the chosen category."""
    rows = [
        [
            InlineKeyboardButton(
                text=f"{category} → {sub}"[:60],
                callback_data=DeskData(a="cs", t=ticket_id, v=f"{index}.{i}").pack(),
            )
        ]
        for i, sub in enumerate(subs)
    ]
    back = InlineKeyboardButton(
        text=texts.staff_button("back"), callback_data=DeskData(a="cl", t=ticket_id).pack()
    )
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [back]])


def transfer_picker(
    ticket_id: int, targets: list[OperatorLoad], texts: StaffTexts, capacity: int
) -> InlineKeyboardMarkup:
    """Colleagues to pass the ticket to, and "back to the queue"."""
    rows = [
        [
            InlineKeyboardButton(
                text=f"{'🟢' if t.operator.online else '⚪'} {t.operator.name} "
                f"{t.load}/{capacity}",
                callback_data=DeskData(a="tt", t=ticket_id, v=str(t.operator.id)).pack(),
            )
        ]
        for t in targets
    ]
    rows.append(
        [
            InlineKeyboardButton(
                text=texts.staff_button("to_queue"),
                callback_data=DeskData(a="tt", t=ticket_id, v="q").pack(),
            ),
            InlineKeyboardButton(
                text=texts.staff_button("back"),
                callback_data=DeskData(a="bk", t=ticket_id).pack(),
            ),
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def _open(desk: DeskService, ticket_id: int) -> Ticket:
    ticket = await desk.get(ticket_id)
    if ticket is None or not ticket.is_open:
        raise StaleCallbackError("the ticket is closed")
    return ticket


def _pick(items: list[str], index: str) -> str:
    if not index.isdigit() or int(index) >= len(items):
        raise StaleCallbackError("the taxonomy changed")
    return items[int(index)]


def _sender(message: Message) -> User:
    if message.from_user is None:  # excluded by the router filters
        raise RuntimeError("message without a sender")
    return message.from_user

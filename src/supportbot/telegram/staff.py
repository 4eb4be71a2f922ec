"""The staff group's router: operators' commands, messages, edits, and one handler per button.

`get_staff_router(staff_chat_id)` takes only updates from the staff group; members act,
non-members are refused. Handlers are thin: narrow, call the desk, render. Button presses
are answered by aiogram's `CallbackAnswerMiddleware`; failed ones by the error router.
"""

from __future__ import annotations

import html
import logging

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardMarkup,
    Message,
    User,
)
from aiogram.utils.callback_answer import CallbackAnswer

from supportbot.desk.models import Relay, Ticket
from supportbot.desk.queue import QueueInfo
from supportbot.desk.service import DeskService
from supportbot.domain.errors import StaleCallbackError
from supportbot.telegram import staff_keyboards as keyboards
from supportbot.telegram.callbacks import DeskData, StaffAction
from supportbot.telegram.membership import StaffMembership
from supportbot.telegram.middlewares import AnswerOnce, ErrorsAnsweredByErrorRouter
from supportbot.telegram.numbers import parse_id, parse_int
from supportbot.telegram.staff_desk import TelegramStaffDesk
from supportbot.telegram.texts import Texts

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
    members.callback_query.middleware(AnswerOnce())
    members.callback_query.middleware(ErrorsAnsweredByErrorRouter())
    # A member's message no handler wants (an unknown command) is not a refusal.
    outsiders.message.filter(~IsStaffMember())
    outsiders.callback_query.filter(~IsStaffMember())
    _commands(members)
    _buttons(members)

    @outsiders.message()
    @outsiders.callback_query()
    async def on_outsider(event: Message | CallbackQuery, texts: Texts) -> None:
        """Someone who is not (or no longer) in the staff group: refused, politely."""
        user = event.from_user
        logger.info("staff group: non-member %s refused", user.id if user else None)
        text = texts.staff("not_member")
        if isinstance(event, CallbackQuery):
            await event.answer(html.unescape(text), show_alert=True)
        elif event.chat.type != ChatType.PRIVATE:
            await event.reply(text)

    @root.chat_member(F.chat.id == staff_chat_id)
    async def on_membership(event: ChatMemberUpdated, staff_members: StaffMembership) -> None:
        """Someone joined or left the staff group (or was promoted, restricted, banned):
        what they may do changes now, not when the membership cache expires."""
        staff_members.changed(event.new_chat_member.user.id, event.new_chat_member)

    root.include_routers(members, outsiders)
    return root


def _commands(members: Router) -> None:
    @members.message(Command("online", "offline"))
    async def on_online(
        message: Message, command: CommandObject, desk: DeskService, texts: Texts
    ) -> None:
        """/online, /offline: whether tickets may be assigned to the operator."""
        user = _sender(message)
        online = command.command == "online"
        await desk.set_online(user.id, _name(user), online)
        await message.reply(texts.staff("online" if online else "offline"))

    @members.message(Command("queue"))
    async def on_queue(message: Message, desk: DeskService, texts: Texts) -> None:
        """/queue: how many wait, for how long, and every operator's load."""
        info = await desk.queue_info()
        await message.reply(render_queue(info, texts, desk.params.capacity))

    @members.message(Command("t"))
    async def on_canned(
        message: Message, command: CommandObject, desk: DeskService, texts: Texts
    ) -> None:
        """/t <words>: canned replies matching the words, as buttons."""
        words = (command.args or "").strip()
        if not words:
            await message.reply(texts.staff("canned_usage"))
            return
        ticket = await desk.ticket_at(**_where(message))
        if ticket is None:
            await message.reply(texts.staff("canned_where"))
            return
        found = desk.assist.search_canned(words, ticket.lang)
        if not found:
            await message.reply(texts.staff("canned_none", words=words))
            return
        await message.reply(
            texts.staff("canned_found", words=words),
            reply_markup=keyboards.canned_found(ticket.id, found),
        )

    @members.message(Command("note"))
    async def on_note(message: Message) -> None:
        """/note text: an internal note, never sent to the user."""

    @members.message(Command("ban", "unban"))
    async def on_ban(
        message: Message, command: CommandObject, desk: DeskService, texts: Texts
    ) -> None:
        """/ban (in a ticket, or with a user id) and /unban <user id>."""
        arg = (command.args or "").strip()
        user_id = parse_id(arg)
        if user_id is None and command.command == "ban":
            ticket = await desk.ticket_at(**_where(message))
            user_id = ticket.user_id if ticket is not None else None
        if user_id is None:
            await message.reply(texts.staff("ban_usage"))
            return
        if command.command == "ban":
            await desk.ban(user_id, by=_sender(message).id)
            await message.reply(texts.staff("banned", user_id=user_id))
        elif await desk.bans.lift(user_id):
            await message.reply(texts.staff("unbanned", user_id=user_id))
        else:
            await message.reply(texts.staff("not_banned", user_id=user_id))

    @members.message(F.func(_not_a_command))
    async def on_staff_message(
        message: Message,
        desk: DeskService,
        texts: Texts,
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
            await message.reply(texts.staff("not_delivered"))

    @members.edited_message()
    async def on_staff_edit(
        message: Message, desk: DeskService, staff_desk: TelegramStaffDesk
    ) -> None:
        """An operator edited a relayed message: edit the user's copy."""
        found = await desk.edited_by_operator(message.message_id)
        if found is not None:
            ticket, copy_id = found
            await staff_desk.edit_copy(ticket.user_id, copy_id, message)


def _buttons(members: Router) -> None:
    @members.callback_query(DeskData.filter(F.action == StaffAction.TAKE))
    async def on_take(query: CallbackQuery, callback_data: DeskData, desk: DeskService) -> None:
        """Take a queued ticket."""
        await desk.take(callback_data.ticket, query.from_user.id, _name(query.from_user))

    @members.callback_query(DeskData.filter(F.action == StaffAction.CLOSE))
    async def on_close(
        query: CallbackQuery, callback_data: DeskData, desk: DeskService, texts: Texts
    ) -> None:
        """Close: at once without a taxonomy, else the category picker."""
        if not desk.categories():
            await desk.close(callback_data.ticket, query.from_user.id, _name(query.from_user))
            return
        ticket = await _open(desk, callback_data.ticket)
        required = desk.params.require_category
        picker = keyboards.category_picker(ticket, desk.categories(), texts, required=required)
        await _show(query, picker)

    @members.callback_query(DeskData.filter(F.action == StaffAction.BACK))
    async def on_back(
        query: CallbackQuery, callback_data: DeskData, desk: DeskService, texts: Texts
    ) -> None:
        """Back from a picker to the card's own buttons."""
        ticket = await _open(desk, callback_data.ticket)
        await _show(query, keyboards.card_buttons(ticket, texts))

    @members.callback_query(DeskData.filter(F.action == StaffAction.CATEGORY))
    async def on_category(
        query: CallbackQuery, callback_data: DeskData, desk: DeskService, texts: Texts
    ) -> None:
        """A category: its subcategories, or close with it when it has none."""
        category = _pick(list(desk.categories()), callback_data.value)
        subs = desk.categories()[category]
        if subs:
            picker = keyboards.subcategory_picker(
                callback_data.ticket, category, callback_data.value, subs, texts
            )
            await _show(query, picker)
            return
        user = query.from_user
        await desk.close(callback_data.ticket, user.id, _name(user), category=category)

    @members.callback_query(DeskData.filter(F.action == StaffAction.SUBCATEGORY))
    async def on_subcategory(
        query: CallbackQuery, callback_data: DeskData, desk: DeskService
    ) -> None:
        """A subcategory: close with it."""
        cat_index, _, sub_index = callback_data.value.partition(".")
        category = _pick(list(desk.categories()), cat_index)
        subcategory = _pick(list(desk.categories()[category]), sub_index)
        user = query.from_user
        await desk.close(
            callback_data.ticket, user.id, _name(user), category=category, subcategory=subcategory
        )

    @members.callback_query(DeskData.filter(F.action == StaffAction.NO_CATEGORY))
    async def on_no_category(
        query: CallbackQuery, callback_data: DeskData, desk: DeskService
    ) -> None:
        """Close without a category (when none is required)."""
        await desk.close(callback_data.ticket, query.from_user.id, _name(query.from_user))

    @members.callback_query(DeskData.filter(F.action == StaffAction.TRANSFER))
    async def on_transfer(
        query: CallbackQuery, callback_data: DeskData, desk: DeskService, texts: Texts
    ) -> None:
        """Transfer: the colleague picker."""
        targets = await desk.transfer_targets(callback_data.ticket, query.from_user.id)
        picker = keyboards.transfer_picker(
            callback_data.ticket, targets, texts, desk.params.capacity
        )
        await _show(query, picker)

    @members.callback_query(DeskData.filter(F.action == StaffAction.TRANSFER_TO))
    async def on_transfer_to(
        query: CallbackQuery, callback_data: DeskData, desk: DeskService
    ) -> None:
        """Hand the ticket to a colleague, or back to the queue."""
        value = callback_data.value
        target = None if value == "q" else parse_id(value)
        if target is None and value != "q":
            raise StaleCallbackError("unreadable operator id")
        user = query.from_user
        await desk.transfer(callback_data.ticket, user.id, _name(user), target)

    @members.callback_query(DeskData.filter(F.action == StaffAction.ARTICLE))
    async def on_article(
        query: CallbackQuery,
        callback_data: DeskData,
        desk: DeskService,
        texts: Texts,
        callback_answer: CallbackAnswer,
    ) -> None:
        """Agent assist: send the suggested article to the user."""
        user = query.from_user
        await desk.send_article(callback_data.ticket, user.id, _name(user), callback_data.value)
        callback_answer.text = texts.staff("sent")

    @members.callback_query(DeskData.filter(F.action == StaffAction.CANNED))
    async def on_canned_button(
        query: CallbackQuery,
        callback_data: DeskData,
        desk: DeskService,
        texts: Texts,
        callback_answer: CallbackAnswer,
    ) -> None:
        """Agent assist or /t: send the canned reply to the user."""
        user = query.from_user
        await desk.send_canned(callback_data.ticket, user.id, _name(user), callback_data.value)
        callback_answer.text = texts.staff("sent")

    @members.callback_query(F.data.startswith(f"{DeskData.__prefix__}:"))
    async def on_unknown(query: CallbackQuery) -> None:
        """A staff button this version does not know (forged, or from an old release)."""
        raise StaleCallbackError("unknown desk action")


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


def render_queue(info: QueueInfo, texts: Texts, capacity: int) -> str:
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


async def _show(query: CallbackQuery, markup: InlineKeyboardMarkup | None) -> None:
    """Swap the pressed message's buttons (a picker, or the card's own)."""
    message = query.message
    if not isinstance(message, Message) or query.bot is None:
        return
    if _same(message.reply_markup, markup):
        return  # a second tap on the same button: Telegram refuses an edit that changes nothing
    await query.bot.edit_message_reply_markup(
        chat_id=message.chat.id, message_id=message.message_id, reply_markup=markup
    )


def _same(shown: InlineKeyboardMarkup | None, markup: InlineKeyboardMarkup | None) -> bool:
    def rows(m: InlineKeyboardMarkup | None) -> object:
        return m.model_dump(exclude_none=True)["inline_keyboard"] if m is not None else []

    return rows(shown) == rows(markup)


async def _open(desk: DeskService, ticket_id: int) -> Ticket:
    ticket = await desk.get(ticket_id)
    if ticket is None or not ticket.is_open:
        raise StaleCallbackError("the ticket is closed")
    return ticket


def _pick(items: list[str], index: str) -> str:
    position = parse_int(index, low=0, high=len(items) - 1)
    if position is None:
        raise StaleCallbackError("the taxonomy changed")
    return items[position]


def _sender(message: Message) -> User:
    if message.from_user is None:  # excluded by the router filters
        raise RuntimeError("message without a sender")
    return message.from_user

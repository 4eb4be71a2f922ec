"""What bench_faults.py counts: a recording fake Bot API, scripted operators and the ledger.

The ledger decides, from what the fake Telegram server saw, whether each user message and
each operator reply arrived, and how often. A user message M of user U is *delivered* when:
  - it reached the staff group: a copy of M (copyMessage/copyMessages/forwardMessage from
    U's chat with M's id) was accepted into the staff group, or M's text is in a card of
    U's ticket (the card quotes the conversation so far); or
  - for a question Q about article A (the article's own question, each asked once per user):
    a bot message to U begins with A's title (the answer), offers A while U waits, or
    suggests A first;
  - for a request for a person (/operator, "позовите оператора"): the bot answered U with a
    handoff reply ("I passed your question to a person") or "already being handled". These
    replies carry nothing of the message, so they are matched one to one, in time order,
    to U's requests and free-text follow-ups that came before them; a reply left over is a
    duplicate.
A follow-up F (free text no article answers) counts only when it reached the staff group:
a reply to the user alone leaves the operator without it. An operator reply O is delivered
when a copy of O from the staff group was accepted into U's chat. Each copy, answer or
handoff reply beyond the first is a duplicate; a user with more than one ticket (the
operators close none) or a ticket with more than one topic is a duplicate.
"""

from __future__ import annotations

import asyncio
import html
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from aiohttp import web

from faketg import Call, FakeTelegram, TelegramApiError

USER_IN_CARD = re.compile(r"user_id=(\d+)")
HANDOFF_REPLIES = ("I passed your question to a person", "Your question is already being")
WAITING_OFFER = "While you wait: this article may solve it."
SUGGEST = "Maybe one of these?"
JOINED = "has joined the conversation"
COPY_METHODS = ("copyMessage", "copyMessages", "forwardMessage")


@dataclass(frozen=True)
class Seen:
    """A Bot API call the fake answered (or refused), and when."""

    at: float
    call: Call


class RecordingTelegram(FakeTelegram):
    """The fake Bot API, noting when each call ended and telling listeners about it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[Seen] = []
        self.listeners: list[Callable[[Seen], None]] = []
        self.pushed_at: dict[str, float] = {}  # callback query id -> when it was pushed

    def _finish(
        self, call: Call, *, result: Any = None, error: TelegramApiError | None = None
    ) -> web.Response:
        response = super()._finish(call, result=result, error=error)
        if call.method != "getUpdates":
            seen = Seen(time.monotonic(), call)
            self.seen.append(seen)
            for listener in self.listeners:
                listener(seen)
        return response

    def press(self, user_id: int, data: str, message_id: int, chat_id: int | None = None) -> str:
        """Push a button press and remember when; returns the callback query id."""
        pushed = self.callback(user_id, data, message_id, chat_id)
        query = str(pushed.callback_query_id)
        self.pushed_at[query] = time.monotonic()
        return query

    def ok_calls(self, *methods: str, since: float = 0.0) -> list[Call]:
        """Accepted calls of these methods (ended at `since` or later), oldest first."""
        wanted = {m.lower() for m in methods}
        return [
            s.call
            for s in self.seen
            if s.call.ok and s.call.method.lower() in wanted and s.at >= since
        ]


@dataclass
class UserMessage:
    """One message a scripted user sent."""

    user_id: int
    message_id: int
    kind: str  # "question", "person" or "followup"
    text: str
    at: float
    article: str = ""  # the title a question is about
    replied: bool = False  # a handoff reply was matched to it (requests, follow-ups)


@dataclass
class OperatorReply:
    """One message an operator wrote in a ticket's topic."""

    operator_id: int
    user_id: int
    message_id: int
    at: float


@dataclass
class Tally:
    """The counts of one run, next to the issue's targets."""

    messages: int = 0
    lost: int = 0
    lost_by_kind: Counter[str] = field(default_factory=Counter)
    replies: int = 0
    replies_lost: int = 0
    dup_answers: int = 0
    dup_handoff_replies: int = 0
    dup_operator_replies: int = 0
    dup_relays: int = 0
    topics: int = 0
    dup_topics: int = 0
    orphan_topics: int = 0
    dup_tickets: int = 0
    lost_examples: list[str] = field(default_factory=list)

    @property
    def dup_replies(self) -> int:
        """Bot answers, handoff replies and operator replies a user got more than once."""
        return self.dup_answers + self.dup_handoff_replies + self.dup_operator_replies

    def add(self, other: Tally) -> None:
        """Sum `other` into this one."""
        for item in fields(self):
            if item.type != "int":
                continue
            name = item.name
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.lost_by_kind.update(other.lost_by_kind)
        self.lost_examples += other.lost_examples[: max(0, 5 - len(self.lost_examples))]


class Ledger:
    """Every message the scripted users and operators sent, checked against the fake."""

    def __init__(self, tg: RecordingTelegram, staff: int, *, since: float = 0.0) -> None:
        self.tg = tg
        self.staff = staff
        self.since = since  # what the bot did before (time.monotonic()) is not counted
        self.messages: list[UserMessage] = []
        self.replies: list[OperatorReply] = []

    def user_says(
        self, user_id: int, kind: str, text: str, *, article: str = "", name: str = ""
    ) -> UserMessage:
        """Push a private message from a scripted user and note it."""
        pushed = self.tg.user_message(
            user_id, text, language_code="en", first_name=name or f"User{user_id}"
        )
        message = UserMessage(
            user_id, int(pushed.message_id or 0), kind, text, time.monotonic(), article
        )
        self.messages.append(message)
        return message

    def operator_says(self, operator_id: int, user_id: int, topic: int, text: str) -> None:
        """Push an operator's message in a ticket's topic and note it."""
        pushed = self.tg.group_message(self.staff, operator_id, text, thread_id=topic)
        self.replies.append(
            OperatorReply(operator_id, user_id, int(pushed.message_id or 0), time.monotonic())
        )

    # --- counting ------------------------------------------------------------------------

    def tally(self, *, tickets_per_user: dict[int, int] | None = None) -> Tally:
        """Count what was lost and what doubled (call once the bot has gone quiet)."""
        out = Tally(messages=len(self.messages), replies=len(self.replies))
        relayed = self._copies(self.staff, from_users=True)
        cards = self._cards()
        bot_texts = self._bot_texts()
        handoff_left = self._match_handoff_replies(bot_texts)
        for m in self.messages:
            copies = relayed.get((m.user_id, m.message_id), 0)
            out.dup_relays += max(0, copies - 1)
            in_card = any(html.escape(m.text, quote=False) in c for c in cards.get(m.user_id, []))
            reached_staff = copies > 0 or in_card
            if m.kind == "question":
                answers = sum(1 for t in bot_texts[m.user_id] if _answers(t[1], m.article))
                out.dup_answers += max(0, answers - 1)
                delivered = reached_staff or answers > 0
            elif m.kind == "person":
                delivered = reached_staff or m.replied
            else:
                delivered = reached_staff
            if not delivered:
                out.lost += 1
                out.lost_by_kind[m.kind] += 1
                if len(out.lost_examples) < 5:
                    out.lost_examples.append(f"user {m.user_id} {m.kind} {m.text[:40]!r}")
        out.dup_handoff_replies = handoff_left
        delivered_ops = self._copies(None, from_users=False)
        for r in self.replies:
            copies = delivered_ops.get((r.user_id, r.message_id), 0)
            if copies == 0:
                out.replies_lost += 1
            out.dup_operator_replies += max(0, copies - 1)
        self._topics(out, cards)
        if tickets_per_user is not None:
            out.dup_tickets = sum(max(0, n - 1) for n in tickets_per_user.values())
        else:
            out.dup_tickets = sum(max(0, len(t) - 1) for t in self._tickets().values())
        return out

    def _copies(self, into: int | None, *, from_users: bool) -> Counter[tuple[int, int]]:
        """(user, source message id) -> accepted copies: user messages into the staff group
        (`from_users`), or operator messages from the staff group into users' chats."""
        counts: Counter[tuple[int, int]] = Counter()
        for call in self.tg.ok_calls(*COPY_METHODS, since=self.since):
            chat, source = call.params.get("chat_id"), call.params.get("from_chat_id")
            ids = call.params.get("message_ids") or [call.params.get("message_id")]
            if from_users and chat == into and isinstance(source, int):
                for mid in ids:
                    counts[(source, int(mid))] += 1
            elif not from_users and source == self.staff and isinstance(chat, int):
                for mid in ids:
                    counts[(chat, int(mid))] += 1
        return counts

    def _cards(self) -> dict[int, list[str]]:
        """User -> the raw HTML of every card (and card edit) of their tickets."""
        cards: dict[int, list[str]] = defaultdict(list)
        for call in self.tg.ok_calls("sendMessage", "editMessageText", since=self.since):
            if call.params.get("chat_id") != self.staff:
                continue
            text = str(call.params.get("text", ""))
            found = USER_IN_CARD.search(text)
            if found:
                cards[int(found.group(1))].append(text)
        return cards

    def _tickets(self) -> dict[int, set[int]]:
        """User -> ids of the tickets whose card was posted (from the cards' buttons)."""
        tickets: dict[int, set[int]] = defaultdict(set)
        for call in self.tg.ok_calls("sendMessage", since=self.since):
            if call.params.get("chat_id") != self.staff:
                continue
            found = USER_IN_CARD.search(str(call.params.get("text", "")))
            ticket = _ticket_of(call.params.get("reply_markup"))
            if found and ticket is not None:
                tickets[int(found.group(1))].add(ticket)
        return tickets

    def _bot_texts(self) -> dict[int, list[tuple[float, str]]]:
        """User -> (when, plain text) of every message the bot sent them, in order."""
        texts: dict[int, list[tuple[float, str]]] = defaultdict(list)
        for seen in self.tg.seen:
            call = seen.call
            if seen.at < self.since or not call.ok or call.method != "sendMessage":
                continue
            if not isinstance(call.result, dict):
                continue
            chat = call.params.get("chat_id")
            if isinstance(chat, int) and chat > 0:
                texts[chat].append((seen.at, str(call.result.get("text", ""))))
        return texts

    def _match_handoff_replies(self, texts: dict[int, list[tuple[float, str]]]) -> int:
        """Match handoff replies to requests and follow-ups in time order (marking them
        `replied`); returns the replies left over: duplicates."""
        left = 0
        by_user: dict[int, list[UserMessage]] = defaultdict(list)
        for m in self.messages:
            m.replied = False
            if m.kind in {"person", "followup"}:
                by_user[m.user_id].append(m)
        for user, sent in texts.items():
            waiting = sorted(by_user.get(user, []), key=lambda m: m.at)
            for at, text in sent:
                if not text.startswith(HANDOFF_REPLIES):
                    continue
                match = next((m for m in waiting if m.at <= at), None)
                if match is None:
                    left += 1
                else:
                    match.replied = True
                    waiting.remove(match)
        return left

    def _topics(self, out: Tally, cards: dict[int, list[str]]) -> None:
        topics = [
            c
            for c in self.tg.ok_calls("createForumTopic", since=self.since)
            if c.params.get("chat_id") == self.staff
        ]
        out.topics = len(topics)
        with_card = {
            c.params.get("message_thread_id")
            for c in self.tg.ok_calls("sendMessage", since=self.since)
            if c.params.get("chat_id") == self.staff
            and USER_IN_CARD.search(str(c.params.get("text", "")))
        }
        per_ticket: Counter[str] = Counter()
        for call in topics:
            thread = (
                call.result.get("message_thread_id") if isinstance(call.result, dict) else None
            )
            if thread not in with_card:
                out.orphan_topics += 1
            per_ticket[str(call.params.get("name", "")).split(" ", 1)[0]] += 1
        out.dup_topics = sum(n - 1 for n in per_ticket.values() if n > 1)


def _answers(text: str, title: str) -> bool:
    """Whether a bot message answers (or offers first) the article titled `title`."""
    if not title:
        return False
    return (
        text.startswith(title + "\n")
        or text == title
        or text.startswith(f"{WAITING_OFFER}\n\n{title}\n")
        or text.startswith(f"{SUGGEST}\n\n1. {title}\n")
        or text == f"{SUGGEST}\n\n1. {title}"
    )


def _callback_data(markup: Any) -> list[str]:
    if not isinstance(markup, dict):
        return []
    rows = markup.get("inline_keyboard") or []
    return [str(b["callback_data"]) for row in rows for b in row if "callback_data" in b]


def _ticket_of(markup: Any) -> int | None:
    for data in _callback_data(markup):
        parts = data.split(":")
        if len(parts) >= 3 and parts[0] == "k" and parts[2].isdecimal():
            return int(parts[2])
    return None


class Operators:
    """Scripted operators: take each new ticket, answer in its topic, answer follow-ups.

    An operator presses Take on a ticket's first card, presses again every few seconds
    until the user is told an operator joined (a press can be lost with the bot), then
    writes a reply; each user message relayed into the topic gets a reply with probability
    `reply_share`, at most `max_replies` per ticket. Unanswered presses are retried while
    the ticket is not confirmed, at most `max_presses` times.
    """

    def __init__(
        self,
        ledger: Ledger,
        operator_ids: list[int],
        rng: random.Random,
        *,
        reply_share: float = 0.5,
        max_replies: int = 3,
        max_presses: int = 12,
        retake_s: float = 4.0,
    ) -> None:
        self.ledger = ledger
        self.tg = ledger.tg
        self.ids = operator_ids
        self.rng = rng
        self.reply_share = reply_share
        self.max_replies = max_replies
        self.max_presses = max_presses
        self.retake_s = retake_s
        self.tasks: set[asyncio.Task[None]] = set()
        self._tickets: dict[int, tuple[int, int, int]] = {}  # ticket -> user, topic, card
        self._owner: dict[int, int] = {}  # ticket -> operator
        self._joined: set[int] = set()  # users told an operator joined
        self._written: Counter[int] = Counter()  # ticket -> replies written
        self._next = 0
        self.active = True
        for operator in operator_ids:
            self.tg.add_user(operator, first_name=f"Operator{operator}", private_chat=False)
            self.tg.set_member(ledger.staff, operator, "member")
        self.tg.listeners.append(self._on_call)

    @property
    def busy(self) -> bool:
        """True while an operator is about to press or write something."""
        return any(not t.done() for t in self.tasks)

    def _spawn(self, job: Any) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _on_call(self, seen: Seen) -> None:
        if not self.active:
            return
        call = seen.call
        if not call.ok:
            return
        chat = call.params.get("chat_id")
        text = str(call.params.get("text", ""))
        if call.method == "sendMessage" and chat == self.ledger.staff:
            found = USER_IN_CARD.search(text)
            ticket = _ticket_of(call.params.get("reply_markup"))
            thread = call.params.get("message_thread_id")
            if found and ticket is not None and ticket not in self._tickets and thread:
                card = int(call.result["message_id"]) if isinstance(call.result, dict) else 0
                self._tickets[ticket] = (int(found.group(1)), int(thread), card)
                operator = self.ids[self._next % len(self.ids)]
                self._next += 1
                self._owner[ticket] = operator
                self._spawn(self._take(ticket))
        elif call.method == "sendMessage" and isinstance(chat, int) and JOINED in text:
            self._joined.add(chat)
        elif call.method in COPY_METHODS and chat == self.ledger.staff:
            thread = call.params.get("message_thread_id")
            ticket = next((t for t, v in self._tickets.items() if v[1] == thread), None)
            if ticket is not None and self._ready(ticket) and self.rng.random() < self.reply_share:
                self._spawn(self._write(ticket))

    def _ready(self, ticket: int) -> bool:
        user = self._tickets[ticket][0]
        return user in self._joined and self._written[ticket] < self.max_replies

    async def _take(self, ticket: int) -> None:
        user, _, card = self._tickets[ticket]
        operator = self._owner[ticket]
        await asyncio.sleep(self.rng.uniform(0.2, 1.0))
        for _ in range(self.max_presses):
            if user in self._joined or not self.active:
                break
            self.tg.press(operator, f"k:tk:{ticket}:", card, self.ledger.staff)
            for _ in range(int(self.retake_s / 0.1)):
                if user in self._joined or not self.active:
                    break
                await asyncio.sleep(0.1)
        if user in self._joined and self.active:
            await self._write(ticket)

    async def _write(self, ticket: int) -> None:
        await asyncio.sleep(self.rng.uniform(0.3, 1.2))
        if not self.active or self._written[ticket] >= self.max_replies:
            return
        self._written[ticket] += 1
        user, topic, _ = self._tickets[ticket]
        operator = self._owner[ticket]
        n = self._written[ticket]
        self.ledger.operator_says(
            operator, user, topic, f"Operator {operator}: answer {n} on ticket {ticket}."
        )

    def stop(self) -> None:
        """No more presses or replies."""
        self.active = False
        for task in self.tasks:
            task.cancel()

    @property
    def tickets(self) -> dict[int, tuple[int, int, int]]:
        """Ticket -> (user, topic, card message) as the operators saw them."""
        return dict(self._tickets)

    def owner(self, user: int) -> tuple[int, int] | None:
        """(operator, topic) of the ticket of `user` the operators took, if any."""
        for ticket, (owner, topic, _) in self._tickets.items():
            if owner == user and user in self._joined:
                return self._owner[ticket], topic
        return None

    def joined(self, user: int) -> bool:
        """Whether the user was told an operator joined."""
        return user in self._joined

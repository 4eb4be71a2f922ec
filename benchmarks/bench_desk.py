"""Benchmark the operator desk: the whole bot with its staff group against the fake server.

The real aiogram Bot, Dispatcher, routers and session, built by the composition root
(`build_bot_app` / `serve_bot_app`, as `supportbot run` does) over SQLite, talk over HTTP to
the fake Telegram server (tests/faketg.py), which runs in the same process and event loop.
Printed:
  1. a handoff burst: N users write at once; tickets/s until every topic + card is in the
     staff group and every user has their queue reply; latencies; Bot API calls per handoff;
  2. full lifecycles (handoff -> take -> operator reply -> user answer -> close -> the FCR
     question) with several operators working many tickets at once: lifecycles/s, latency
     per step, Bot API calls per ticket by method;
  3. the staff group's pacing (Telegram allows about 20 messages a minute into one group):
     a small burst at the real 20/min, and the tickets/min that limit allows, set against
     what the desk itself sustains;
  4. peak RSS.

Run: HF_HUB_OFFLINE=1 python benchmarks/bench_desk.py [--tickets 200] [--operators 6]
     [--capacity 4] [--no-categories] [--paced-tickets 12] [--profile]
Nothing is asserted: speed is measured, not unit-tested. The default run takes under two
minutes, a minute of it the paced burst waiting out Telegram's one-minute window.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import math
import pstats
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from aiohttp import web  # noqa: E402

from desk_harness import STAFF, DeskHarness, running_desk  # noqa: E402
from fakes import TOKEN  # noqa: E402
from faketg import Call, FakeTelegram, TelegramApiError  # noqa: E402
from supportbot.desk.params import DeskParams  # noqa: E402

TELEGRAM_PER_MINUTE = 20  # Telegram's limit for one group (the desk's default pacing)
UNPACED = 10_000  # the highest `desk.staff_messages_per_minute` the config accepts
FIRST_USER = 7_000_001
FIRST_OPERATOR = 600_001
WARM_USER = 6_999_999
HANDOFF_TEXT = "qwzx blorf teapot {n}"  # the scripted suggester matches nothing: a handoff
USER_IN_CARD = re.compile(r"user_id=(\d+)")
# The handoff reply (locales/en.toml handoff_queued*) and the desk's queue-position notice.
HANDOFF_REPLY = "I passed your question to a person"
POSITION_NOTICE = "You are now number"
Key = tuple[str, Any]


@dataclass(frozen=True)
class Seen:
    """A Bot API call the server answered, and when."""

    at: float
    call: Call


class TimedTelegram(FakeTelegram):
    """The fake server, noting when each call was answered and resolving what waits for it.

    Keys: ("reply", user) the handoff reply to a user; ("card", user) the ticket card;
    ("joined", user) / ("fcr", user) the notices with the solved / FCR buttons;
    ("copy_user", user) / ("copy_staff", topic) relayed copies; ("answer", query id).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failed: list[Call] = []
        self.cards: asyncio.Queue[Seen] = asyncio.Queue()
        self._futures: dict[Key, asyncio.Future[Seen]] = {}
        self.pushed = 0
        self.position_notices: Counter[int] = Counter()
        self.cards_of: Counter[int] = Counter()  # ticket id -> cards posted for it

    def push_update(self, update: dict[str, Any]) -> int:
        self.pushed += 1
        return super().push_update(update)

    def future(self, key: Key) -> asyncio.Future[Seen]:
        """What resolves when the call of `key` is answered (or already has been)."""
        found = self._futures.get(key)
        if found is None:
            found = self._futures[key] = asyncio.get_running_loop().create_future()
        return found

    async def seen(self, key: Key, within_s: float = 60.0) -> Seen:
        """Wait for the call of `key`."""
        return await asyncio.wait_for(asyncio.shield(self.future(key)), within_s)

    def _finish(
        self, call: Call, *, result: Any = None, error: TelegramApiError | None = None
    ) -> web.Response:
        response = super()._finish(call, result=result, error=error)
        if call.method != "getUpdates":
            self._note(Seen(time.perf_counter(), call))
        return response

    def _resolve(self, key: Key, seen: Seen) -> None:
        future = self.future(key)
        if not future.done():
            future.set_result(seen)

    def _note(self, seen: Seen) -> None:
        call = seen.call
        if not call.ok:
            self.failed.append(call)
            return
        chat = call.params.get("chat_id")
        if call.method == "sendMessage":
            data = _callback_data(call.params.get("reply_markup"))
            if chat == STAFF:
                found = USER_IN_CARD.search(str(call.params.get("text", "")))
                take = [d for d in data if d.startswith("k:tk:")]
                if found and take:
                    ticket = int(take[0].split(":")[2])
                    self.cards_of[ticket] += 1
                    if self.cards_of[ticket] == 1:  # a second card is reported, not worked
                        self._resolve(("card", int(found.group(1))), seen)
                        self.cards.put_nowait(seen)
                return
            text = str(call.params.get("text", ""))
            if text.startswith(HANDOFF_REPLY):
                self._resolve(("reply", chat), seen)
            elif text.startswith(POSITION_NOTICE) and isinstance(chat, int):
                self.position_notices[chat] += 1
            if any(d.startswith("u:s:") for d in data):
                self._resolve(("joined", chat), seen)
            if any(d.startswith("u:f:") for d in data):
                self._resolve(("fcr", chat), seen)
        elif call.method == "copyMessage":
            if chat == STAFF:
                self._resolve(("copy_staff", call.params.get("message_thread_id")), seen)
            else:
                self._resolve(("copy_user", chat), seen)
        elif call.method == "answerCallbackQuery":
            self._resolve(("answer", str(call.params.get("callback_query_id"))), seen)


@dataclass(frozen=True)
class Card:
    """A ticket's card as the staff group got it."""

    user_id: int
    ticket_id: int
    message_id: int
    topic_id: int | None


def _card(seen: Seen) -> Card:
    call = seen.call
    found = USER_IN_CARD.search(str(call.params.get("text", "")))
    take = next(d for d in _callback_data(call.params.get("reply_markup")) if "k:tk:" in d)
    thread = call.params.get("message_thread_id")
    return Card(
        user_id=int(found.group(1)) if found else 0,
        ticket_id=int(take.split(":")[2]),
        message_id=int(call.result["message_id"]),
        topic_id=int(thread) if thread is not None else None,
    )


def _callback_data(markup: Any) -> list[str]:
    if not isinstance(markup, dict):
        return []
    rows = markup.get("inline_keyboard") or []
    return [str(b["callback_data"]) for row in rows for b in row if "callback_data" in b]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else math.nan


def _lat(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {_pct(values, 0.5):7.1f} ms  p95 {_pct(values, 0.95):7.1f} ms  "
        f"max {max(values):7.1f} ms"
    )


class LogTally(logging.Handler):
    """Counts warnings and errors (a lost message or a failed effect shows up here)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Usage:
    """Wall and CPU time of a stretch: the event-loop thread vs the other threads."""

    wall: float = 0.0
    loop_cpu: float = 0.0
    other_cpu: float = 0.0
    _started: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def start(self) -> None:
        self._started = (time.perf_counter(), time.thread_time(), time.process_time())

    def stop(self) -> None:
        wall, thread, process = self._started
        self.wall = time.perf_counter() - wall
        self.loop_cpu = time.thread_time() - thread
        self.other_cpu = time.process_time() - process - self.loop_cpu

    def line(self) -> str:
        return (
            f"CPU: event-loop thread (bot + fake server) busy {self.loop_cpu / self.wall:.0%} "
            f"of the wall time; other threads (aiosqlite) {self.other_cpu / self.wall:.0%}"
        )


class TimedLock(asyncio.Lock):
    """An asyncio.Lock that adds up how long it was waited for and held."""

    def __init__(self) -> None:
        super().__init__()
        self.acquired = 0
        self.waited = 0.0
        self.held = 0.0
        self._since = 0.0

    async def acquire(self) -> Literal[True]:
        asked = time.perf_counter()
        await super().acquire()
        self._since = time.perf_counter()
        self.acquired += 1
        self.waited += self._since - asked
        return True

    def release(self) -> None:
        self.held += time.perf_counter() - self._since
        super().release()


class Probe:
    """Instruments one running desk to show what bounds it (attach while the desk is idle).

    Reaches into internals on purpose, each optional: the desk's one lock around every
    state change (`DeskService._lock`), the shared SQLite write lock
    (`Database._write_lock`), aiosqlite's hop to its thread (`Connection._execute`) and the
    full scans of open tickets (`TicketRepository.open_tickets`).
    """

    def __init__(self, bot: DeskHarness) -> None:
        self._undo: list[Callable[[], None]] = []
        self.desk_lock = self._swap_lock(bot.desk, "_lock")
        self.write_lock = self._swap_lock(bot.db, "_write_lock")
        self.db_ops = 0
        self.db_wall = 0.0
        self.db_work = 0.0
        self.scans = 0
        self.scanned = 0
        self._frozen: dict[str, float] = {}
        self._locks: list[tuple[str, int, float, float]] = []
        connection: Any = bot.db.connection
        execute = getattr(connection, "_execute", None)
        if execute is not None:
            connection._execute = self._timed_execute(execute)
            self._undo.append(lambda: delattr(connection, "_execute"))
        tickets: Any = getattr(bot.desk, "_tickets", None)
        scan = getattr(tickets, "open_tickets", None)
        if scan is not None:
            tickets.open_tickets = self._counted_scan(scan)
            self._undo.append(lambda: delattr(tickets, "open_tickets"))

    def _swap_lock(self, owner: object, name: str) -> TimedLock | None:
        lock = getattr(owner, name, None)
        if not isinstance(lock, asyncio.Lock) or lock.locked():
            return None
        timed = TimedLock()  # stays in place: swapping back under load could split a writer
        setattr(owner, name, timed)
        return timed

    def _timed_execute(self, execute: Callable[..., Any]) -> Callable[..., Any]:
        async def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            def work() -> Any:
                began = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.db_work += time.perf_counter() - began

            began = time.perf_counter()
            try:
                return await execute(work)
            finally:
                self.db_ops += 1
                self.db_wall += time.perf_counter() - began

        return timed

    def _counted_scan(self, scan: Callable[[], Any]) -> Callable[[], Any]:
        async def counted() -> Any:
            found = await scan()
            self.scans += 1
            self.scanned += len(found)
            return found

        return counted

    def detach(self) -> None:
        """Stop counting: the figures are those of the measured stretch."""
        self._frozen = {
            "db_ops": self.db_ops,
            "db_wall": self.db_wall,
            "db_work": self.db_work,
            "scans": self.scans,
            "scanned": self.scanned,
        }
        self._locks = [
            (name, lock.acquired, lock.held, lock.waited)
            for name, lock in (
                ("desk lock", self.desk_lock),
                ("SQLite write lock", self.write_lock),
            )
            if lock is not None
        ]
        for undo in reversed(self._undo):
            undo()

    def report(self, per: int, wall: float, label: str) -> None:
        for name, acquired, held, waited in self._locks:
            if not acquired:
                continue
            print(
                f"  {name}: held {held / wall:.0%} of the wall time; {acquired / per:.1f} "
                f"times per {label}, held {held / acquired * 1000:.1f} ms and waited for "
                f"{waited / acquired * 1000:.0f} ms on average"
            )
        ops, scans = self._frozen["db_ops"], self._frozen["scans"]
        if ops:
            print(
                f"  aiosqlite: {ops / per:.0f} round trips per {label}, "
                f"{self._frozen['db_wall'] / ops * 1000:.2f} ms each on average, of which "
                f"{self._frozen['db_work'] / ops * 1000:.3f} ms in SQLite"
            )
        if scans:
            print(
                f"  full scans of the open tickets: {scans / per:.1f} per {label}, "
                f"{self._frozen['scanned'] / scans:.0f} tickets read and decoded per scan"
            )


def _methods(calls: Iterable[Call]) -> Counter[tuple[str, str]]:
    """Calls by (method, where): the staff group, a user's chat, or neither."""
    counts: Counter[tuple[str, str]] = Counter()
    for call in calls:
        if call.method == "getUpdates":
            continue
        chat = call.params.get("chat_id")
        where = "staff" if chat == STAFF else "user" if chat is not None else "-"
        counts[(call.method, where)] += 1
    return counts


def _print_methods(counts: Counter[tuple[str, str]], per: int, label: str) -> None:
    total = sum(counts.values())
    print(f"  Bot API calls per {label} (getUpdates aside): {total / per:.2f}")
    print(f"    {'method':<24}{'chat':<7}{'per ticket':>11}")
    for (method, where), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"    {method:<24}{where:<7}{n / per:>11.2f}")


@dataclass
class Phase:
    """What one phase measured, for the comparison at the end."""

    tickets: int = 0
    wall: float = 0.0
    paced_per_ticket: float = 0.0
    staff_calls_per_ticket: float = 0.0
    notes: list[str] = field(default_factory=list)


async def _health(tg: TimedTelegram, bot: DeskHarness, tally: LogTally, since_log: int) -> None:
    """Open tickets, failures, warnings, and tickets that got more than one topic + card."""
    await _quiesce(bot)
    info = await bot.desk.queue_info()
    records = tally.records[since_log:]
    print(
        f"  open tickets at the end: {info.length} queued, {info.assigned} assigned; "
        f"failed Bot API calls: {len(tg.failed)}; warnings/errors logged: {len(records)}"
    )
    twice = sorted(t for t, n in tg.cards_of.items() if n > 1)
    if twice:
        topics = len(tg.calls_of("createForumTopic"))
        print(
            f"  !! {len(twice)} ticket(s) got a second topic + card (tickets {twice[:10]}; "
            f"{topics} topics for {len(tg.cards_of)} tickets): the stored topic is the last "
            f"one, what operators write in the first is not relayed"
        )
    for call in tg.failed[:5]:
        print(f"    failed {call.method}: {call.error}")
    for record in records[:5]:
        print(f"    {record.levelname} {record.name}: {record.getMessage()}")


async def _quiesce(bot: DeskHarness) -> None:
    """Until the staff outbox stays empty for a moment (a tick may still be posting)."""
    outbox = bot.staff_desk.outbox
    while True:
        sent = outbox.sent
        await outbox.drain()
        await asyncio.sleep(0.5)
        if outbox.sent == sent:
            return


# --- 1. the handoff burst ----------------------------------------------------------------


async def _burst(
    tg: TimedTelegram, users: list[int], within_s: float
) -> tuple[dict[int, float], dict[int, Seen], dict[int, Seen]]:
    """Every user writes at once; wait for every queue reply and every card."""
    pushed: dict[int, float] = {}
    for user in users:
        pushed[user] = time.perf_counter()
        tg.user_message(user, HANDOFF_TEXT.format(n=user), language_code="en")
    replies = [tg.seen(("reply", u), within_s) for u in users]
    cards = [tg.seen(("card", u), within_s) for u in users]
    got = await asyncio.gather(*replies, *cards)
    return (
        pushed,
        dict(zip(users, got[: len(users)], strict=True)),
        dict(zip(users, got[len(users) :], strict=True)),
    )


async def handoff_burst(args: argparse.Namespace, tmp: Path, tally: LogTally) -> Phase:
    n = args.tickets
    print(f"1) handoff burst: {n} users write at once (staff_messages_per_minute={UNPACED})")
    async with (
        TimedTelegram(token=TOKEN) as tg,
        running_desk(tg, path=tmp / "burst.sqlite3", staff_messages_per_minute=UNPACED) as bot,
    ):
        await _burst(tg, [WARM_USER], 30)  # first-call costs are not measured
        await bot.staff_desk.outbox.drain()
        since_call, since_sent = len(tg.calls), bot.staff_desk.outbox.sent
        since_log = len(tally.records)
        users = list(range(FIRST_USER, FIRST_USER + n))
        probe = Probe(bot)
        usage = Usage()
        usage.start()
        pushed, replies, cards = await _burst(tg, users, 30 + n * 0.5)
        usage.stop()
        probe.detach()
        await bot.staff_desk.outbox.drain()
        calls = tg.calls[since_call:]
        paced = bot.staff_desk.outbox.sent - since_sent
        start = min(pushed.values())
        end = max(s.at for s in (*replies.values(), *cards.values()))
        wall = end - start
        reply_ms = [(replies[u].at - pushed[u]) * 1000 for u in users]
        card_ms = [(cards[u].at - pushed[u]) * 1000 for u in users]
        print(
            f"  all {n} topics + cards and queue replies in {wall:.2f} s: {n / wall:.1f} tickets/s"
        )
        print(f"  user's update -> queue reply to the user:     {_lat(reply_ms)}")
        print(f"  user's update -> card in the staff group:     {_lat(card_ms)}")
        print(f"  {usage.line()}")
        probe.report(n, usage.wall, "handoff")
        _print_methods(_methods(calls), n, "handoff")
        staff_calls = sum(1 for c in calls if c.params.get("chat_id") == STAFF)
        print(f"  paced staff-group sends per handoff (outbox): {paced / n:.2f}")
        twice = sum(1 for u in users if tg.position_notices[u])
        if twice:
            print(
                f"  !! {twice} of {n} users were also sent 'You are now number N in the queue' "
                f"alongside (mostly before) their handoff reply"
            )
        await _health(tg, bot, tally, since_log)
    return Phase(n, wall, paced / n, staff_calls / n)


# --- 2. full lifecycles ------------------------------------------------------------------


@dataclass
class Steps:
    """Latency of each step of the lifecycle, in ms."""

    handoff: list[float] = field(default_factory=list)
    take: list[float] = field(default_factory=list)
    operator_reply: list[float] = field(default_factory=list)
    user_answer: list[float] = field(default_factory=list)
    close: list[float] = field(default_factory=list)
    whole: list[float] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)


async def _press(tg: TimedTelegram, operator: int, data: str, card: Card) -> Seen:
    pushed = tg.callback(operator, data, card.message_id, STAFF)
    return await tg.seen(("answer", str(pushed.callback_query_id)))


async def _lifecycle(
    tg: TimedTelegram,
    operator: int,
    card: Card,
    pushed_at: float,
    categories: bool,
    steps: Steps,
) -> None:
    """One operator works one ticket from its card to the FCR question."""
    user, ticket = card.user_id, card.ticket_id
    started = time.perf_counter()
    await _press(tg, operator, f"k:tk:{ticket}:", card)
    joined = await tg.seen(("joined", user))
    steps.take.append((joined.at - started) * 1000)

    started = time.perf_counter()
    tg.group_message(STAFF, operator, f"Hello, let me check ({ticket}).", thread_id=card.topic_id)
    copied = await tg.seen(("copy_user", user))
    steps.operator_reply.append((copied.at - started) * 1000)

    started = time.perf_counter()
    tg.user_message(user, f"thanks, I am waiting ({ticket})", language_code="en")
    copied = await tg.seen(("copy_staff", card.topic_id))
    steps.user_answer.append((copied.at - started) * 1000)

    started = time.perf_counter()
    presses = [f"k:cl:{ticket}:"]
    if categories:  # Close -> "payments" -> "refunds"
        presses += [f"k:ca:{ticket}:0", f"k:cs:{ticket}:0.1"]
    for data in presses:
        await _press(tg, operator, data, card)
    fcr = await tg.seen(("fcr", user))
    steps.close.append((fcr.at - started) * 1000)
    steps.whole.append((fcr.at - pushed_at) * 1000)


async def _slot(
    tg: TimedTelegram,
    operator: int,
    pushed: dict[int, float],
    categories: bool,
    steps: Steps,
    left: list[int],
) -> None:
    """One of an operator's `capacity` hands: takes the next card that appears, works it."""
    while left[0] > 0:
        left[0] -= 1
        seen = await tg.cards.get()
        card = _card(seen)
        steps.handoff.append((seen.at - pushed.get(card.user_id, seen.at)) * 1000)
        try:
            await _lifecycle(tg, operator, card, pushed.get(card.user_id, 0.0), categories, steps)
        except TimeoutError:
            steps.stuck.append(f"ticket {card.ticket_id} (user {card.user_id})")


async def lifecycles(args: argparse.Namespace, tmp: Path, tally: LogTally) -> Phase:
    n, ops, capacity = args.tickets, args.operators, args.capacity
    categories = not args.no_categories
    overrides: dict[str, Any] = {"staff_messages_per_minute": UNPACED, "capacity": capacity}
    if not categories:
        overrides.update(categories={}, require_category=False)
    close = "Close -> category -> subcategory" if categories else "Close (no categories)"
    print(
        f"2) full lifecycle x {n}: handoff -> take -> operator reply -> user answer -> "
        f"{close} -> FCR question;\n   {ops} operators x capacity {capacity} "
        f"= up to {ops * capacity} tickets in the operators' hands, all users write at once"
    )
    async with (
        TimedTelegram(token=TOKEN) as tg,
        running_desk(tg, path=tmp / "lifecycle.sqlite3", **overrides) as bot,
    ):
        operators = list(range(FIRST_OPERATOR, FIRST_OPERATOR + ops))
        for i, operator in enumerate(operators):
            tg.add_user(operator, first_name=f"Operator{i + 1}", private_chat=False)
            tg.set_member(STAFF, operator, "member")
        steps = Steps()
        # Warm-up: one whole lifecycle (and every operator's membership check) unmeasured.
        warm = time.perf_counter()
        tg.user_message(WARM_USER, HANDOFF_TEXT.format(n="warm"), language_code="en")
        await _slot(tg, operators[0], {WARM_USER: warm}, categories, steps, [1])
        for operator in operators[1:]:
            tg.group_message(STAFF, operator, "/queue")
        await bot.settle(tg.group_message(STAFF, operators[0], "/queue"))
        await bot.staff_desk.outbox.drain()
        steps = Steps()
        since_call, since_sent = len(tg.calls), bot.staff_desk.outbox.sent
        since_log = len(tally.records)
        since_updates = tg.pushed

        users = list(range(FIRST_USER, FIRST_USER + n))
        pushed: dict[int, float] = {}
        left = [n]
        profile = cProfile.Profile() if args.profile else None
        probe = Probe(bot)
        usage = Usage()
        usage.start()
        if profile is not None:
            profile.enable()
        workers = [
            asyncio.create_task(_slot(tg, op, pushed, categories, steps, left))
            for op in operators
            for _ in range(capacity)
        ]
        for user in users:
            pushed[user] = time.perf_counter()
            tg.user_message(user, HANDOFF_TEXT.format(n=user), language_code="en")
        try:
            await asyncio.wait_for(asyncio.gather(*workers), 60 + n * 2)
        except TimeoutError:
            steps.stuck.append(f"phase timed out with {tg.cards.qsize()} card(s) untaken")
        if profile is not None:
            profile.disable()
        usage.stop()
        probe.detach()
        await bot.staff_desk.outbox.drain()
        calls = tg.calls[since_call:]
        paced = bot.staff_desk.outbox.sent - since_sent
        updates = tg.pushed - since_updates
        polls = sum(1 for c in calls if c.method == "getUpdates")
        wall = usage.wall
        done = len(steps.whole)
        print(f"  {done} lifecycles in {wall:.2f} s: {done / wall:.1f} lifecycles/s")
        print(f"  user's update -> card in the staff group: {_lat(steps.handoff)}")
        print(f"  take pressed -> user told 'joined':       {_lat(steps.take)}")
        print(f"  operator writes -> copy to the user:      {_lat(steps.operator_reply)}")
        print(f"  user answers -> copy in the topic:        {_lat(steps.user_answer)}")
        print(f"  close pressed -> FCR question to user:    {_lat(steps.close)}")
        print(f"  whole lifecycle (first update -> FCR):    {_lat(steps.whole)}")
        print(f"  {usage.line()}")
        probe.report(max(done, 1), wall, "lifecycle")
        _print_methods(_methods(calls), max(done, 1), "lifecycle")
        staff_calls = sum(1 for c in calls if c.params.get("chat_id") == STAFF)
        print(
            f"  updates pushed per lifecycle: {updates / max(done, 1):.2f}; getUpdates polls: "
            f"{polls} ({polls / max(done, 1):.2f} per lifecycle)"
        )
        print(f"  paced staff-group sends per lifecycle (outbox): {paced / max(done, 1):.2f}")
        for stuck in steps.stuck[:5]:
            print(f"  !! stuck: {stuck}")
        await _health(tg, bot, tally, since_log)
        if profile is not None:
            _print_profile(profile)
    return Phase(done, wall, paced / max(done, 1), staff_calls / max(done, 1))


def _print_profile(profile: cProfile.Profile) -> None:
    """Where the event-loop thread's time went, by package (cProfile inflates the total)."""
    stats = pstats.Stats(profile)
    groups: Counter[str] = Counter()
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _, function), (_, _, own, _, _) in raw.items():
        groups[_group(filename, function)] += own
    total = sum(groups.values())
    print("  event-loop thread by package (cProfile, own time):")
    for name, own in groups.most_common(10):
        print(f"    {name:<40}{own:8.2f} s {own / total:6.1%}")


def _group(filename: str, function: str) -> str:
    rules: list[tuple[Callable[[str], bool], str]] = [
        (lambda f: "select.epoll" in function, "idle (waiting in epoll)"),
        (lambda f: "faketg" in f, "fake Telegram server (tests/faketg.py)"),
        (lambda f: "bench_desk" in f, "this benchmark"),
        (lambda f: "/supportbot/" in f, "supportbot (bot + desk)"),
        (lambda f: "/aiogram/" in f, "aiogram"),
        (lambda f: "/pydantic" in f, "pydantic"),
        (lambda f: "/aiohttp/" in f or "/yarl/" in f or "/multidict/" in f, "aiohttp (HTTP)"),
        (lambda f: "/aiosqlite/" in f or "sqlite" in function, "aiosqlite (loop side)"),
        (lambda f: "/asyncio/" in f or "_asyncio" in function, "asyncio"),
        (lambda f: "json" in f or "json" in function, "json"),
    ]
    for matches, name in rules:
        if matches(filename):
            return name
    return "other (stdlib, C builtins)"


# --- 3. the staff group's pacing ---------------------------------------------------------


async def paced_burst(
    args: argparse.Namespace, tmp: Path, tally: LogTally, unpaced: Phase
) -> Phase | None:
    n = args.paced_tickets
    print(
        f"3) the staff group's pacing: Telegram takes about {TELEGRAM_PER_MINUTE} messages a "
        f"minute into one group, and the desk paces itself to that by default"
    )
    if n <= 0:
        print("  (the measured burst at the real pacing is skipped: --paced-tickets 0)")
        return None
    print(f"  measured: {n} users write at once, staff_messages_per_minute={TELEGRAM_PER_MINUTE}")
    async with (
        TimedTelegram(token=TOKEN) as tg,
        running_desk(
            tg, path=tmp / "paced.sqlite3", staff_messages_per_minute=TELEGRAM_PER_MINUTE
        ) as bot,
    ):
        since_sent, since_log = bot.staff_desk.outbox.sent, len(tally.records)
        users = list(range(FIRST_USER, FIRST_USER + n))
        windows = math.ceil(n * 2 / TELEGRAM_PER_MINUTE)
        pushed, replies, cards = await _burst(tg, users, 60 * windows + 30)
        start = min(pushed.values())
        card_s = sorted(s.at - start for s in cards.values())
        reply_s = sorted(replies[u].at - pushed[u] for u in users)
        await _quiesce(bot)
        paced = bot.staff_desk.outbox.sent - since_sent
        fast = sum(1 for s in card_s if s < 30)
        print(
            f"  {fast} cards within the first seconds, the other {n - fast} after "
            f"{min((s for s in card_s if s >= 30), default=math.nan):.1f}-{card_s[-1]:.1f} s"
        )
        print(
            f"  user's update -> queue reply: p50 {_pct(reply_s, 0.5):.1f} s, max "
            f"{reply_s[-1]:.1f} s (the reply waits for the ticket's card)"
        )
        print(
            f"  paced staff-group sends: {paced} for {n} handoffs "
            f"({paced / n:.2f} each; unpaced in 1): {unpaced.paced_per_ticket:.2f})"
        )
        await _health(tg, bot, tally, since_log)
    return Phase(n, card_s[-1], paced / n)


def verdict(burst: Phase, life: Phase, capacity: int) -> None:
    """Tickets/min Telegram's limit allows against what the desk sustained here."""
    per_min = TELEGRAM_PER_MINUTE
    print(f"  derived: what {per_min} paced sends/minute allow, from the sends counted in 1), 2)")
    for label, phase in (("handoffs", burst), ("lifecycles", life)):
        allowed = per_min / phase.paced_per_ticket
        desk = phase.tickets / phase.wall * 60
        print(
            f"    {label}: {phase.paced_per_ticket:.2f} paced sends each -> {allowed:.1f} "
            f"{label}/min ({allowed * 60:.0f}/hour); the desk sustained {desk:.0f}/min "
            f"here: ratio desk / Telegram = {desk / allowed:.0f}"
        )
    allowed = per_min / life.paced_per_ticket
    ratio = life.tickets / life.wall * 60 / allowed
    binding = (
        f"Telegram's {per_min} messages/minute into the staff group, by {ratio:.0f}x"
        if ratio > 1
        else "the desk itself (CPU / SQLite / its lock), not Telegram's limit"
    )
    handling_min = DeskParams().default_handling_s / 60
    per_operator = 60 / handling_min * capacity
    print(
        f"  => binding in production: {binding}.\n"
        f"     Each further user message in a ticket costs one more paced send (its copy in "
        f"the topic), so real tickets allow fewer. At the desk's default estimate of "
        f"{handling_min:.0f} min a ticket,\n     {allowed * 60 / per_operator:.1f} operators "
        f"with {capacity} tickets at once ({per_operator:.0f}/hour each) already close "
        f"{allowed * 60:.0f} minimal tickets/hour."
    )


async def _bench(args: argparse.Namespace, tally: LogTally) -> None:
    print(
        f"desk benchmark: {args.tickets} tickets, {args.operators} operators x capacity "
        f"{args.capacity}, SQLite (WAL), fake Telegram on 127.0.0.1 (same process)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        burst = await handoff_burst(args, Path(tmp), tally)
        life = await lifecycles(args, Path(tmp), tally)
        await paced_burst(args, Path(tmp), tally, burst)
    verdict(burst, life, args.capacity)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"4) peak RSS: {peak:.0f} MiB (the fake server keeps every call and message)")


def main(argv: list[str] | None = None) -> Any:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--tickets", type=int, default=200, help="users handing off at once")
    parser.add_argument("--operators", type=int, default=6)
    parser.add_argument("--capacity", type=int, default=4, help="tickets per operator")
    parser.add_argument(
        "--no-categories",
        action="store_true",
        help="a desk without categories: one Close press closes (default: 3 presses)",
    )
    parser.add_argument(
        "--paced-tickets",
        type=int,
        default=12,
        help="handoffs at the real 20 messages/minute (0 skips; > 10 waits a minute)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile the lifecycle phase by package"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    tally = LogTally()
    logging.getLogger().addHandler(tally)
    asyncio.run(_bench(args, tally))


if __name__ == "__main__":
    main()

"""The fuzz run of bench_faults.py: odd updates a real bot meets, and what they cost.

Users (with odd names and languages) send random text, 4,096-character texts, media
without text, edits, commands with odd arguments; they press real buttons (twice, late),
forged and stale ones; they walk a ticket to its rating and leave a 4,096-character comment.
In the staff group, operators and non-members send commands with odd arguments
(`/ban ²`, `/ban 99999999999999999999999`, `/t` alone) and press forged desk buttons
(`k:ca:N:²`, `k:tt:N:abc`). Counted afterwards: tracebacks in the bot's log, requests the
fake refused as Telegram would (400), and button presses not answered within 1 second.
"""

from __future__ import annotations

import asyncio
import random
import re
import string
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from fault_ledger import Ledger, RecordingTelegram

TRACEBACK = "Traceback (most recent call last):"
HUGE = "99999999999999999999999"
ODD_DIGITS = ("²", "١", "٣", "𝟙", "Ⅻ", "½", "0x10", "-1", "1e9", HUGE, "", " ", "007")
NAMES = ("Ivan", "<b>Bold</b>", "Tom & Jerry", "😀", "א" * 10, "N" * 64, "Zoë", "O'Brien")
LANGS = ("en", "ru", None, "pt-br", "zh-hans", "ru-RU", "")
WORDS = (
    "card",
    "declined",
    "пароль",
    "не",
    "работает",
    "<b>",
    "</i>",
    "&amp;",
    "&",
    "<script>",
    "*bold*",
    "_x_",
    "[link](http://x)",
    "`code`",
    "https://example.com/?a=1&b=<2>",
    "🙂",
    "\u202e",
    "\u0000",
    "\\",
    "{name}",
    "%s",
    "operator",
    "оператор",
    "next",
    "да",
    "/start",
)
USER_COMMANDS = (
    "/start",
    "/start " + "x" * 64,
    "/start@test_support_bot",
    "/help",
    "/help me please",
    "/lang",
    "/lang xx",
    "/lang ru",
    "/lang en",
    "/lang ²",
    "/operator",
    "/operator now please",
    "/unknown",
    "/",
    "/ban 1",
    "/t refund",
)
STAFF_COMMANDS = (
    "/ban ²",
    f"/ban {HUGE}",
    "/ban -5",
    "/ban abc",
    "/ban",
    "/unban ²",
    f"/unban {HUGE}",
    "/unban",
    "/t",
    "/t <b>refund</b>",
    "/t " + "x" * 300,
    "/queue",
    "/queue extra",
    "/online",
    "/offline",
    "/stats",
    "/stats ²",
    "/start",
)
DESK_ACTIONS = ("tk", "cl", "tr", "ca", "cs", "tt", "ar", "cr", "zz")


@dataclass
class FuzzReport:
    """What the fuzz pushed, by kind."""

    pushed: Counter[str] = field(default_factory=Counter)

    def lines(self, tg: RecordingTelegram, log: str) -> list[str]:
        """The counts, next to the targets."""
        out = [
            f"pushed {sum(self.pushed.values())} updates: "
            + ", ".join(f"{k} {n}" for k, n in self.pushed.most_common())
        ]
        tracebacks = log.count(TRACEBACK)
        failed = set(re.findall(r"update (\d+) failed", log))
        kinds = Counter(_exception_lines(log))
        out.append(
            f"tracebacks in the bot's log: {tracebacks} ({len(failed)} updates logged as "
            f"failed)   target 0"
        )
        for line, n in kinds.most_common(8):
            out.append(f"   {n:4d} x {line[:110]}")
        refused = [s.call for s in tg.seen if s.call.ok is False and _code(s.call.error) == 400]
        out.append(f"requests refused with 400 (Telegram would too): {len(refused)}   target 0")
        reasons = Counter(
            f"{c.method}: {str((c.error or {}).get('description', ''))[:80]}" for c in refused
        )
        for reason, n in reasons.most_common(8):
            out.append(f"   {n:4d} x {reason}")
        out += _presses(tg)
        return out


def _code(error: object) -> int | None:
    return error.get("error_code") if isinstance(error, dict) else None


def _exception_lines(log: str) -> list[str]:
    """The exception line closing each traceback."""
    found = []
    for part in log.split(TRACEBACK)[1:]:
        for line in part.splitlines()[1:]:
            if line and not line.startswith((" ", "\t")):
                found.append(line.strip())
                break
    return found


def _presses(tg: RecordingTelegram) -> list[str]:
    answered: dict[str, float] = {}
    for seen in tg.seen:
        call = seen.call
        if call.method == "answerCallbackQuery" and call.ok:
            query = str(call.params.get("callback_query_id"))
            answered.setdefault(query, seen.at)
    waits = [answered[q] - at if q in answered else None for q, at in tg.pushed_at.items()]
    never = sum(1 for w in waits if w is None)
    late = sum(1 for w in waits if w is not None and w > 1.0)
    expired = sum(1 for w in waits if w is not None and w > 15.0)
    done = sorted(w for w in waits if w is not None)
    p95 = done[int(0.95 * (len(done) - 1))] if done else float("nan")
    return [
        f"button presses (fuzz and operators): {len(waits)}; never answered {never}, "
        f"answered after 1 s {late} (after Telegram's 15 s window {expired}); "
        f"p95 {p95:.2f} s   target 0 and 0",
    ]


def _text(rng: random.Random, length: int | None = None) -> str:
    if length is not None:
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < length:
            words.append(rng.choice(WORDS + tuple(string.ascii_letters)))
        return " ".join(words)[:length]
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))
    return text.replace("\u0000", "") or "?"


async def fuzz(
    tg: RecordingTelegram,
    ledger: Ledger,
    staff: int,
    operators: list[int],
    rng: random.Random,
    count: int,
    rate: float,
) -> FuzzReport:
    """Push `count` odd updates at `rate` a second; returns what was pushed."""
    report = FuzzReport()
    users = [9_500_001 + i for i in range(40)]
    strangers = [750_001 + i for i in range(4)]
    for stranger in strangers:
        tg.set_member(staff, stranger, "left")
    own: dict[int, list[int]] = {u: [] for u in users}  # user -> their message ids
    flows: set[asyncio.Task[None]] = set()
    tickets: list[tuple[int, tuple[int, int, int]]] = []
    began = time.monotonic()
    for n in range(count):
        delay = began + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        user = rng.choice(users)
        kind = rng.choices(
            [
                "text",
                "long",
                "media",
                "caption",
                "edit",
                "command",
                "person",
                "press",
                "forged",
                "stale",
                "staff",
                "stranger",
                "desk_press",
                "operator_text",
                "rating",
            ],
            weights=[14, 4, 6, 3, 5, 8, 4, 12, 8, 4, 8, 4, 8, 4, 2],
        )[0]
        report.pushed[kind] += 1
        if n % 25 == 0:
            tickets = list(_tickets(tg, staff).items())
        _push(tg, staff, operators, strangers, rng, user, kind, own, flows, tickets)
    await asyncio.gather(*flows, return_exceptions=True)
    return report


def _push(
    tg: RecordingTelegram,
    staff: int,
    operators: list[int],
    strangers: list[int],
    rng: random.Random,
    user: int,
    kind: str,
    own: dict[int, list[int]],
    flows: set[asyncio.Task[None]],
    tickets: list[tuple[int, tuple[int, int, int]]],
) -> None:
    lang = rng.choice(LANGS)
    name = NAMES[user % len(NAMES)]
    if kind in {"text", "long", "command", "person"}:
        makers: dict[str, Callable[[], str]] = {
            "text": lambda: _text(rng),
            "long": lambda: _text(rng, 4096),
            "command": lambda: rng.choice(USER_COMMANDS),
            "person": lambda: rng.choice(("/operator", "позовите оператора", "talk to a human")),
        }
        text = makers[kind]()
        pushed = tg.user_message(user, text, language_code=lang, first_name=name)
        own[user].append(int(pushed.message_id or 0))
    elif kind in {"media", "caption"}:
        media = rng.choice(("photo", "voice", "sticker", "document"))
        caption = _text(rng, rng.choice((20, 1024))) if kind == "caption" else None
        pushed = tg.user_message(
            user,
            None,
            caption=caption,
            language_code=lang,
            first_name=name,
            photo=media == "photo",
            voice=media == "voice",
            sticker=media == "sticker",
            document=media == "document",
        )
        own[user].append(int(pushed.message_id or 0))
    elif kind == "edit" and own[user]:
        tg.edit(user, rng.choice(own[user]), _text(rng, rng.choice((None, 4096))))
    elif kind == "press":
        buttons = [(m.message_id, data) for m in tg.sent_to(user) for data in m.callback_data]
        if buttons:
            message_id, data = rng.choice(buttons)
            for _ in range(rng.choice((1, 1, 2))):
                tg.press(user, data, message_id)
        else:
            tg.press(user, "b:h:1:000000000000:0", 1)
    elif kind == "forged":
        data = (
            rng.choice(
                (
                    f"b:{rng.choice('hnopgdfrysuwk')}:{rng.choice(ODD_DIGITS)}:zz:{rng.choice(ODD_DIGITS)}",
                    f"u:{rng.choice('sfr')}:{rng.choice(ODD_DIGITS)}:{rng.choice(ODD_DIGITS)}",
                    "".join(rng.choice(string.printable) for _ in range(rng.randint(1, 64))),
                    "b:h:99999999999999999999::0",
                )
            )
            .encode()[:64]
            .decode("utf-8", errors="ignore")
            or "x"
        )
        mine = [m.message_id for m in tg.sent_to(user)]
        tg.press(user, data, rng.choice(mine) if mine else 1)
    elif kind == "stale":
        tg.press(user, f"b:h:{rng.randint(1, 5)}:{'0' * 12}:0", rng.randint(10_000, 20_000))
    elif kind in {"staff", "stranger"}:
        sender = rng.choice(operators if kind == "staff" else strangers)
        text = rng.choice(STAFF_COMMANDS) if rng.random() < 0.8 else _text(rng)
        thread = rng.choice(tickets)[1][1] if tickets and rng.random() < 0.6 else None
        tg.group_message(staff, sender, text, thread_id=thread)
    elif kind == "desk_press":
        sender = rng.choice(operators + strangers)
        ticket = rng.choice(tickets)[0] if tickets and rng.random() < 0.8 else rng.randint(1, 50)
        card = rng.choice(tickets)[1][2] if tickets else 1
        value = rng.choice((*ODD_DIGITS, "0", "0.0", "abc", "1.99"))
        data = f"k:{rng.choice(DESK_ACTIONS)}:{ticket}:{value}".encode()[:64].decode(
            errors="ignore"
        )
        tg.press(sender, data, card, staff)
    elif kind == "operator_text" and tickets:
        ticket, (owner, topic, _) = rng.choice(tickets)
        text = _text(rng, rng.choice((None, 4096)))
        tg.group_message(staff, rng.choice(operators), text, thread_id=topic)
    elif kind == "rating" and tickets:
        ticket, (owner, _, card) = rng.choice(tickets)
        task = asyncio.get_running_loop().create_task(
            _rate(tg, staff, rng.choice(operators), owner, ticket, card, rng)
        )
        flows.add(task)
        task.add_done_callback(flows.discard)


def _tickets(tg: RecordingTelegram, staff: int) -> dict[int, tuple[int, int, int]]:
    """Ticket -> (user, topic, card) from the cards posted so far."""
    found: dict[int, tuple[int, int, int]] = {}
    for call in tg.ok_calls("sendMessage"):
        if call.params.get("chat_id") != staff or not isinstance(call.result, dict):
            continue
        user = re.search(r"user_id=(\d+)", str(call.params.get("text", "")))
        markup = call.params.get("reply_markup") or {}
        datas = [
            b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row
        ]
        take = [d for d in datas if d.startswith(("k:tk:", "k:cl:"))]
        thread = call.params.get("message_thread_id")
        if user and take and isinstance(thread, int):
            ticket = int(take[0].split(":")[2])
            found.setdefault(ticket, (int(user.group(1)), thread, int(call.result["message_id"])))
    return found


async def _rate(
    tg: RecordingTelegram,
    staff: int,
    operator: int,
    user: int,
    ticket: int,
    card: int,
    rng: random.Random,
) -> None:
    """Close a ticket, answer the FCR question and the rating, leave a long comment."""
    tg.press(operator, f"k:cl:{ticket}:", card, staff)
    for prefix, value in (("u:f:", "1"), ("u:r:", str(rng.randint(1, 5)))):
        found = await _button(tg, user, f"{prefix}{ticket}:", within_s=10)
        if found is None:
            return
        message_id, data = found
        if prefix == "u:r:":
            data = f"u:r:{ticket}:{value}"
        tg.press(user, data, message_id)
    await asyncio.sleep(1.0)
    tg.user_message(user, _text(rng, 4096), language_code="en")


async def _button(
    tg: RecordingTelegram, user: int, prefix: str, *, within_s: float
) -> tuple[int, str] | None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for message in reversed(tg.sent_to(user)):
            for data in message.callback_data:
                if data.startswith(prefix):
                    return message.message_id, data
        await asyncio.sleep(0.2)
    return None

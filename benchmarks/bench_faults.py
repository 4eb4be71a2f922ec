"""Benchmark what a crash, a Telegram outage or hostile input costs: the real bot process.

`supportbot run` runs as a child process (polling, SQLite in a temporary directory, the
hashing encoder so it starts in seconds, a forum staff group) against the fake Bot API
(tests/faketg.py), which runs here and talks to it over HTTP on 127.0.0.1. Scripted users
write, two scripted operators take tickets and answer in their topics. Printed, each next
to the target of issue 11:
  a) kill -9 at a random moment of a burst (20 users, 200 messages: questions, requests for
     a person, follow-ups), restart on the same database: user messages lost, operator
     replies lost, duplicated replies / relays / topics / tickets; one line per round;
  b) a 502 storm and a 429 storm (retry_after=1) of 10 s on every send method while users
     and operators write: what was not delivered exactly once after the storm;
  c) a fuzz run of 2,000+ odd updates: tracebacks in the bot's log, requests the fake
     refused as Telegram would (400), button presses not answered within 1 s;
  d) with --soak MINUTES: restarts and storms in turn, the same counts and the bot's RSS.
How a message counts as lost or doubled is written in benchmarks/fault_ledger.py. A phase
ends once the Bot API saw no call for --quiet-s (20 s: longer than the desk's 15 s retry).
The staff group is paced at --staff-pace 120 messages a minute (the product's default, like
Telegram's limit, is 20): sends still wait in the bot's outbox at a kill, as they do in
production, and a round drains in about a minute instead of ten.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_faults.py [--rounds 3] [--seed 1]
     [--kill-at 3,8,14] [--users 20] [--messages 200] [--fuzz 2200] [--only a,b,c]
     [--staff-pace 120] [--soak MINUTES] [--quick]
About 15 minutes by default (each start of the bot takes 10-20 s here); --quick about 2.
Everything runs on 127.0.0.1; every child process is killed at exit. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from fault_fuzz import fuzz  # noqa: E402
from fault_ledger import Ledger, Operators, RecordingTelegram, Tally  # noqa: E402

from bot_process import ARTICLES, BotProcess  # noqa: E402
from fakes import TOKEN  # noqa: E402

STAFF = -1001500000001
OPERATORS = [700_001, 700_002]
PERSON_REQUESTS = ("/operator", "позовите оператора")
FOLLOWUPS = (
    "hello again, any news on case {ref}?",
    "I sent the details yesterday, reference {ref}",
    "my neighbour says the same happened to her, ref {ref}",
    "I will wait for your colleague then, ref {ref}",
    "the courier phoned me twice today about {ref}",
    "here is the reference you asked for: {ref}",
    "could you hurry a little, {ref} is urgent for me",
    "my husband tried from his phone too, see {ref}",
)
# The desk retries what could not reach the staff group every 15 s (app.DESK_TICK_S): the bot
# counts as done only after a quiet stretch longer than that.
QUIET_S = 20.0
ALIVE: list[BotProcess] = []  # killed at exit, whatever happens


@dataclass
class World:
    """One fake Bot API, one bot process on its own database, the operators, the ledger."""

    tg: RecordingTelegram
    bot: BotProcess
    ledger: Ledger
    operators: Operators
    rng: random.Random
    quiet_s: float = QUIET_S


@contextlib.asynccontextmanager
async def world(
    workdir: Path,
    args: argparse.Namespace,
    rng: random.Random,
    *,
    flood_messages: int = 20,
    reply_share: float = 0.5,
) -> AsyncIterator[World]:
    """A started bot against a fresh fake; stopped (SIGTERM, then SIGKILL) at the end."""
    async with RecordingTelegram(token=TOKEN) as tg:
        tg.add_chat(STAFF, is_forum=True, title="Support staff")
        bot = BotProcess.prepare(
            workdir,
            tg.base_url,
            token=TOKEN,
            staff_chat_id=STAFF,
            flood_messages=flood_messages,
            staff_messages_per_minute=args.staff_pace,
        )
        ALIVE.append(bot)
        ledger = Ledger(tg, STAFF)
        operators = Operators(ledger, OPERATORS, rng, reply_share=reply_share)
        try:
            await bot.start(tg)
            yield World(tg, bot, ledger, operators, rng, args.quiet_s)
        finally:
            operators.stop()
            await bot.stop(within_s=30)
            ALIVE.remove(bot)


async def settle(w: World, *, quiet_s: float | None = None, max_s: float = 150.0) -> float:
    """Wait until nothing happened for `quiet_s` (default: the world's; no Bot API call, no
    operator busy); returns how long it took. Bounded by `max_s`."""
    quiet_s = w.quiet_s if quiet_s is None else quiet_s
    began = time.monotonic()
    while time.monotonic() - began < max_s:
        last = max([w.tg.seen[-1].at if w.tg.seen else 0.0, began])
        if time.monotonic() - last >= quiet_s and not w.operators.busy:
            break
        await asyncio.sleep(0.25)
    return time.monotonic() - began


async def until(predicate: Callable[[], bool], *, within_s: float) -> bool:
    """Poll `predicate` (what the fake saw) until it holds, for at most `within_s`."""
    for _ in range(int(within_s / 0.2)):
        if predicate():
            return True
        await asyncio.sleep(0.2)
    return predicate()


def tickets_in_database(bot: BotProcess) -> dict[int, int] | None:
    """User -> tickets in the bot's database (None when the schema is not as expected)."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{bot.workdir / 'bot.sqlite3'}?mode=ro", uri=True)
        ) as db:
            rows = db.execute("SELECT user_id, COUNT(*) FROM tickets GROUP BY user_id").fetchall()
    except sqlite3.Error:
        return None
    return {int(user): int(n) for user, n in rows}


# --- the scripted users -------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One message of the script: when (seconds from the start), who, what."""

    at: float
    user: int
    kind: str
    text: str
    article: str = ""


def burst_script(
    rng: random.Random, users: list[int], messages: int, duration: float
) -> list[Step]:
    """Each user asks questions, asks for a person (or writes what no article answers),
    then follows up with questions and free text, at random moments of `duration`."""
    steps: list[Step] = []
    per_user = [messages // len(users) + (i < messages % len(users)) for i in range(len(users))]
    for user, count in zip(users, per_user, strict=True):
        if count == 0:
            continue
        times = sorted(rng.uniform(0, duration) for _ in range(count))
        articles = rng.sample(ARTICLES, min(count, len(ARTICLES)))
        handoff = rng.randint(1, max(1, min(4, count - 1)))
        for i, at in enumerate(times):
            ref = f"R{user % 10_000:04d}-{i}"
            article = articles[i % len(articles)]
            if i < handoff or (i > handoff and rng.random() < 0.4):
                steps.append(Step(at, user, "question", article[2][0], article[1]))
            elif i == handoff and rng.random() < 0.75:
                steps.append(Step(at, user, "person", rng.choice(PERSON_REQUESTS)))
            else:
                steps.append(Step(at, user, "followup", rng.choice(FOLLOWUPS).format(ref=ref)))
    return sorted(steps, key=lambda s: s.at)


async def play(w: World, steps: list[Step], began: float) -> None:
    """Push each step at its moment."""
    for step in steps:
        delay = began + step.at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        w.ledger.user_says(step.user, step.kind, step.text, article=step.article)


# --- a) kill -9 mid-burst -----------------------------------------------------------------


def delivered_updates(calls: list[Any]) -> set[int]:
    """Update ids the fake handed out in these getUpdates calls."""
    return {
        int(u["update_id"])
        for c in calls
        if c.method == "getUpdates" and c.ok and isinstance(c.result, list)
        for u in c.result
    }


async def kill_round(
    args: argparse.Namespace, tmp: Path, number: int, kill_at: float
) -> tuple[Tally, str]:
    rng = random.Random(args.seed * 1000 + number)
    async with world(tmp / f"kill{number}", args, rng) as w:
        users = [8_000_001 + number * 1000 + i for i in range(args.users)]
        steps = burst_script(rng, users, args.messages, args.burst_s)
        began = time.monotonic()

        marks: list[int] = []

        async def crash() -> None:
            await asyncio.sleep(kill_at)
            marks.append(len(w.tg.calls))
            await w.bot.kill()
            down = time.monotonic()
            await w.bot.start(w.tg)
            marks.append(int((time.monotonic() - down) * 10))

        await asyncio.gather(play(w, steps, began), crash())
        await settle(w)
        w.operators.stop()
        await settle(w, quiet_s=2.0, max_s=30)
        await w.bot.stop()
        before = delivered_updates(w.tg.calls[: marks[0]])
        again = before & delivered_updates(w.tg.calls[marks[0] :])
        note = (
            f"{len(before)} updates fetched by the killed process, {len(again)} of them "
            f"fetched again after the restart; down {marks[1] / 10:.0f} s"
        )
        return w.ledger.tally(tickets_per_user=tickets_in_database(w.bot)), note


def kill_times(args: argparse.Namespace, rng: random.Random) -> list[float]:
    """--kill-at as given, or one random moment in each slice of the burst."""
    if args.kill_at:
        return [float(x) for x in args.kill_at.split(",")]
    times = []
    for number in range(args.rounds):
        low = args.burst_s * number / args.rounds
        high = args.burst_s * (number + 1) / args.rounds
        times.append(rng.uniform(max(1.0, low), max(1.5, high - 0.5)))
    return times


def tally_line(t: Tally) -> str:
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(t.lost_by_kind.items())) or "-"
    return (
        f"user messages lost {t.lost}/{t.messages} ({kinds}); operator replies lost "
        f"{t.replies_lost}/{t.replies}; duplicated: replies {t.dup_replies} (answers "
        f"{t.dup_answers}, handoff {t.dup_handoff_replies}, operator {t.dup_operator_replies})"
        f", relays {t.dup_relays}, topics {t.dup_topics} (orphan {t.orphan_topics}), "
        f"tickets {t.dup_tickets}"
    )


async def kills(args: argparse.Namespace, tmp: Path) -> Tally:
    print(
        f"a) kill -9 mid-burst: {args.users} users, {args.messages} messages over "
        f"{args.burst_s:.0f} s, {len(OPERATORS)} operators; restart on the same database"
    )
    print("   target: 0 user messages lost, 0 operator replies lost, 0 duplicates of any kind")
    total = Tally()
    rng = random.Random(args.seed)
    for number, kill_at in enumerate(kill_times(args, rng)):
        tally, note = await kill_round(args, tmp, number, kill_at)
        total.add(tally)
        print(f"   round {number + 1} (killed at {kill_at:4.1f} s): {tally_line(tally)}")
        print(f"      {note}")
        for example in tally.lost_examples[:3]:
            print(f"      lost: {example}")
    print(f"   all rounds: {tally_line(total)}")
    return total


# --- b) storms ----------------------------------------------------------------------------


async def storm_phase(
    args: argparse.Namespace, tmp: Path, name: str, code: int, retry_after: int | None
) -> Tally:
    rng = random.Random(args.seed * 7 + code)
    in_ticket = args.storm_users
    async with world(tmp / f"storm{code}", args, rng) as w:
        users = [8_500_001 + i for i in range(in_ticket)]
        for user in users:
            w.ledger.user_says(user, "person", "/operator")
        await until(lambda: all(w.operators.joined(u) for u in users), within_s=60)
        await settle(w, quiet_s=2.0, max_s=30)
        w.operators.stop()  # from here on the script writes the operators' replies
        owners = {user: w.operators.owner(user) for user in users}
        ledger = Ledger(w.tg, STAFF, since=time.monotonic())
        fresh = [8_600_001 + i for i in range(in_ticket // 2)]
        window = args.storm_s
        steps: list[tuple[float, Any]] = []
        for user in users:
            for i in range(2):
                ref = f"S{user % 10_000:04d}-{i}"
                text = rng.choice(FOLLOWUPS).format(ref=ref)
                steps.append((rng.uniform(0.5, window - 1), ("followup", user, text, "")))
            if owners[user] is not None:
                steps.append((rng.uniform(0.5, window - 1), ("operator", user, "", "")))
        for user in fresh:
            for article in rng.sample(ARTICLES, 2):
                steps.append(
                    (rng.uniform(0.5, window - 1), ("question", user, article[2][0], article[1]))
                )
        steps.sort(key=lambda s: s[0])
        storm = w.tg.storm(seconds=window, code=code, retry_after=retry_after)
        began = time.monotonic()
        for at, (kind, user, text, article) in steps:
            delay = began + at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            owner = owners.get(user)
            if kind == "operator" and owner is not None:
                ledger.operator_says(
                    owner[0], user, owner[1], f"Operator reply to {user} in the storm."
                )
            else:
                ledger.user_says(user, kind, text, article=article)
        await asyncio.sleep(max(0.0, began + window - time.monotonic()))
        took = await settle(w)
        tally = ledger.tally()
        print(
            f"   {name}: {storm.hits} calls refused in {window:.0f} s; quiet {took:.0f} s after; "
            f"{tally_line(tally)}"
        )
        for example in tally.lost_examples[:3]:
            print(f"      lost: {example}")
    return tally


async def storms(args: argparse.Namespace, tmp: Path) -> Tally:
    n = args.storm_users
    print(
        f"b) storms of {args.storm_s:.0f} s on every send method: {n} users in tickets send "
        f"{2 * n} follow-ups, operators {n} replies, {n // 2} new users {n} questions"
    )
    print("   target: every message delivered exactly once after the storm (0 lost, 0 doubled)")
    total = Tally()
    total.add(await storm_phase(args, tmp, "502 storm", 502, None))
    total.add(await storm_phase(args, tmp, "429 storm (retry_after=1)", 429, 1))
    return total


# --- c) fuzz ------------------------------------------------------------------------------


async def fuzzing(args: argparse.Namespace, tmp: Path) -> None:
    rng = random.Random(args.seed * 13)
    print(f"c) fuzz: {args.fuzz} odd updates at {args.fuzz_rate:.0f}/s")
    print("   target: 0 tracebacks, 0 requests Telegram would reject, every press answered in 1 s")
    async with world(tmp / "fuzz", args, rng, flood_messages=1000, reply_share=0.3) as w:
        report = await fuzz(w.tg, w.ledger, STAFF, OPERATORS, rng, args.fuzz, args.fuzz_rate)
        await settle(w)
        w.operators.stop()
        await w.bot.stop()
        for line in report.lines(w.tg, w.bot.log_text()):
            print(f"   {line}")


# --- d) soak ------------------------------------------------------------------------------


async def soak(args: argparse.Namespace, tmp: Path) -> None:
    rng = random.Random(args.seed * 17)
    minutes = args.soak
    print(f"d) soak: {minutes:g} min of bursts with a kill -9 or a storm in each, RSS sampled")
    print("   target: the zero counts above, and memory that does not grow")
    total = Tally()
    samples: list[tuple[float, int, float]] = []
    async with world(tmp / "soak", args, rng) as w:
        began = time.monotonic()
        cycle = 0

        async def sample() -> None:
            while True:
                rss = w.bot.rss_mib()
                if rss is not None:
                    samples.append((time.monotonic() - began, w.bot.starts, rss))
                await asyncio.sleep(10)

        sampler = asyncio.create_task(sample())
        try:
            while time.monotonic() - began < minutes * 60:
                cycle += 1
                users = [9_000_001 + cycle * 1000 + i for i in range(args.users)]
                steps = burst_script(rng, users, args.messages, args.burst_s)
                start = time.monotonic()
                chaos = rng.choice(["kill", "502", "429", "hang"])
                at = rng.uniform(1.0, args.burst_s - 1.0)

                async def trouble(kind: str = chaos, at: float = at) -> None:
                    await asyncio.sleep(at)
                    if kind == "kill":
                        await w.bot.kill()
                        await w.bot.start(w.tg)
                    elif kind == "hang":
                        w.tg.hang(seconds=args.storm_s, delay_s=args.storm_s)
                    else:
                        w.tg.storm(seconds=args.storm_s, code=int(kind), retry_after=1)

                await asyncio.gather(play(w, steps, start), trouble())
                await settle(w)
                print(f"   cycle {cycle} ({chaos} at {at:.1f} s): {len(steps)} messages sent")
            w.operators.stop()
            await settle(w, quiet_s=2.0, max_s=30)
        finally:
            sampler.cancel()
        await w.bot.stop()
        total = w.ledger.tally(tickets_per_user=tickets_in_database(w.bot))
    print(f"   all cycles: {tally_line(total)}")
    for at, start, rss in samples[:: max(1, len(samples) // 12)]:
        print(f"   t={at:6.0f} s  start #{start}  RSS {rss:6.1f} MiB")
    runs: dict[int, list[float]] = {}
    for _, start, rss in samples:
        runs.setdefault(start, []).append(rss)
    print(
        "   RSS per start of the bot (first sample -> last, peak), MiB: "
        + "; ".join(f"#{n} {r[0]:.0f} -> {r[-1]:.0f}, {max(r):.0f}" for n, r in runs.items())
    )


# --- main ---------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    # --soak alone runs just the soak; --only adds the other parts to it.
    only = set(args.only.split(",")) if args.only else (set() if args.soak else {"a", "b", "c"})
    print(
        f"fault benchmark: `supportbot run` as a child process, fake Bot API on 127.0.0.1, "
        f"seed {args.seed}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as name:
        tmp = Path(name)
        parts: dict[str, Callable[[argparse.Namespace, Path], Awaitable[Any]]] = {
            "a": kills,
            "b": storms,
            "c": fuzzing,
        }
        for key, part in parts.items():  # one after the other: each owns the machine
            if key in only:
                await part(args, tmp)
        if args.soak:
            await soak(args, tmp)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rounds", type=int, default=3, help="kill -9 rounds (a)")
    parser.add_argument(
        "--kill-at", default="", help="kill moments in seconds, e.g. 3,8,14 (overrides --rounds)"
    )
    parser.add_argument(
        "--staff-pace",
        type=int,
        default=120,
        help="desk.staff_messages_per_minute (product default 20, Telegram's limit)",
    )
    parser.add_argument(
        "--quiet-s",
        type=float,
        default=QUIET_S,
        help="a phase ends after this long without a Bot API call (> the desk's 15 s retry)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--messages", type=int, default=200, help="user messages per burst")
    parser.add_argument("--burst-s", type=float, default=16.0, help="length of a burst")
    parser.add_argument("--storm-s", type=float, default=10.0, help="length of a storm")
    parser.add_argument("--storm-users", type=int, default=16, help="users in tickets (b)")
    parser.add_argument("--fuzz", type=int, default=2200, help="fuzzed updates (c)")
    parser.add_argument("--fuzz-rate", type=float, default=60.0, help="fuzzed updates a second")
    parser.add_argument("--only", default="", help="a comma list of a, b, c (default: all)")
    parser.add_argument(
        "--soak", type=float, default=0.0, metavar="MINUTES", help="d) soak run (alone)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run: 1 round, few messages, no storms"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.users, args.messages, args.burst_s = 1, 4, 24, 6.0
        args.fuzz, args.storm_s, args.storm_users = 150, 4.0, 4
        args.quiet_s = 5.0  # a smoke run: what the desk's retry would deliver is not waited for
        args.only = args.only or "a,c"
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    try:
        asyncio.run(run(args))
    finally:
        for bot in ALIVE:
            bot.kill_now()


if __name__ == "__main__":
    main()

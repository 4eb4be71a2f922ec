"""Benchmark the whole bot: many simulated users talking to the real Dispatcher over HTTP.

The real aiogram Bot, Dispatcher, routers, middlewares and session run against the fake
Telegram server (tests/faketg.py); the conversation engine runs over SQLite and the real
hybrid suggester. Printed: end-to-end latency (update served by getUpdates -> first reply
received by the server, p50/p95/max), sustained messages per second, and beside them the raw
model time per query (embedding only) and the suggester's full decision time.

Run: HF_HUB_OFFLINE=1 python benchmarks/bench_bot.py [--users 50] [--messages 10]
     [--encoder hashing|minilm|use] [--memory]
Nothing is asserted: speed is measured, not unit-tested.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from conftest import make_articles  # noqa: E402
from faketg import Call, FakeTelegram  # noqa: E402
from supportbot.conversation.engine import Conversation  # noqa: E402
from supportbot.conversation.handoff import RecordingHandoff  # noqa: E402
from supportbot.conversation.ports import ConversationRepository  # noqa: E402
from supportbot.domain.ports import Embedder  # noqa: E402
from supportbot.retrieval.embedders import HashingEmbedder, create_embedder  # noqa: E402
from supportbot.retrieval.intents import (  # noqa: E402
    FuzzyDuplicateDetector,
    FuzzyIntentMatcher,
)
from supportbot.retrieval.suggester import HybridSuggester  # noqa: E402
from supportbot.storage import conversations, events  # noqa: E402
from supportbot.storage.conversations import (  # noqa: E402
    InMemoryConversationRepository,
    SqliteConversationRepository,
)
from supportbot.storage.db import Database  # noqa: E402
from supportbot.storage.embedding_cache import InMemoryEmbeddingCache  # noqa: E402
from supportbot.storage.events import InMemoryEventLog, SqliteEventLog  # noqa: E402
from supportbot.telegram.bot import build_bot, build_dispatcher  # noqa: E402
from supportbot.telegram.middlewares import FloodControl, InFlight  # noqa: E402
from supportbot.telegram.runner import run_polling  # noqa: E402
from supportbot.telegram.texts import Texts  # noqa: E402

TOKEN = "123456:BENCH"
QUERIES = [
    "my card was declined",
    "i forgot my password",
    "how do i delete my profile",
    "notifications stopped coming",
    "не проходит оплата картой",
    "забыл пароль от аккаунта",
    "как удалить страницу",
    "не приходят уведомления",
    "what is the weather on mars",
    "payment fails with my visa card",
]


def _embedder(name: str) -> Embedder:
    if name == "hashing":
        return HashingEmbedder()
    if name == "minilm":
        return create_embedder("sentence-transformers", "sentence-transformers/all-MiniLM-L6-v2")
    return create_embedder("use", "use-multilingual-v3")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _user(tg: FakeTelegram, user_id: int, messages: int, latencies: list[float]) -> None:
    for i in range(messages):
        text = QUERIES[(user_id + i) % len(QUERIES)]
        since = len(tg.calls)
        started = time.perf_counter()
        tg.user_message(user_id, text, language_code="en" if user_id % 2 else "ru")

        def reply(call: Call, uid: int = user_id) -> bool:
            return call.method == "sendMessage" and call.params.get("chat_id") == uid

        await tg.wait_for(reply, timeout=60, since=since)
        latencies.append((time.perf_counter() - started) * 1000)


async def _bench(args: argparse.Namespace) -> None:
    embedder = _embedder(args.encoder)
    suggester = await HybridSuggester.create(make_articles(), [embedder], InMemoryEmbeddingCache())

    # Raw model time per query (embedding only) and the full decision, single-threaded.
    for q in QUERIES:
        suggester.decide_sync(q)
    started = time.perf_counter()
    for q in QUERIES * 5:
        embedder.embed([q], query=True)
    model_ms = (time.perf_counter() - started) * 1000 / (len(QUERIES) * 5)
    started = time.perf_counter()
    for q in QUERIES * 5:
        suggester.decide_sync(q)
    decide_ms = (time.perf_counter() - started) * 1000 / (len(QUERIES) * 5)

    tmp = tempfile.TemporaryDirectory()
    db = await Database.open(
        Path(tmp.name) / "bench.sqlite3", [*conversations.MIGRATIONS, *events.MIGRATIONS]
    )
    # One connection shared by two writers: their writes take one lock (as app.py wires it).
    repository: ConversationRepository = (
        InMemoryConversationRepository() if args.memory else SqliteConversationRepository(db)
    )
    conversation = Conversation(
        suggester=suggester,
        repository=repository,
        handoff=RecordingHandoff(),
        events=InMemoryEventLog() if args.memory else SqliteEventLog(db),
        intents=FuzzyIntentMatcher(),
        duplicates=FuzzyDuplicateDetector(),
    )
    async with FakeTelegram(token=TOKEN) as tg:
        bot = build_bot(TOKEN, tg.base_url, on_blocked=conversation.mark_blocked)
        in_flight = InFlight()
        dp = build_dispatcher(
            conversation=conversation,
            texts=Texts.load(),
            flood=FloodControl(10_000, 1.0),
            in_flight=in_flight,
        )
        stop = asyncio.Event()
        polling = asyncio.create_task(run_polling(bot, dp, in_flight, stop, polling_timeout_s=1))
        latencies: list[float] = []
        # Warm-up: one message per language so the first-call costs are not measured.
        await _user(tg, 10_000_001, 1, [])
        await _user(tg, 10_000_002, 1, [])
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for user_id in range(1, args.users + 1):
                group.create_task(_user(tg, user_id, args.messages, latencies))
        wall = time.perf_counter() - started
        stop.set()
        await polling
    await db.close()
    tmp.cleanup()

    total = len(latencies)
    print(f"bot benchmark: {args.users} users x {args.messages} messages, encoder {args.encoder}")
    print(
        f"  storage: {'in-memory' if args.memory else 'SQLite (WAL)'}; fake Telegram on 127.0.0.1"
    )
    print(
        f"  end-to-end latency (update served -> reply received): "
        f"p50 {_pct(latencies, 0.5):.1f} ms  p95 {_pct(latencies, 0.95):.1f} ms  "
        f"max {max(latencies):.1f} ms  mean {statistics.fmean(latencies):.1f} ms"
    )
    print(f"  sustained throughput: {total / wall:.0f} messages/s ({total} in {wall:.2f} s)")
    print(f"  raw model time per query (embedding only): {model_ms:.2f} ms")
    print(f"  suggester decision per query (model + fusion + confidence): {decide_ms:.2f} ms")


def main(argv: list[str] | None = None) -> Any:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--encoder", choices=["hashing", "minilm", "use"], default="hashing")
    parser.add_argument(
        "--memory", action="store_true", help="in-memory conversation state and events"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_bench(args))


if __name__ == "__main__":
    main()

"""Benchmark the whole bot: many simulated users talking to the real Dispatcher over HTTP.

The bot is built by the composition root exactly as `supportbot run` builds it (the real
aiogram Bot, Dispatcher, routers, middlewares and session; the conversation engine over
SQLite; the hybrid suggester with the configured encoders over the repo's knowledge base)
and talks to the fake Telegram server (tests/faketg.py). Printed: end-to-end latency
(update served by getUpdates -> first reply received, p50/p95/max), sustained messages per
second, and beside them the raw model time per query (all-MiniLM-L6-v2 encode alone) and the
suggester's full decision time.

Run: HF_HUB_OFFLINE=1 python benchmarks/bench_bot.py [--users 50] [--messages 10]
     [--encoder default|hashing] [--kb knowledge_base]
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

from faketg import Call, FakeTelegram  # noqa: E402
from supportbot.app import (  # noqa: E402
    all_migrations,
    build_bot_app,
    build_embedders,
    build_knowledge,
)
from supportbot.config import Settings  # noqa: E402
from supportbot.lifecycle import serve_bot_app  # noqa: E402
from supportbot.retrieval.embedders import SentenceTransformerEmbedder  # noqa: E402
from supportbot.storage.db import Database  # noqa: E402
from supportbot.storage.embedding_cache import InMemoryEmbeddingCache  # noqa: E402
from supportbot.storage.events import SqliteEventLog  # noqa: E402

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
    tmp = tempfile.TemporaryDirectory()
    settings = Settings(
        telegram={"token": TOKEN, "flood": {"messages": 10_000, "per_seconds": 1}},
        storage={"database": Path(tmp.name) / "bench.sqlite3"},
        knowledge_base={"dir": args.kb, "watch": False},
        **(
            {"retrieval": {"encoders": [{"backend": "hashing"}]}}
            if args.encoder == "hashing"
            else {}
        ),
    )
    embedders = build_embedders(settings.retrieval.encoders)
    live = await build_knowledge(settings, embedders=embedders, cache=InMemoryEmbeddingCache())
    suggester = live.suggester

    # Raw model time per query (all-MiniLM-L6-v2 alone, as a plain sentence-transformers user
    # calls it) and the full decision, single-threaded.
    for q in QUERIES:
        suggester.decide_sync(q)
    minilm = next((e for e in embedders if isinstance(e, SentenceTransformerEmbedder)), None)
    model_ms = float("nan")
    if minilm is not None:
        raw = minilm._model
        raw.encode(QUERIES, normalize_embeddings=True, show_progress_bar=False)
        started = time.perf_counter()
        for q in QUERIES * 5:
            raw.encode([q], normalize_embeddings=True, show_progress_bar=False)
        model_ms = (time.perf_counter() - started) * 1000 / (len(QUERIES) * 5)
    started = time.perf_counter()
    for q in QUERIES * 5:
        suggester.decide_sync(q)
    decide_ms = (time.perf_counter() - started) * 1000 / (len(QUERIES) * 5)

    db = await Database.open(settings.storage.database, all_migrations())
    async with FakeTelegram(token=TOKEN) as tg:
        settings.telegram.api_base = tg.base_url
        app = await build_bot_app(settings, suggester=suggester, db=db, events=SqliteEventLog(db))
        stop = asyncio.Event()
        serving = asyncio.create_task(serve_bot_app(settings, app, stop, polling_timeout_s=1))
        latencies: list[float] = []
        # Warm-up: one message per language so the first-call costs are not measured.
        await _user(tg, 10_000_001, 1, [])
        await _user(tg, 10_000_002, 1, [])
        # One user alone: the latency a message has when nothing else is going on.
        alone: list[float] = []
        await _user(tg, 10_000_003, 2 * len(QUERIES), alone)
        batches_before = suggester._batcher.batches
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for user_id in range(1, args.users + 1):
                group.create_task(_user(tg, user_id, args.messages, latencies))
        wall = time.perf_counter() - started
        stop.set()
        await serving
    await db.close()
    tmp.cleanup()

    total = len(latencies)
    signals = ",".join(suggester.snapshot.signals)
    print(
        f"bot benchmark: {args.users} users x {args.messages} messages; "
        f"{len(suggester.snapshot.articles)} articles, signals {signals}"
    )
    print("  storage: SQLite (WAL); fake Telegram on 127.0.0.1, same process")
    print(
        f"  end-to-end latency (update served -> reply received): "
        f"p50 {_pct(latencies, 0.5):.1f} ms  p95 {_pct(latencies, 0.95):.1f} ms  "
        f"max {max(latencies):.1f} ms  mean {statistics.fmean(latencies):.1f} ms"
    )
    single = _pct(alone, 0.5)
    print(
        f"  sustained throughput: {total / wall:.0f} messages/s ({total} in {wall:.2f} s)"
        "   target >= 100 messages/s"
    )
    print(
        f"  one user alone: p50 {single:.1f} ms; p95 under load / that: "
        f"{_pct(latencies, 0.95) / single:.2f}x   target <= 3x"
    )
    batches = suggester._batcher.batches - batches_before
    print(
        f"  micro-batches: {batches} for {total} messages "
        f"(mean {total / max(1, batches):.1f}, largest {suggester._batcher.largest})"
    )
    print(f"  raw all-MiniLM-L6-v2 time per query (encode only): {model_ms:.2f} ms")
    print(
        f"  suggester decision per query (all signals + fusion + confidence): {decide_ms:.2f} ms"
    )
    print(f"  ratio end-to-end p50 / raw model: {_pct(latencies, 0.5) / model_ms:.1f}x")


def main(argv: list[str] | None = None) -> Any:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument(
        "--encoder",
        choices=["default", "hashing"],
        default="default",
        help="default: the configured encoders (MiniLM + USE); hashing: no model at all",
    )
    parser.add_argument("--kb", type=Path, default=ROOT / "knowledge_base")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    asyncio.run(_bench(args))


if __name__ == "__main__":
    main()

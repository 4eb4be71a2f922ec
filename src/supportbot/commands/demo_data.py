"""`supportbot demo-data`: fill the database with a realistic synthetic support history."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supportbot.config import load_settings
from supportbot.demo.history import DemoArticle, DemoBatch, demo_day, load_demo_articles
from supportbot.domain.errors import SupportBotError
from supportbot.storage.db import Database
from supportbot.storage.event_store import DuckDbEventStore
from supportbot.storage.events import MIGRATIONS, SqliteEventSource, event_store_path

IN_PROCESS_MAX = 50_000
"""Conversations up to which `fill` works without worker processes by default."""


def register(subparsers: Any, name: str) -> None:
    """Add the `demo-data` subcommand."""
    parser = subparsers.add_parser(name, help="fill the database with a synthetic history")
    parser.add_argument(
        "--days",
        type=int,
        default=60,
        help="days of history (default 60, so a 30-day report has a previous period to "
        "compare with)",
    )
    parser.add_argument(
        "--per-day", type=int, default=500, help="conversations per day (default 500)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.set_defaults(handler=run)


def _make_day(
    day: int,
    days: int,
    per_day: int,
    end: datetime,
    articles: Sequence[DemoArticle],
    experiments: Mapping[str, Mapping[str, float]],
    seed: int,
) -> DemoBatch:
    return demo_day(
        day,
        days=days,
        per_day=per_day,
        end=end,
        articles=articles,
        experiments=experiments,
        seed=seed,
    )


async def fill(
    database: Path,
    *,
    days: int,
    per_day: int,
    end: datetime,
    articles: Sequence[DemoArticle],
    experiments: Mapping[str, Mapping[str, float]],
    seed: int = 1,
    workers: int | None = None,
) -> int:
    """Write a demo history into `database` and its event store; returns the number of events.

    Days are generated in worker processes (the CPU-heavy part) while this process only
    writes, in day order, so ids still follow time. Each day goes to the SQLite log and
    straight into the DuckDB event store, so the first report has nothing left to copy. A
    small history is made right here (`workers=0`, the default below `IN_PROCESS_MAX`
    conversations): starting worker processes would take longer than the whole job.
    """
    if workers is None:
        small = days * per_day <= IN_PROCESS_MAX
        workers = 0 if small else max(1, min(4, os.cpu_count() or 1))
    db = await Database.open(database, MIGRATIONS)
    await db.close()
    source = SqliteEventSource(database)
    store = DuckDbEventStore(event_store_path(database))
    try:
        await asyncio.to_thread(store.sync, source)
        next_id = source.last_id() + 1
        total = 0

        def write(batch: DemoBatch) -> None:
            nonlocal next_id, total
            raw = batch.to_arrow(next_id)
            source.append(raw)
            store.ingest(raw)
            next_id += raw.num_rows
            total += raw.num_rows

        if workers == 0:
            for day in range(days):
                batch = await asyncio.to_thread(
                    _make_day, day, days, per_day, end, articles, experiments, seed
                )
                await asyncio.to_thread(write, batch)
            return total
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pending: list[Future[DemoBatch]] = []
            next_day = 0
            while next_day < days or pending:
                # Keep a couple of days in flight per worker, no more (memory stays flat).
                while next_day < days and len(pending) < workers * 2:
                    pending.append(
                        pool.submit(
                            _make_day, next_day, days, per_day, end, articles, experiments, seed
                        )
                    )
                    next_day += 1
                batch = await asyncio.wrap_future(pending.pop(0), loop=loop)
                await asyncio.to_thread(write, batch)
        return total
    finally:
        store.close()


def run(args: argparse.Namespace) -> int:
    """Generate the history and append it to the event log of `storage.database`."""
    if args.days < 1:
        raise SupportBotError("--days must be at least 1")
    if args.per_day < 0:
        raise SupportBotError("--per-day must not be negative")
    settings = load_settings(args.config)
    articles = load_demo_articles(settings.knowledge_base.dir, settings.desk.categories)
    experiments = {
        e.name: {arm: a.share for arm, a in e.arms.items()} for e in settings.experiments
    }
    end = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    total = asyncio.run(
        fill(
            settings.storage.database,
            days=args.days,
            per_day=args.per_day,
            end=end,
            articles=articles,
            experiments=experiments,
            seed=args.seed,
        )
    )
    print(
        f"{total} events for ~{args.days * args.per_day} conversations written to "
        f"{settings.storage.database} in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0

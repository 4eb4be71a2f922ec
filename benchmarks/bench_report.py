"""Benchmark: demo-data for a month of 20,000 conversations a day, then the HTML report of it.

Targets (2-core machine): demo-data <= 180 s, report <= 20 s. Run:
    PYTHONPATH=src python benchmarks/bench_report.py [--days 30] [--per-day 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from supportbot.analytics.demo import load_demo_articles
from supportbot.commands.demo_data import fill
from supportbot.commands.report import produce
from supportbot.config import Settings, StorageSettings


def main() -> None:
    """Measure and print both figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=20_000)
    parser.add_argument("--db", type=Path, default=None, help="reuse/keep this database")
    parser.add_argument("--skip-fill", action="store_true", help="report on an existing --db")
    parser.add_argument("--gaps-embedder", choices=["config", "hashing", "none"], default="config")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench_report_"))
    db = args.db or workdir / "bench.sqlite3"
    settings = Settings(storage=StorageSettings(database=db))
    end = datetime.now(UTC).replace(microsecond=0)
    if not args.skip_fill:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        started = time.perf_counter()
        events = asyncio.run(
            fill(
                db,
                days=args.days,
                per_day=args.per_day,
                end=end,
                articles=load_demo_articles(Path("knowledge_base")),
                experiments={"suggestions": {"A": 0.5, "B": 0.5}},
            )
        )
        fill_s = time.perf_counter() - started
        print(
            f"demo-data: {args.days} days x {args.per_day} conversations/day = "
            f"{events:,} events in {fill_s:.1f} s (target <= 180 s)"
        )
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute("SELECT count(*) FROM events").fetchone()
        (last,) = conn.execute("SELECT max(ts) FROM events").fetchone()
    until = datetime.fromtimestamp(last / 1e6 + 1, UTC)
    since = until - timedelta(days=args.days)
    started = time.perf_counter()
    html = asyncio.run(
        produce(
            settings,
            since,
            until,
            fmt="html",
            lang="en",
            tz=ZoneInfo("UTC"),
            gaps_embedder=args.gaps_embedder,
        )
    )
    report_s = time.perf_counter() - started
    out = workdir / "report.html"
    out.write_text(html, encoding="utf-8")
    print(
        f"report: {args.days} days, {count:,} events, embedder={args.gaps_embedder}: "
        f"{report_s:.1f} s (target <= 20 s); {len(html) / 1e3:.0f} kB -> {out}"
    )


if __name__ == "__main__":
    main()

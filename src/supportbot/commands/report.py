"""`supportbot report`: KPIs of a period as HTML, Markdown, CSV or JSON."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import re
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from supportbot.analytics.gaps import Embed
from supportbot.analytics.kpis import LOOKBACK
from supportbot.analytics.render import to_csv, to_html, to_json, to_markdown
from supportbot.analytics.report import KnownArticle, build_report
from supportbot.config import Settings, load_settings
from supportbot.domain.errors import ConfigError, SupportBotError
from supportbot.storage.db import Database
from supportbot.storage.event_store import DuckDbEventStore
from supportbot.storage.events import MIGRATIONS, SqliteEventSource, event_store_path

logger = logging.getLogger(__name__)

_RELATIVE = re.compile(r"^(\d+)([dhw])$")


def local_midnight(moment: datetime, tz: ZoneInfo) -> datetime:
    """The start (in UTC) of the local day `moment` falls in."""
    local = moment.astimezone(tz)
    return datetime.combine(local.date(), time(), tzinfo=tz).astimezone(UTC)


def parse_moment(value: str, *, now: datetime, tz: ZoneInfo, option: str = "--since") -> datetime:
    """ "7d" or "2w" (that many whole local days before today), "12h" (hours before now), an
    ISO date (local midnight) or an ISO date-time.

    Days are calendar days in `tz`: "30d" starts at local midnight 30 days before today, so
    every day in the report is a whole day (today, up to now, is the only partial one).

    Raises:
        SupportBotError: the value cannot be read or lies outside the calendar; the message
            names `option`.
    """
    match = _RELATIVE.match(value.strip())
    try:
        if match:
            amount, unit = int(match.group(1)), match.group(2)
            if unit == "h":
                return now - timedelta(hours=amount)
            days = amount * (7 if unit == "w" else 1)
            today = now.astimezone(tz).date()
            return datetime.combine(today - timedelta(days=days), time(), tzinfo=tz).astimezone(
                UTC
            )
        moment = datetime.fromisoformat(value.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return moment.astimezone(UTC)
    except OverflowError:
        raise SupportBotError(
            f"{option} {value}: too far from today for the calendar (years 1-9999)"
        ) from None
    except ValueError:
        raise SupportBotError(
            f"{option}: cannot read the time {value!r}: use 7d, 12h, 2w, 2024-05-01 or "
            "2024-05-01T10:00"
        ) from None


def _check_period(since: datetime, until: datetime) -> None:
    """The period and the one before it (plus the look-back) must fit the calendar."""
    if until <= since:
        raise SupportBotError("--until must be after --since")
    try:
        since - (until - since) - LOOKBACK
    except OverflowError:
        raise SupportBotError(
            "--since: the period is too long: the previous period of the same length would "
            "start before the year 1"
        ) from None


def _check_out(path: Path) -> None:
    """Fail before the work when the report could not be written to `path`."""
    if path.is_dir():
        raise SupportBotError(f"--out {path}: is a directory")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SupportBotError(f"--out {path}: cannot create {parent}: {exc.strerror}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SupportBotError(f"--out {path}: {parent} is not writable")
    # Some places refuse new files whatever the permissions say (/proc, read-only mounts):
    # try it now rather than after the report is computed.
    existed = path.exists()
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise SupportBotError(f"--out {path}: cannot write: {exc.strerror}") from None
    if not existed:
        path.unlink(missing_ok=True)


def _write(path: Path, output: str) -> None:
    try:
        path.write_text(output, encoding="utf-8")
    except OSError as exc:
        raise SupportBotError(f"--out {path}: cannot write: {exc.strerror}") from None


def _check_experiment(name: str, configured: Sequence[str]) -> None:
    if name in configured:
        return
    known = ", ".join(sorted(configured)) if configured else "none are configured"
    raise SupportBotError(f"--experiment {name}: unknown experiment (configured: {known})")


def register(subparsers: Any, name: str) -> None:
    """Add the `report` subcommand."""
    parser = subparsers.add_parser(name, help="support KPIs for a period")
    parser.add_argument(
        "--since",
        default="7d",
        help="7d or 2w (whole local days before today), 12h, or an ISO date (default 7d)",
    )
    parser.add_argument(
        "--until",
        default=None,
        help="end of the period (default: now, so today is included and marked partial)",
    )
    parser.add_argument(
        "--complete-days",
        action="store_true",
        help="end the period at today's local midnight: whole days only, today left out",
    )
    parser.add_argument("--out", type=Path, default=None, help="output file (default: stdout)")
    parser.add_argument("--format", choices=["html", "md", "csv", "json"], default=None)
    parser.add_argument("--lang", choices=["en", "ru"], default=None)
    parser.add_argument("--experiment", default=None, help="compare the arms of an experiment")
    parser.add_argument(
        "--gaps-embedder",
        choices=["config", "hashing", "none"],
        default="config",
        help="embedder for content-gap themes: a configured encoder (default; the multilingual "
        "one when there is one), the "
        "fast hashing one, or none to skip the clustering",
    )
    parser.set_defaults(handler=run)


def _known_articles(settings: Settings) -> dict[str, KnownArticle]:
    """The knowledge base's articles by id (titles and questions), {} when it cannot be read."""
    from supportbot.knowledge.loader import load_knowledge_base

    try:
        kb = load_knowledge_base(settings.knowledge_base.dir)
    except SupportBotError as exc:
        logger.warning("Articles are shown by id: %s", exc)
        return {}
    return {
        article.id: KnownArticle(
            title=article.title, text=" ".join((article.title, *article.questions))
        )
        for article in kb.articles.values()
    }


def _load_embedder(settings: Settings, choice: str) -> Any:
    # Straight from the retrieval package: the composition root (`supportbot.app`) would
    # import aiogram and the whole bot, seconds of work a report does not need.
    from supportbot.retrieval.embedders import HashingEmbedder, create_embedder

    if choice != "config":
        return HashingEmbedder()
    encoders = settings.retrieval.encoders
    # Themes should group Russian and English messages on one topic: an English-only model
    # rates unrelated Russian texts as alike, so the multilingual encoder is preferred.
    chosen = next((e for e in encoders if e.backend == "use"), encoders[0] if encoders else None)
    if chosen is None:
        logger.warning("No encoder is configured; using the hashing embedder for themes")
        return HashingEmbedder()
    try:
        return create_embedder(
            chosen.backend,
            chosen.model,
            query_prefix=chosen.query_prefix,
            passage_prefix=chosen.passage_prefix,
            batch_size=chosen.batch_size,
        )
    except (ImportError, ConfigError, ValueError, OSError) as exc:
        logger.warning("No encoder could be loaded (%s); using the hashing embedder", exc)
        return HashingEmbedder()


def _lazy_embed(pool: ThreadPoolExecutor, settings: Settings, choice: str) -> Embed | None:
    """Start loading the encoder now; the returned function waits for it on first use.

    A real encoder takes seconds to load, about as long as reading a month of events, so
    the two overlap.
    """
    if choice == "none":
        return None
    loading = pool.submit(_load_embedder, settings, choice)

    def embed(texts: Sequence[str]) -> Any:
        return loading.result().embed(list(texts), query=True)

    return embed


async def produce(
    settings: Settings,
    since: datetime,
    until: datetime,
    *,
    fmt: str,
    lang: str,
    tz: ZoneInfo,
    experiment: str | None = None,
    gaps_embedder: str = "config",
) -> str:
    """Bring the event store up to date with `storage.database` and render the report of
    [since, until) in `fmt`."""
    database = settings.storage.database
    db = await Database.open(database, MIGRATIONS)  # an old database gets today's schema
    await db.close()
    store = await asyncio.to_thread(DuckDbEventStore, event_store_path(database))
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            if fmt == "html":
                # matplotlib takes a second to import: done while DuckDB reads the month.
                pool.submit(importlib.import_module, "matplotlib.figure")
            embed = _lazy_embed(pool, settings, gaps_embedder)
            known_articles: Future[dict[str, KnownArticle]] = pool.submit(
                _known_articles, settings
            )
            copied = await asyncio.to_thread(store.sync, SqliteEventSource(database))
            logger.info("Event store: %d new events copied from %s", copied, database)
            await asyncio.wrap_future(known_articles)
            report = await build_report(
                store,
                since,
                until,
                tz=tz,
                embed=embed,
                experiment=experiment,
                articles=known_articles.result(),
            )
    finally:
        store.close()
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report, lang)
    if fmt == "html":
        return to_html(report, lang)
    return to_markdown(report, lang)


def run(args: argparse.Namespace) -> int:
    """Build and write the report."""
    settings = load_settings(args.config)
    try:
        tz = ZoneInfo(settings.analytics.timezone)
    except ZoneInfoNotFoundError as exc:
        raise ConfigError(f"analytics.timezone: unknown zone {exc}") from exc
    now = datetime.now(UTC)
    since = parse_moment(args.since, now=now, tz=tz, option="--since")
    if args.until:
        until = parse_moment(args.until, now=now, tz=tz, option="--until")
    elif args.complete_days:
        until = local_midnight(now, tz)
    else:
        until = now
    _check_period(since, until)
    if args.experiment is not None:
        _check_experiment(args.experiment, [e.name for e in settings.experiments])
    if args.out:
        _check_out(args.out)
    fmt = args.format or (
        {".html": "html", ".md": "md", ".csv": "csv", ".json": "json"}.get(
            args.out.suffix.lower(), "html"
        )
        if args.out
        else "md"
    )
    lang = args.lang or settings.desk.language
    if not settings.storage.database.exists():
        raise SupportBotError(
            f"database {settings.storage.database} does not exist (try supportbot demo-data)"
        )

    output = asyncio.run(
        produce(
            settings,
            since,
            until,
            fmt=fmt,
            lang=lang,
            tz=tz,
            experiment=args.experiment,
            gaps_embedder=args.gaps_embedder,
        )
    )
    if args.out:
        _write(args.out, output)
        print(f"report written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(output + "\n")
    return 0

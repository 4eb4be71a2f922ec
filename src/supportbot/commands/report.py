"""`supportbot report`: KPIs of a period as HTML, Markdown, CSV or JSON."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from supportbot.analytics.gaps import Embed
from supportbot.analytics.render import to_csv, to_html, to_json, to_markdown
from supportbot.analytics.report import build_report
from supportbot.config import Settings, load_settings
from supportbot.domain.errors import ConfigError, SupportBotError
from supportbot.storage.db import Database
from supportbot.storage.events import MIGRATIONS, SqliteEventLog

logger = logging.getLogger(__name__)

_RELATIVE = re.compile(r"^(\d+)([dhw])$")


def parse_moment(value: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """ "7d", "12h", "2w" (before now), an ISO date (local midnight) or an ISO date-time."""
    match = _RELATIVE.match(value.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        hours = {"h": 1, "d": 24, "w": 168}[unit]
        return now - timedelta(hours=amount * hours)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SupportBotError(
            f"cannot read the time {value!r}: use 7d, 12h, 2w, 2024-05-01 or 2024-05-01T10:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def register(subparsers: Any, name: str) -> None:
    """Add the `report` subcommand."""
    parser = subparsers.add_parser(name, help="support KPIs for a period")
    parser.add_argument("--since", default="7d", help="7d, 12h, 2w or an ISO date (default 7d)")
    parser.add_argument("--until", default=None, help="end of the period (default: now)")
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


def _load_embedder(settings: Settings, choice: str) -> Any:
    from supportbot.app import build_multilingual_embedder
    from supportbot.retrieval.embedders import HashingEmbedder

    if choice != "config":
        return HashingEmbedder()
    # Themes should group Russian and English messages on one topic.
    try:
        return build_multilingual_embedder(settings.retrieval.encoders)
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
    """Read `storage.database` and render the report of [since, until) in `fmt`."""
    db = await Database.open(settings.storage.database, MIGRATIONS)
    try:
        log = SqliteEventLog(db)
        with ThreadPoolExecutor(max_workers=1) as pool:
            embed = _lazy_embed(pool, settings, gaps_embedder)
            report = await build_report(
                log, since, until, tz=tz, embed=embed, experiment=experiment
            )
    finally:
        await db.close()
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
    since = parse_moment(args.since, now=now, tz=tz)
    until = parse_moment(args.until, now=now, tz=tz) if args.until else now
    if until <= since:
        raise SupportBotError("--until must be after --since")
    if args.experiment and args.experiment not in {e.name for e in settings.experiments}:
        logger.warning(
            "Experiment %r is not in the config; comparing what the log holds", args.experiment
        )
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
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(output, encoding="utf-8")
        print(f"report written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(output + "\n")
    return 0

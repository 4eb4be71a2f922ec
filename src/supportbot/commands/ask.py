"""`supportbot ask "text"`: the decision, confidence and top articles for one message."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from supportbot.config import load_settings
from supportbot.domain.models import Decision


def register(subparsers: Any, name: str) -> None:
    """Add the `ask` subcommand."""
    parser = subparsers.add_parser(name, help="show the decision for one message")
    parser.add_argument("text", help="the user's message")
    parser.add_argument("--kb", type=Path, default=None, help="knowledge base directory")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def decision_to_dict(decision: Decision) -> dict[str, Any]:
    """A JSON-ready view of a decision."""
    return {
        "decision": decision.kind.value,
        "confidence": decision.confidence,
        "lang": decision.query_lang.value,
        "elapsed_ms": decision.elapsed_ms,
        "suggestions": [{**asdict(s), "why": s.why} for s in decision.suggestions],
    }


def format_decision(decision: Decision) -> str:
    """A human-readable view of a decision."""
    lines = [
        f"decision: {decision.kind.value}  confidence: {decision.confidence:.2f}  "
        f"lang: {decision.query_lang.value}  ({decision.elapsed_ms:.1f} ms)"
    ]
    for rank, s in enumerate(decision.suggestions, 1):
        lines.append(f"  {rank}. {s.article_id}  \u2014 {s.title}")
        lines.append(f"     score {s.score:.3f}  confidence {s.confidence:.2f}  {s.why}")
    return "\n".join(lines)


async def _ask(args: argparse.Namespace) -> int:
    from supportbot.app import build_knowledge, open_database  # heavy: only when it runs

    settings = load_settings(args.config)
    db = await open_database(settings)
    try:
        live = await build_knowledge(settings, kb_dir=args.kb, db=db)
        decision = await live.suggester.decide(args.text)
    finally:
        await db.close()
    if args.json:
        print(json.dumps(decision_to_dict(decision), ensure_ascii=False, indent=2))
    else:
        print(format_decision(decision))
    return 0


def run(args: argparse.Namespace) -> int:
    """Handle `supportbot ask`."""
    level = logging.getLogger().getEffectiveLevel()
    if level > logging.DEBUG:
        # Every decision is logged for threshold tuning; here the report already shows them.
        # Never below the configured level: that would let through what it silences.
        logging.getLogger("supportbot.retrieval").setLevel(max(logging.WARNING, level))
    return asyncio.run(_ask(args))

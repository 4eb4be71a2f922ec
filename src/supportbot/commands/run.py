"""`supportbot run`: start the Telegram bot (long polling, or webhook per config)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


def register(subparsers: Any, name: str) -> None:
    """Add the `run` subcommand."""
    parser = subparsers.add_parser(
        name,
        help="run the Telegram bot",
        description="Run the bot until SIGTERM or Ctrl-C, then finish in-flight updates.",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle `supportbot run`."""
    # Imported here so `supportbot --help` does not load aiogram and the models.
    from supportbot.config import load_settings
    from supportbot.lifecycle import run_bot

    asyncio.run(run_bot(load_settings(args.config)))
    return 0

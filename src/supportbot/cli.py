"""The `supportbot` command line: run the bot, chat in the terminal, check the KB, eval, report."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from supportbot.domain.errors import SupportBotError

# name -> module under supportbot.commands; imported lazily so `--help` stays fast
COMMANDS: dict[str, str] = {
    "run": "run",
    "chat": "chat",
    "ask": "ask",
    "eval": "evaluate",
    "kb": "kb",
    "report": "report",
    "demo-data": "demo_data",
}

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="supportbot",
        description="Telegram support bot with a dynamic FAQ suggester.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML config file (default: ./config.toml when present)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(f"supportbot.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"supportbot.commands.{module_name}":
                raise
            continue
        module.register(subparsers, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in (
        "httpx",
        "sentence_transformers",
        "transformers",
        "faiss",
        "watchfiles",
        "bm25s",
        "aiogram.event",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    handler: Handler = args.handler
    try:
        return handler(args)
    except SupportBotError as exc:
        print(f"error: {exc.user_message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

"""The `supportbot` command line: run the bot, chat in the terminal, check the KB, eval, report."""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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

# Libraries that log every SQL statement, HTTP request or font lookup at DEBUG: `-v` is for
# supportbot's own reasoning, so these stay at WARNING unless named with `--debug NAME`.
NOISY_LOGGERS = (
    "aiogram.event",
    "aiosqlite",
    "asyncio",
    "bm25s",
    "faiss",
    "filelock",
    "fsspec",
    "httpcore",
    "httpx",
    "huggingface_hub",
    "matplotlib",
    "PIL",
    "sentence_transformers",
    "torch",
    "transformers",
    "urllib3",
    "watchfiles",
)

Handler = Callable[[argparse.Namespace], int]


def _add_global_options(parser: argparse.ArgumentParser, *, subcommand: bool) -> None:
    """`--config`, `-v` and `--debug`, on the main parser and again on every subcommand.

    On a subcommand they default to SUPPRESS: an option given before the subcommand is not
    overwritten by the subcommand's default, and one given after it wins.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if subcommand else value

    parser.add_argument(
        "--config",
        type=Path,
        default=default(None),
        help="TOML config file (default: ./config.toml when present)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="log at DEBUG level (third-party libraries stay at WARNING: see --debug)",
    )
    parser.add_argument(
        "--debug",
        # Kept apart from the main parser's list, so names given on both sides add up.
        dest="debug_after" if subcommand else "debug",
        action="append",
        default=default([]),
        metavar="LOGGER",
        help="log LOGGER (e.g. aiosqlite, aiogram, httpx) at DEBUG; repeatable",
    )


class _Parser(argparse.ArgumentParser):
    """A parser whose subcommands, at any depth, take the global options too.

    argparse builds a subcommand's parser with the class of its parent, so this covers
    `kb check` as well as `ask`: `supportbot kb check --config f.toml` works like
    `supportbot --config f.toml kb check`, as the README promises.
    """

    def __init__(self, *args: Any, main: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _add_global_options(self, subcommand=not main)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = _Parser(
        prog="supportbot",
        description="Telegram support bot with a dynamic FAQ suggester.",
        main=True,
    )
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


def _configured_level(config: Path | None) -> int:
    """`log_level` from the config; INFO when the config cannot be read.

    A command that needs the config reports what is wrong with it itself; one that does
    not (`kb preview --root`) should not fail over a log level.
    """
    from supportbot.config import load_settings

    try:
        return logging.getLevelNamesMapping()[load_settings(config).log_level]
    except SupportBotError:
        return logging.INFO


# A bot token: the bot's id, a colon, 35 characters (also after "bot" in a Bot API URL,
# whatever its length there).
_TOKEN = re.compile(r"(?<=/bot)[0-9]{1,20}:[A-Za-z0-9_-]+|\b[0-9]{5,20}:[A-Za-z0-9_-]{30,}")


class RedactTokens(logging.Filter):
    """Every line written, tracebacks included, with bot tokens replaced by `<token>`: an
    error from the HTTP client quotes the request URL, and the URL holds the token."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        message = record.getMessage()
        redacted = _TOKEN.sub("<token>", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _TOKEN.sub("<token>", record.exc_text)
        if record.stack_info:
            record.stack_info = _TOKEN.sub("<token>", record.stack_info)
        return True


def configure_logging(level: int, debug: Sequence[str] = ()) -> None:
    """Log to stderr at `level`; noisy libraries at WARNING or above, `debug` ones at DEBUG.
    No handler ever writes a bot token (`RedactTokens`)."""
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactTokens) for f in handler.filters):
            handler.addFilter(RedactTokens())
    # Set apart from basicConfig, which changes nothing when handlers are already there
    # (a program embedding supportbot, or pytest).
    logging.getLogger().setLevel(level)
    # A logger's own level decides what it passes on (its parents' levels are not
    # consulted), so a quieted library must never be set below the configured level.
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, level))
    for name in debug:
        logging.getLogger(name).setLevel(logging.DEBUG)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(
        logging.DEBUG if args.verbose else _configured_level(args.config),
        [*args.debug, *getattr(args, "debug_after", [])],
    )
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

"""`supportbot run`: start the Telegram bot (long polling, or webhook per config)."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from supportbot.domain.errors import ConfigError, SupportBotError

if TYPE_CHECKING:
    from supportbot.config import Settings


def register(subparsers: Any, name: str) -> None:
    """Add the `run` subcommand."""
    parser = subparsers.add_parser(
        name,
        help="run the Telegram bot",
        description="Run the bot until SIGTERM or Ctrl-C, then finish in-flight updates.",
    )
    parser.set_defaults(handler=run)


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def _explain(error: BaseException, settings: Settings) -> SupportBotError:
    """One line saying what failed and what to check; never the token."""
    from aiogram.exceptions import TelegramNetworkError

    api = settings.telegram.api_base
    if isinstance(error, TelegramNetworkError):
        reason = error.message
        token = settings.telegram.token
        if token is not None and token.get_secret_value():
            # aiohttp quotes the request URL in some errors, and the URL holds the token.
            reason = reason.replace(token.get_secret_value(), "<token>")
        return SupportBotError(
            f"cannot reach the Telegram Bot API at {api} ({reason}): check the network, "
            "any proxy or firewall, and telegram.api_base (SUPPORTBOT_TELEGRAM__API_BASE)"
        )
    return ConfigError(
        f"the Bot API at {api} rejected the token (401 Unauthorized): check telegram.token "
        "(SUPPORTBOT_TELEGRAM__TOKEN); @BotFather shows the current one under /mybots > "
        "API Token, and a revoked token stops working"
    )


def run(args: argparse.Namespace) -> int:
    """Handle `supportbot run`."""
    # Imported here so `supportbot --help` does not load aiogram and the models.
    from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError

    from supportbot.app import run_bot
    from supportbot.config import load_settings

    settings = load_settings(args.config)
    fatal = (TelegramNetworkError, TelegramUnauthorizedError)
    try:
        asyncio.run(run_bot(settings))
    except fatal as exc:
        # The start-up getMe: a traceback would hide the one thing to fix.
        raise _explain(exc, settings) from exc
    except BaseExceptionGroup as group:
        # The same failures from the tasks serving the bot (setting the webhook).
        matched, rest = group.split(fatal)
        if matched is None or rest is not None:
            raise
        raise _explain(_first_leaf(matched), settings) from group
    return 0

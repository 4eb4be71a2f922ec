"""`supportbot chat`: talk to the bot in the terminal, through the same engine as Telegram.

Messages are rendered exactly as the bot renders them for Telegram (then shown as plain
text); buttons become numbered choices: type the number to press one.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from supportbot.config import load_settings
from supportbot.conversation.engine import Conversation
from supportbot.conversation.replies import Reply, UserInfo
from supportbot.domain.errors import SupportBotError
from supportbot.domain.models import Lang

if TYPE_CHECKING:  # aiogram and the models load only when a chat starts
    from supportbot.app import LiveKnowledge
    from supportbot.telegram.callbacks import ButtonData
    from supportbot.telegram.render import Renderer

logger = logging.getLogger(__name__)

TERMINAL_USER_ID = 1
_TAG = re.compile(r"<(/?)(b|strong)>|<[^>]+>")


def register(subparsers: Any, name: str) -> None:
    """Add the `chat` subcommand."""
    parser = subparsers.add_parser(name, help="talk to the bot in the terminal (no token needed)")
    parser.add_argument("--kb", type=Path, default=None, help="knowledge base directory")
    parser.add_argument("--lang", choices=["ru", "en"], default=None, help="your language")
    parser.add_argument("--name", default="Demo", help="your first name, as the bot sees it")
    parser.set_defaults(handler=run)


def to_terminal(text: str, *, color: bool) -> str:
    """Telegram HTML as terminal text: bold stays bold on a colour terminal, tags go."""

    def replace(match: re.Match[str]) -> str:
        if match.group(2) and color:
            return "\033[0m" if match.group(1) else "\033[1m"
        return ""

    return html.unescape(_TAG.sub(replace, text))


class TerminalChat:
    """Renders replies to a stream and turns numbered choices back into button presses."""

    def __init__(self, renderer: Renderer, *, color: bool, out: TextIO | None = None) -> None:
        self._renderer = renderer
        self._color = color
        self._out = out or sys.stdout
        self.buttons: list[str] = []  # callback data of the buttons on screen, by number

    def show(self, reply: Reply, name: str) -> None:
        """Print every message of a reply; number its buttons."""
        self.buttons = []
        for message in self._renderer.render(reply, name=name):
            print(to_terminal(message.text, color=self._color), file=self._out)
            if message.markup is None:
                print(file=self._out)
                continue
            for row in message.markup.inline_keyboard:
                labels = []
                for button in row:
                    if button.callback_data is None:
                        continue
                    self.buttons.append(button.callback_data)
                    labels.append(f"[{len(self.buttons)}] {button.text}")
                print("   " + "   ".join(labels), file=self._out)
            print(file=self._out)

    def press_for(self, line: str) -> ButtonData | None:
        """The button a typed number stands for, if the line is one."""
        from supportbot.telegram.callbacks import ButtonData

        if line.isdigit() and 1 <= int(line) <= len(self.buttons):
            return ButtonData.unpack(self.buttons[int(line) - 1])
        return None


async def _chat(args: argparse.Namespace) -> int:
    from supportbot.app import build_terminal_chat, open_database
    from supportbot.telegram.render import Renderer
    from supportbot.telegram.texts import Texts

    settings = load_settings(args.config)
    lang = Lang(args.lang) if args.lang else Lang(settings.telegram.default_language)
    interactive = sys.stdin.isatty()
    if interactive:
        print("Loading the models and the knowledge base...", file=sys.stderr)
    db = await open_database(settings)
    try:
        live, conversation = await build_terminal_chat(settings, kb_dir=args.kb, db=db)
        user = UserInfo(TERMINAL_USER_ID, first_name=args.name, language_code=lang.value)
        screen = TerminalChat(Renderer(Texts.load()), color=sys.stdout.isatty())
        stop = asyncio.Event()
        async with asyncio.TaskGroup() as tasks:
            # An article saved while chatting is served from the next message on, as in
            # the bot: editors try their changes here.
            if settings.knowledge_base.watch:
                tasks.create_task(_watch(live, settings.knowledge_base.debounce_ms, stop))
            try:
                await _converse(conversation, user, screen, args.name, interactive=interactive)
            finally:
                stop.set()
    finally:
        await db.close()
    return 0


async def _watch(live: LiveKnowledge, debounce_ms: int, stop: asyncio.Event) -> None:
    try:
        await live.watch(debounce_ms=debounce_ms, stop_event=stop)
    except OSError as exc:
        # Out of inotify watches, say: the chat is still useful without reloads.
        logger.warning("Cannot watch %s for changes (%s): restart to see edits", live.root, exc)


async def _converse(
    conversation: Conversation,
    user: UserInfo,
    screen: TerminalChat,
    name: str,
    *,
    interactive: bool,
) -> None:
    """Read lines until end of input or /quit; show each reply."""
    screen.show(await conversation.start(user), name)
    if interactive:
        print("(type a question; a number presses a button; /lang ru|en, /operator, /quit)\n")
    while True:
        try:
            line = (await asyncio.to_thread(input, "you> " if interactive else "")).strip()
        except EOFError:
            return
        if not line:
            continue
        if line in {"/quit", "/exit", "/q"}:
            return
        if not interactive:
            print(f"you> {line}")
        try:
            reply = await _dispatch(conversation, user, line, screen)
        except SupportBotError as exc:
            print(exc.user_message, end="\n\n")
            continue
        screen.show(reply, name)


async def _dispatch(
    conversation: Conversation, user: UserInfo, line: str, screen: TerminalChat
) -> Reply:
    button = screen.press_for(line)
    if button is not None:
        return await conversation.press(user, button.press())
    if line.startswith("/lang"):
        code = line.removeprefix("/lang").strip()
        return await conversation.set_language(user, Lang(code) if code in {"ru", "en"} else None)
    if line in {"/operator", "/human"}:
        return await conversation.ask_person(user)
    if line == "/start":
        return await conversation.start(user)
    if line == "/help":
        return await conversation.help(user)
    return await conversation.handle_text(user, line)


def run(args: argparse.Namespace) -> int:
    """Handle `supportbot chat`."""
    root = logging.getLogger()
    if root.getEffectiveLevel() > logging.DEBUG:
        # INFO lines would interleave with the conversation; -v or log_level DEBUG shows all.
        root.setLevel(max(logging.WARNING, root.getEffectiveLevel()))
    return asyncio.run(_chat(args))

"""A fake Telegram Bot API server for end-to-end tests.

The real aiogram ``Bot`` / ``Dispatcher`` / ``AiohttpSession`` talk to this server over
HTTP, exactly as they talk to ``api.telegram.org``; nothing inside aiogram is mocked.

Usage::

    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from faketg import FakeTelegram   # tests/ is on sys.path (pytest "prepend" import mode)

    async def test_echo_replies() -> None:
        async with FakeTelegram(token="42:TEST") as tg:
            session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url))
            bot = Bot("42:TEST", session=session)      # or simply: bot = tg.make_bot()
            dp = Dispatcher()
            ...                                         # register handlers
            polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False))
            tg.user_message(1001, "hello")              # push an update
            call = await tg.wait_for("sendMessage", chat_id=1001)
            assert call.params["text"] == "hello"
            assert [m.text for m in tg.sent_to(1001)] == ["hello"]
            await dp.stop_polling()
            await polling
            await bot.session.close()

Setup:
    ``add_user(user_id, ...)`` (opens the private chat), ``add_chat(chat_id, type, is_forum=,
    title=)``, ``add_topic(chat_id, name) -> thread_id``, ``set_member(chat_id, user_id,
    status)``; ``make_bot(parse_mode=None)`` returns a real ``Bot`` wired to the server.

Driving:
    ``push_update(update)`` queues a raw update dict; ``user_message``, ``callback`` and
    ``group_message`` build Telegram-shaped updates and return a :class:`Pushed`
    ``(update_id, message_id, callback_query_id)``.  Long-polling ``getUpdates`` returns as
    soon as an update is pushed.

Observing:
    every request is a :class:`Call` in ``tg.calls`` (params decoded: JSON fields parsed,
    numbers as ints, uploaded files as :class:`UploadedFile`).  ``calls_of(method)``,
    ``sent_to(chat_id)`` (what the bot sent/edited into a chat, as :class:`SentMessage`),
    ``message(chat_id, message_id)`` (current server-side state of a message) and
    ``await wait_for(method_or_predicate, timeout=5, **params)`` /
    ``await wait_for_all(match, count)``.  By default ``wait_for``
    only looks at calls made after the last ``push_update``/helper call or ``mark()``.

Faults and realism:
    ``fail_next(method, code=429, retry_after=1, times=1)``, ``block_user(chat_id)``,
    ``set_member(chat_id, user_id, status)``; sendMessage validates text length, inline
    keyboards (callback_data <= 64 bytes, button urls) and HTML/MarkdownV2 markup; forum
    topics are tracked and sending into an unknown/deleted topic fails like Telegram does;
    editing without changes fails with "message is not modified"; callback queries can be
    answered once; messages sent into a chat the fake has never seen fail with
    "chat not found" (create chats with ``add_chat`` or by pushing a user message).

Known simplifications: no rate limiting unless injected, closed topics accept messages
(the bot is assumed to be an admin), MarkdownV2 support is a validator plus a best-effort
entity parser, files are never served for download.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NamedTuple, Self

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

__all__ = [
    "SEND_METHODS",
    "Call",
    "FakeTelegram",
    "Pushed",
    "SentMessage",
    "Storm",
    "TelegramApiError",
    "Topic",
    "UploadedFile",
]

JSON = dict[str, Any]
Matcher = str | Callable[["Call"], bool]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
DEFAULT_TOPIC_ICON_COLOR = 7322096


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Parameters Telegram treats as plain strings: never JSON-decode them (text "123" stays "123").
_STRING_FIELDS = _words(
    "text caption title name description short_description parse_mode "
    "callback_query_id url emoji icon_custom_emoji_id action photo document voice "
    "sticker video audio animation video_note thumbnail language_code secret_token "
    "ip_address business_connection_id message_effect_id inline_message_id "
    "custom_title query file_id question payload currency start_parameter filename "
    "certificate "
)

_SEND_METHODS = _words(
    "sendmessage sendphoto senddocument sendvoice sendsticker sendmediagroup "
    "copymessage copymessages forwardmessage forwardmessages sendchataction sendvideo "
    "sendaudio sendanimation sendvideonote sendlocation sendcontact sendpoll senddice "
    "editmessagetext editmessagereplymarkup editmessagecaption editmessagemedia "
    "pinchatmessage setmessagereaction "
)

_CHAT_ACTIONS = _words(
    "typing upload_photo record_video upload_video record_voice upload_voice "
    "upload_document choose_sticker find_location record_video_note upload_video_note "
)

# Update types delivered when allowed_updates is empty/unset (Telegram's default).
_NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "left", "kicked"})


class TelegramApiError(Exception):
    """An error response of the Bot API (raised inside handlers, rendered as JSON)."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad_request(reason: str) -> TelegramApiError:
    return TelegramApiError(400, f"Bad Request: {reason}")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (``InputFile`` / ``BufferedInputFile``)."""

    field_name: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Call:
    """One recorded Bot API request.

    ``ok`` is ``None`` while the request is still being served (a long poll), then
    ``True``/``False``; ``result`` holds the ``result`` JSON and ``error`` the error body.
    """

    method: str
    params: dict[str, Any]
    ok: bool | None = None
    result: Any = None
    error: JSON | None = None

    @property
    def chat_id(self) -> int | str | None:
        value = self.params.get("chat_id")
        return value if isinstance(value, int | str) else None


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent into (or edited in) a chat, in the order it happened."""

    method: str
    chat_id: int
    message_id: int
    text: str | None
    reply_markup: JSON | None
    message_thread_id: int | None
    parse_mode: str | None = None
    kind: str = "text"

    @property
    def buttons(self) -> list[list[JSON]]:
        """Rows of inline keyboard buttons (empty if none)."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard") or []
        return [list(row) for row in rows]

    @property
    def callback_data(self) -> list[str]:
        """All callback_data values of the inline keyboard, row by row."""
        return [b["callback_data"] for row in self.buttons for b in row if "callback_data" in b]


class Pushed(NamedTuple):
    """What a driving helper pushed: the update id and the message it concerns."""

    update_id: int
    message_id: int | None
    callback_query_id: str | None = None


@dataclass
class Topic:
    """Server-side state of a forum topic."""

    message_thread_id: int
    name: str
    icon_color: int = DEFAULT_TOPIC_ICON_COLOR
    icon_custom_emoji_id: str | None = None
    closed: bool = False
    deleted: bool = False


@dataclass
class _Fault:
    code: int
    description: str
    retry_after: int | None
    times: int
    chat_id: int | str | None


# --------------------------------------------------------------------------------------
# Markup parsing (HTML / MarkdownV2 / Markdown) -> (plain text, entities)
# --------------------------------------------------------------------------------------

_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_START_TAG = re.compile(r"([a-zA-Z][a-zA-Z0-9-]*)(\s[^>]*)?/?$", re.DOTALL)
_HTML_ATTR = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_HTML_CHAR_REF = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);")
_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _cant_parse(reason: str) -> TelegramApiError:
    return _bad_request(f"can't parse entities: {reason}")


class _EntityBuilder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.offset = 0
        self.entities: list[JSON] = []

    def add(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.offset += _utf16_len(chunk)

    def entity(self, etype: str, start: int, **extra: Any) -> None:
        if self.offset > start:
            self.entities.append({"type": etype, "offset": start, "length": self.offset - start})
            self.entities[-1].update({k: v for k, v in extra.items() if v is not None})

    def result(self) -> tuple[str, list[JSON]]:
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), self.entities


def parse_html(text: str) -> tuple[str, list[JSON]]:
    """Parse Telegram-flavoured HTML, raising 400 "can't parse entities" like Telegram."""
    out = _EntityBuilder()
    stack: list[tuple[str, int, dict[str, str]]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "&":
            ref = _HTML_CHAR_REF.match(text, i)
            if ref:
                out.add(html.unescape(ref.group(0)))
                i = ref.end()
            else:
                out.add(char)
                i += 1
            continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        close = text.find(">", i)
        if close == -1:
            raise _cant_parse(f"Unclosed start tag at byte offset {_byte_offset(text, i)}")
        inner = text[i + 1 : close]
        if inner.startswith("/"):
            name = inner[1:].strip().lower()
            if not stack or stack[-1][0] != name:
                raise _cant_parse(f"Unexpected end tag at byte offset {_byte_offset(text, i)}")
            tag, start, attrs = stack.pop()
            _close_html_tag(out, stack, tag, start, attrs)
        else:
            match = _HTML_START_TAG.match(inner)
            name = match.group(1).lower() if match else inner.split(" ", 1)[0]
            if not match or name not in _HTML_TAGS:
                raise _cant_parse(
                    f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}'
                )
            attrs = {
                m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
                for m in _HTML_ATTR.finditer(match.group(2) or "")
            }
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise _cant_parse('Tag "span" must have class "tg-spoiler"')
            if name == "tg-emoji" and "emoji-id" not in attrs:
                raise _cant_parse('Tag "tg-emoji" must have attribute "emoji-id"')
            stack.append((name, out.offset, attrs))
        i = close + 1
    if stack:
        raise _cant_parse(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _close_html_tag(
    out: _EntityBuilder,
    stack: list[tuple[str, int, dict[str, str]]],
    tag: str,
    start: int,
    attrs: dict[str, str],
) -> None:
    etype = _HTML_TAGS[tag]
    if tag == "a":
        href = attrs.get("href")
        if href and href.startswith("tg://user?id="):
            out.entity("text_mention", start, user={"id": int(href.split("=", 1)[1])})
        elif href:
            out.entity("text_link", start, url=href)
        return
    language = attrs.get("class", "")
    if tag == "code" and stack and stack[-1][0] == "pre" and language.startswith("language-"):
        stack[-1][2]["language"] = language.removeprefix("language-")
        return
    if tag == "pre":
        out.entity("pre", start, language=attrs.get("language"))
    elif tag == "blockquote":
        out.entity("expandable_blockquote" if "expandable" in attrs else "blockquote", start)
    elif tag == "tg-emoji":
        out.entity(etype, start, custom_emoji_id=attrs["emoji-id"])
    else:
        out.entity(etype, start)


_MDV2_NAMES = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
    "[": "TextUrl",
}
_MDV2_TYPES = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}


def parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    """Validate/parse MarkdownV2 the way Telegram does (reserved characters, closed entities)."""
    out = _EntityBuilder()
    stack: list[tuple[str, int, int]] = []  # marker, utf16 start, char index
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char == "\\":
            if i + 1 < n:
                out.add(text[i + 1])
            i += 2
            continue
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end == -1:
                raise _cant_parse(
                    f"Can't find end of PreCode entity at byte offset {_byte_offset(text, i)}"
                )
            body = text[i + 3 : end]
            language = None
            if "\n" in body:
                first, rest = body.split("\n", 1)
                if first and " " not in first:
                    language, body = first, rest
            start = out.offset
            out.add(body.replace("\\`", "`").replace("\\\\", "\\"))
            out.entity("pre", start, language=language)
            i = end + 3
            continue
        if char == "`":
            end = i + 1
            while end < n and text[end] != "`":
                end += 2 if text[end] == "\\" else 1
            if end >= n:
                raise _cant_parse(
                    f"Can't find end of Code entity at byte offset {_byte_offset(text, i)}"
                )
            start = out.offset
            out.add(re.sub(r"\\(.)", r"\1", text[i + 1 : end]))
            out.entity("code", start)
            i = end + 1
            continue
        marker = next((m for m in ("||", "__") if text.startswith(m, i)), None)
        if marker is None and char in "*_~":
            marker = char
        if marker is not None:
            open_markers = [entry[0] for entry in stack]
            if marker in open_markers:
                while stack:
                    top, start, _ = stack.pop()
                    if top == marker:
                        out.entity(_MDV2_TYPES[marker], start)
                        break
            else:
                stack.append((marker, out.offset, i))
            i += len(marker)
            continue
        if char == "[":
            stack.append(("[", out.offset, i))
            i += 1
            continue
        if char == "]" and stack and stack[-1][0] == "[":
            _, start, _ = stack.pop()
            if not text.startswith("(", i + 1):
                raise _cant_parse(
                    "Character ']' is reserved and must be escaped with the preceding '\\'"
                )
            end = text.find(")", i + 2)
            while end != -1 and text[end - 1] == "\\":
                end = text.find(")", end + 1)
            if end == -1:
                raise _cant_parse(
                    f"Can't find end of a URL at byte offset {_byte_offset(text, i)}"
                )
            url = re.sub(r"\\(.)", r"\1", text[i + 2 : end])
            if url.startswith("tg://user?id="):
                out.entity("text_mention", start, user={"id": int(url.split("=", 1)[1])})
            else:
                out.entity("text_link", start, url=url)
            i = end + 1
            continue
        if char == ">" and (i == 0 or text[i - 1] == "\n"):
            line_end = text.find("\n", i)
            line_end = n if line_end == -1 else line_end
            inner_text, inner_entities = parse_markdown_v2(text[i + 1 : line_end])
            start = out.offset
            for entity in inner_entities:
                out.entities.append({**entity, "offset": entity["offset"] + start})
            out.add(inner_text)
            out.entity("blockquote", start)
            i = line_end
            continue
        if char in _MDV2_RESERVED:
            raise _cant_parse(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        out.add(char)
        i += 1
    if stack:
        marker, _, index = stack[-1]
        raise _cant_parse(
            f"Can't find end of {_MDV2_NAMES[marker]} entity at byte offset "
            f"{_byte_offset(text, index)}"
        )
    return out.result()


def parse_markdown_legacy(text: str) -> tuple[str, list[JSON]]:
    """Legacy ``Markdown``: *bold*, _italic_, `code`, ```pre```, [text](url)."""
    out = _EntityBuilder()
    i = 0
    n = len(text)
    simple = {"*": "bold", "_": "italic", "`": "code"}
    while i < n:
        char = text[i]
        if text.startswith("```", i) or char in simple or char == "[":
            token = "```" if text.startswith("```", i) else char
            closing = "]" if token == "[" else token
            end = text.find(closing, i + len(token))
            if end == -1:
                raise _cant_parse(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            start = out.offset
            out.add(text[i + len(token) : end])
            i = end + len(closing)
            if token == "[":
                url_match = re.match(r"\(([^)]*)\)", text[i:])
                if url_match:
                    out.entity("text_link", start, url=url_match.group(1))
                    i += url_match.end()
            else:
                out.entity("pre" if token == "```" else simple[token], start)
            continue
        out.add(char)
        i += 1
    return out.result()


def _auto_entities(text: str) -> list[JSON]:
    """Entities Telegram detects without markup (bot commands and URLs, simplified)."""
    entities: list[JSON] = []
    for match in re.finditer(r"(?<![\w/])/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]+)?", text):
        offset = _utf16_len(text[: match.start()])
        entities.append(
            {"type": "bot_command", "offset": offset, "length": _utf16_len(match.group(0))}
        )
    for match in re.finditer(r"https?://[^\s]+", text):
        offset = _utf16_len(text[: match.start()])
        entities.append({"type": "url", "offset": offset, "length": _utf16_len(match.group(0))})
    entities.sort(key=lambda e: e["offset"])
    return entities


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------


class FakeTelegram:
    """An in-process fake of the Telegram Bot API, served by aiohttp on 127.0.0.1."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        bot_first_name: str = "Support Bot",
        bot_username: str = "test_support_bot",
        host: str = "127.0.0.1",
    ) -> None:
        bot_id, _, _ = token.partition(":")
        if not bot_id.isdigit():
            raise ValueError(f"token must look like '<digits>:<secret>', got {token!r}")
        self.token = token
        self.host = host
        self.bot_id = int(bot_id)
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.calls: list[Call] = []
        self.webhook_url = ""
        self.allowed_updates: list[str] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.pinned: dict[int, list[int]] = {}
        self.reactions: dict[tuple[int, int], list[JSON]] = {}

        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = False
        self._updates: list[JSON] = []
        self._next_update_id = 100_000_001
        self._poll_generation = 0
        self._update_signal = asyncio.Event()
        self._call_signal = asyncio.Event()
        self._mark = 0
        self._chats: dict[int, JSON] = {}
        self._users: dict[int, JSON] = {}
        self._members: dict[tuple[int, int], str] = {}
        self._blocked: set[int] = set()
        self._topics: dict[int, dict[int, Topic]] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._next_message_id: dict[int, int] = {}
        self._sent: list[SentMessage] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._open_callbacks: set[str] = set()
        self._next_callback_id = 4_000_000_000_000_000_001
        self._next_file_id = 1
        self._media_group_id = 13_000_000_000_000_001

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving on an ephemeral port of ``host``."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._closing = False

    async def stop(self) -> None:
        """Release pending long polls and stop the server."""
        self._closing = True
        self._fire_updates()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` -- pass to ``TelegramAPIServer.from_base``."""
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://{self.host}:{self._port}"

    @property
    def api_server(self) -> TelegramAPIServer:
        return TelegramAPIServer.from_base(self.base_url)

    def make_bot(self, *, parse_mode: str | None = None, **session_kwargs: Any) -> Bot:
        """A real aiogram ``Bot`` wired to this server (close ``bot.session`` when done)."""
        session = AiohttpSession(api=self.api_server, **session_kwargs)
        default = DefaultBotProperties(parse_mode=parse_mode)
        return Bot(self.token, session=session, default=default)

    # ------------------------------------------------------------------ setup helpers

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str = "Ivan",
        language_code: str | None = "ru",
        username: str | None = None,
        last_name: str | None = None,
        private_chat: bool = True,
    ) -> JSON:
        """Register (or update) a user; by default also opens their private chat with the bot."""
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        if private_chat:
            chat: JSON = {"id": user_id, "type": "private", "first_name": first_name}
            if last_name:
                chat["last_name"] = last_name
            if username:
                chat["username"] = username
            self._chats[user_id] = chat
        return user

    def add_chat(
        self,
        chat_id: int,
        type: str = "supergroup",
        *,
        is_forum: bool = True,
        title: str | None = None,
        username: str | None = None,
    ) -> JSON:
        """Register a group/supergroup/channel (or private) chat the bot is in."""
        chat: JSON = {"id": chat_id, "type": type}
        if type == "private":
            chat["first_name"] = title or "User"
        else:
            chat["title"] = title or f"Chat {chat_id}"
        if username:
            chat["username"] = username
        if type == "supergroup" and is_forum:
            chat["is_forum"] = True
        self._chats[chat_id] = chat
        self._topics.setdefault(chat_id, {})
        return chat

    def add_topic(self, chat_id: int, name: str, *, icon_color: int | None = None) -> int:
        """Create a forum topic as if an admin did it; returns its message_thread_id."""
        return self._create_topic(chat_id, name, icon_color, None).message_thread_id

    def chat(self, chat_id: int) -> JSON | None:
        """A chat as the server knows it (None for an unknown one)."""
        chat = self._chats.get(chat_id)
        return dict(chat) if chat is not None else None

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """Delete a forum topic and its messages as if an admin did it."""
        self._delete_forum_topic({"chat_id": chat_id, "message_thread_id": thread_id})

    def topics(self, chat_id: int) -> dict[int, Topic]:
        """Forum topics of a chat (including deleted ones, flagged ``deleted``)."""
        return dict(self._topics.get(chat_id, {}))

    def set_member(self, chat_id: int, user_id: int, status: str = "member") -> None:
        """Set a member's status for getChatMember/getChatAdministrators.

        status: "creator", "administrator", "member", "left" or "kicked".  Setting the bot
        itself to "left"/"kicked" makes sends into the chat fail with 403.
        """
        if status not in _MEMBER_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self._members[(chat_id, user_id)] = status
        if user_id not in self._users and user_id != self.bot_id:
            self.add_user(user_id, first_name=f"User{user_id}", private_chat=False)

    def block_user(self, chat_id: int) -> None:
        """Every call targeting ``chat_id`` fails with 403 "bot was blocked by the user"."""
        self._blocked.add(chat_id)

    def unblock_user(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def fail_next(
        self,
        method: str,
        code: int = 429,
        *,
        retry_after: int | None = 1,
        times: int = 1,
        description: str | None = None,
        chat_id: int | str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (``"*"`` matches any method).

        code 429 -> "Too Many Requests: retry after N" with parameters.retry_after;
        other codes use ``description`` (default: a Telegram-like text for the code).
        ``chat_id`` restricts the fault to calls targeting that chat.
        """
        if code == 429:
            after = 1 if retry_after is None else retry_after
            text = description or f"Too Many Requests: retry after {after}"
            fault = _Fault(code, text, after, times, chat_id)
        else:
            defaults = {
                400: "Bad Request",
                401: "Unauthorized",
                403: "Forbidden",
                404: "Not Found",
                409: "Conflict",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }
            text = description or defaults.get(code, "Error")
            fault = _Fault(code, text, None, times, chat_id)
        self._faults.setdefault(method.lower(), []).append(fault)

    def clear_faults(self) -> None:
        """Forget every fault set with ``fail_next`` that has not fired yet."""
        self._faults.clear()

    # ------------------------------------------------------------------ driving

    def push_update(self, update: JSON) -> int:
        """Queue a raw update (``update_id`` is assigned if missing); returns its update_id."""
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, int(update["update_id"])) + 1
        for key in ("message", "edited_message", "channel_post"):
            message = update.get(key)
            if isinstance(message, dict) and "chat" in message and "message_id" in message:
                chat_id = int(message["chat"]["id"])
                self._messages[(chat_id, int(message["message_id"]))] = message
                self._next_message_id[chat_id] = max(
                    self._next_message_id.get(chat_id, 1), int(message["message_id"]) + 1
                )
        self._updates.append(update)
        self._mark = len(self.calls)
        self._fire_updates()
        return int(update["update_id"])

    def user_message(
        self,
        user_id: int,
        text: str | None = None,
        *,
        first_name: str = "Ivan",
        language_code: str | None = "ru",
        username: str | None = None,
        photo: bool = False,
        caption: str | None = None,
        voice: bool = False,
        sticker: bool = False,
        document: bool = False,
        reply_to_message_id: int | None = None,
        media_group_id: str | None = None,
    ) -> Pushed:
        """A private message from a user to the bot (a part of an album with
        ``media_group_id``).

        With a media flag the message carries that media; ``caption`` (or, if not given,
        ``text``) becomes its caption.  Writing to the bot unblocks it, as in Telegram.
        """
        user = self.add_user(
            user_id, first_name=first_name, language_code=language_code, username=username
        )
        self._blocked.discard(user_id)
        message = self._new_message(user_id, user)
        is_media = photo or voice or sticker or document
        if is_media:
            caption_text = caption if caption is not None else text
            if photo:
                message["photo"] = self._photo_sizes(None)
            if voice:
                message["voice"] = self._voice(None, 3)
            if sticker:
                message["sticker"] = self._sticker(None)
            if document:
                message["document"] = self._document(None, "file.pdf", "application/pdf")
            if caption_text and not sticker:
                message["caption"] = caption_text
                if entities := _auto_entities(caption_text):
                    message["caption_entities"] = entities
        elif text is not None:
            message["text"] = text
            if entities := _auto_entities(text):
                message["entities"] = entities
        if reply_to_message_id is not None:
            self._attach_reply(message, user_id, reply_to_message_id)
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        update_id = self.push_update({"message": message})
        return Pushed(update_id, message["message_id"])

    def group_message(
        self,
        chat_id: int,
        from_user_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        is_forum: bool = True,
        first_name: str = "Olga",
        username: str | None = None,
        photo: bool = False,
        media_group_id: str | None = None,
    ) -> Pushed:
        """A message from a user in a group (e.g. an operator writing in a forum topic).

        With ``photo`` the text becomes the photo's caption; ``media_group_id`` makes the
        message a part of an album.

        Like Telegram, a topic message without an explicit reply carries
        ``reply_to_message`` = the topic's "forum_topic_created" service message.
        """
        if chat_id not in self._chats:
            self.add_chat(chat_id, "supergroup", is_forum=is_forum)
        if from_user_id not in self._users:
            self.add_user(
                from_user_id, first_name=first_name, username=username, private_chat=False
            )
        self._members.setdefault((chat_id, from_user_id), "member")
        user = self._users[from_user_id]
        chat = self._chats[chat_id]
        if reply_to_message_id is not None and thread_id is None and chat.get("is_forum"):
            target = self._messages.get((chat_id, reply_to_message_id))
            if target is not None:
                thread_id = target.get("message_thread_id")
        message = self._new_message(chat_id, user)
        if photo:
            message["photo"] = self._photo_sizes(None)
            if text:
                message["caption"] = text
        else:
            message["text"] = text
            if entities := _auto_entities(text):
                message["entities"] = entities
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        if thread_id is not None and chat.get("is_forum"):
            topic = self._topics.get(chat_id, {}).get(thread_id)
            if topic is None or topic.deleted:
                raise ValueError(f"no topic {thread_id} in chat {chat_id}; use add_topic()")
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            if reply_to_message_id is None:
                self._attach_reply(message, chat_id, thread_id)
        if reply_to_message_id is not None:
            self._attach_reply(message, chat_id, reply_to_message_id)
        update_id = self.push_update({"message": message})
        return Pushed(update_id, message["message_id"])

    def edit(self, chat_id: int, message_id: int, text: str) -> Pushed:
        """The sender edits the text of their message: an ``edited_message`` update."""
        original = self._messages.get((chat_id, message_id))
        if original is None or "from" not in original:
            raise ValueError(f"no message {message_id} in chat {chat_id} to edit")
        edited = {k: v for k, v in original.items() if k not in {"text", "entities"}}
        edited["text"] = text
        edited["edit_date"] = int(time.time())
        if entities := _auto_entities(text):
            edited["entities"] = entities
        update_id = self.push_update({"edited_message": edited})
        return Pushed(update_id, message_id)

    def callback(
        self,
        user_id: int,
        data: str,
        message_id: int,
        chat_id: int | None = None,
    ) -> Pushed:
        """A user presses an inline button with ``data`` on bot message ``message_id``.

        ``chat_id`` defaults to the user's private chat.  A deleted/unknown message yields an
        InaccessibleMessage (date 0), as Telegram does.
        """
        if user_id not in self._users:
            self.add_user(user_id, private_chat=chat_id is None)
        target_chat = user_id if chat_id is None else chat_id
        message = self._messages.get((target_chat, message_id))
        if message is None:
            chat = self._chats.get(target_chat) or {"id": target_chat, "type": "private"}
            message = {"message_id": message_id, "date": 0, "chat": self._short_chat(chat)}
        query_id = str(self._next_callback_id)
        self._next_callback_id += 1
        self._open_callbacks.add(query_id)
        query: JSON = {
            "id": query_id,
            "from": self._users[user_id],
            "message": message,
            "chat_instance": str(abs(hash((target_chat, self.bot_id))) % 10**18),
            "data": data,
        }
        update_id = self.push_update({"callback_query": query})
        return Pushed(update_id, message_id, query_id)

    # ------------------------------------------------------------------ observing

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of ``method`` (case-insensitive), oldest first."""
        wanted = method.lower()
        return [c for c in self.calls if c.method.lower() == wanted]

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        """What the bot successfully sent/copied/forwarded/edited into ``chat_id``, in order."""
        return [m for m in self._sent if m.chat_id == chat_id]

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        """Current server-side state of a message (edits applied; ``None`` once deleted)."""
        return self._messages.get((chat_id, message_id))

    def mark(self) -> int:
        """Make later ``wait_for`` calls ignore everything recorded so far; returns the index."""
        self._mark = len(self.calls)
        return self._mark

    async def wait_for(
        self,
        match: Matcher,
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test-helper API
        *,
        since: int | None = None,
        **params: Any,
    ) -> Call:
        """Wait until a call matching ``match`` (a method name or a predicate) is recorded.

        Only calls from index ``since`` on are considered (default: the last push/mark).
        Extra keyword arguments must equal the decoded params (``chat_id=42``).  Raises
        ``AssertionError`` listing the calls seen when the timeout expires.
        """
        calls = await self.wait_for_all(match, 1, timeout, since=since, **params)
        return calls[0]

    async def wait_for_all(
        self,
        match: Matcher,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test-helper API
        *,
        since: int | None = None,
        **params: Any,
    ) -> list[Call]:
        """Like :meth:`wait_for` but waits for ``count`` matching calls and returns them."""
        start = self._mark if since is None else since
        predicate = self._predicate(match, params)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [c for c in self.calls[start:] if predicate(c)]
            if len(found) >= count:
                return found[:count]
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = ", ".join(
                    f"{c.method}({c.params.get('chat_id', '')})"
                    for c in self.calls[start:]
                    if c.method != "getUpdates"
                )
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {count} call(s) matching "
                    f"{match!r} {params or ''}; got {len(found)}; calls since #{start}: "
                    f"[{seen}]"
                )
            signal = self._call_signal
            try:
                await asyncio.wait_for(signal.wait(), remaining)
            except TimeoutError:
                continue

    @staticmethod
    def _predicate(match: Matcher, params: dict[str, Any]) -> Callable[[Call], bool]:
        def predicate(call: Call) -> bool:
            if isinstance(match, str):
                if call.method.lower() != match.lower():
                    return False
            elif not match(call):
                return False
            return all(call.params.get(k) == v for k, v in params.items())

        return predicate

    # ------------------------------------------------------------------ HTTP plumbing

    def _fire_updates(self) -> None:
        signal, self._update_signal = self._update_signal, asyncio.Event()
        signal.set()

    def _fire_calls(self) -> None:
        signal, self._call_signal = self._call_signal, asyncio.Event()
        signal.set()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._read_params(request)
        call = Call(method=method, params=params)
        self.calls.append(call)
        if request.match_info["token"] != self.token:
            error = TelegramApiError(401, "Unauthorized")
            return self._finish(call, error=error)
        if method.lower() == "getupdates":
            # Visible to waiters while the long poll is pending.
            self._fire_calls()
        try:
            await self._weather(request, call)
            self._apply_faults(method, params)
            self._check_blocked(method, params)
            handler = self._handlers().get(method.lower())
            if method.lower() == "getupdates":
                result: Any = await self._get_updates(params)
            elif handler is not None:
                result = handler(params)
            else:
                result = True
        except TelegramApiError as error:
            return self._finish(call, error=error)
        return self._finish(call, result=result)

    def _finish(
        self, call: Call, *, result: Any = None, error: TelegramApiError | None = None
    ) -> web.Response:
        if error is not None:
            call.ok = False
            call.error = error.payload()
            body, status = call.error, error.code
        else:
            call.ok = True
            call.result = result
            body, status = {"ok": True, "result": result}, 200
        self._fire_calls()
        return web.json_response(body, status=status)

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
            return params
        files: dict[str, UploadedFile] = {}
        raw: dict[str, str] = dict(request.query)
        if request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = UploadedFile(
                        field_name=key,
                        filename=value.filename,
                        content_type=value.content_type,
                        data=value.file.read(),
                    )
                elif isinstance(value, str):
                    raw[key] = value
                else:
                    raw[key] = bytes(value).decode()
        for key, value in raw.items():
            params[key] = _resolve_attachments(_decode_value(key, value), files)
        for key, upload in files.items():
            if key not in params and not any(_references(v, key) for v in params.values()):
                params[key] = upload
        return params

    def _apply_faults(self, method: str, params: JSON) -> None:
        for key in (method.lower(), "*"):
            queue = self._faults.get(key)
            if not queue:
                continue
            for fault in queue:
                if fault.chat_id is not None and params.get("chat_id") != fault.chat_id:
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    queue.remove(fault)
                raise TelegramApiError(fault.code, fault.description, fault.retry_after)

    def _check_blocked(self, method: str, params: JSON) -> None:
        if method.lower() not in _SEND_METHODS:
            return
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            return
        if chat_id in self._blocked:
            raise TelegramApiError(403, "Forbidden: bot was blocked by the user")
        chat = self._chats.get(chat_id)
        status = self._members.get((chat_id, self.bot_id))
        if chat is not None and chat["type"] != "private" and status in {"left", "kicked"}:
            kind = chat["type"]
            if status == "kicked":
                raise TelegramApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
            raise TelegramApiError(403, f"Forbidden: bot is not a member of the {kind} chat")

    def _handlers(self) -> dict[str, Callable[[JSON], Any]]:
        return {
            "getme": lambda _: self.bot_user,
            "logout": lambda _: True,
            "close": lambda _: True,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "editmessagecaption": self._edit_message_caption,
            "deletemessage": self._delete_message,
            "deletemessages": self._delete_messages,
            "answercallbackquery": self._answer_callback_query,
            "setmycommands": self._set_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getmycommands": self._get_my_commands,
            "sendchataction": self._send_chat_action,
            "copymessage": self._copy_message,
            "copymessages": self._copy_messages,
            "forwardmessage": self._forward_message,
            "sendphoto": lambda p: self._send_media(p, "photo"),
            "senddocument": lambda p: self._send_media(p, "document"),
            "sendvoice": lambda p: self._send_media(p, "voice"),
            "sendsticker": lambda p: self._send_media(p, "sticker"),
            "sendmediagroup": self._send_media_group,
            "createforumtopic": self._create_forum_topic,
            "editforumtopic": self._edit_forum_topic,
            "closeforumtopic": lambda p: self._set_topic_closed(p, closed=True),
            "reopenforumtopic": lambda p: self._set_topic_closed(p, closed=False),
            "deleteforumtopic": self._delete_forum_topic,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "getchatadministrators": self._get_chat_administrators,
            "pinchatmessage": self._pin_chat_message,
            "setmessagereaction": self._set_message_reaction,
        }

    # ------------------------------------------------------------------ updates / webhook

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self.webhook_url:
            raise TelegramApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._fire_updates()  # a concurrent older poll ends with 409
        if isinstance(params.get("allowed_updates"), list):
            self.allowed_updates = [str(t) for t in params["allowed_updates"]]
        offset = params.get("offset")
        if isinstance(offset, int) and offset < 0:
            self._updates = self._updates[offset:]
        elif isinstance(offset, int) and offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        limit = params.get("limit")
        limit = min(max(limit, 1), 100) if isinstance(limit, int) else 100
        poll_timeout = params.get("timeout")
        poll_timeout = poll_timeout if isinstance(poll_timeout, int | float) else 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, float(poll_timeout))
        while True:
            if generation != self._poll_generation:
                raise TelegramApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            self._drop_unwanted_updates()
            if self._updates or self._closing:
                return self._updates[:limit]
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            signal = self._update_signal
            try:
                await asyncio.wait_for(signal.wait(), remaining)
            except TimeoutError:
                continue

    def _drop_unwanted_updates(self) -> None:
        allowed = set(self.allowed_updates)

        def wanted(update: JSON) -> bool:
            kinds = [k for k in update if k != "update_id"]
            kind = kinds[0] if kinds else ""
            return kind in allowed if allowed else kind not in _NOT_DEFAULT_UPDATES

        self._updates = [u for u in self._updates if wanted(u)]

    def _set_webhook(self, params: JSON) -> bool:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url = url
        if isinstance(params.get("allowed_updates"), list):
            self.allowed_updates = [str(t) for t in params["allowed_updates"]]
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _delete_webhook(self, params: JSON) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, _: JSON) -> JSON:
        info: JSON = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.allowed_updates:
            info["allowed_updates"] = list(self.allowed_updates)
        return info

    # ------------------------------------------------------------------ chats / messages

    @staticmethod
    def _short_chat(chat: JSON) -> JSON:
        keys = ("id", "type", "title", "username", "first_name", "last_name", "is_forum")
        return {k: chat[k] for k in keys if k in chat}

    def _chat(self, params: JSON, key: str = "chat_id") -> JSON:
        chat_id = params.get(key)
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self._chats.values():
                if chat.get("username", "").lower() == chat_id[1:].lower():
                    return chat
            raise _bad_request("chat not found")
        if not isinstance(chat_id, int):
            raise _bad_request(f"{key} is empty" if chat_id is None else "chat not found")
        found = self._chats.get(chat_id)
        if found is None:
            raise _bad_request("chat not found")
        return found

    def _alloc_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _new_message(self, chat_id: int, sender: JSON) -> JSON:
        return {
            "message_id": self._alloc_message_id(chat_id),
            "from": sender,
            "chat": self._short_chat(self._chats[chat_id]),
            "date": int(time.time()),
        }

    def _attach_reply(self, message: JSON, chat_id: int, reply_to: int) -> None:
        target = self._messages.get((chat_id, reply_to))
        if target is not None:
            message["reply_to_message"] = {
                k: v for k, v in target.items() if k != "reply_to_message"
            }

    def _thread_for(self, chat: JSON, params: JSON) -> int | None:
        """Validate message_thread_id; infer it from the replied-to message in forums."""
        thread_id = params.get("message_thread_id")
        if not chat.get("is_forum"):
            return None
        if thread_id is None:
            reply_to = self._reply_target(params)
            if reply_to is not None:
                target = self._messages.get((chat["id"], reply_to))
                if target is not None:
                    found = target.get("message_thread_id")
                    return int(found) if isinstance(found, int) else None
            return None
        if not isinstance(thread_id, int):
            raise _bad_request("message thread not found")
        topic = self._topics.get(chat["id"], {}).get(thread_id)
        if topic is None or topic.deleted:
            raise _bad_request("message thread not found")
        return thread_id

    @staticmethod
    def _reply_target(params: JSON) -> int | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict) and isinstance(reply.get("message_id"), int):
            return int(reply["message_id"])
        legacy = params.get("reply_to_message_id")
        return legacy if isinstance(legacy, int) else None

    def _bot_message(self, params: JSON, chat: JSON) -> JSON:
        """A new bot message in ``chat`` honouring thread, reply and reply_markup params."""
        thread_id = self._thread_for(chat, params)
        markup = self._validated_markup(params.get("reply_markup"))
        reply_to = self._reply_target(params)
        allow_missing = bool(
            params.get("allow_sending_without_reply")
            or (
                isinstance(params.get("reply_parameters"), dict)
                and params["reply_parameters"].get("allow_sending_without_reply")
            )
        )
        if (
            reply_to is not None
            and (chat["id"], reply_to) not in self._messages
            and not allow_missing
        ):
            raise _bad_request("message to be replied not found")
        message = self._new_message(chat["id"], self.bot_user)
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            if reply_to is None:
                self._attach_reply(message, chat["id"], thread_id)
        if reply_to is not None:
            self._attach_reply(message, chat["id"], reply_to)
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    def _store(self, method: str, message: JSON, params: JSON, kind: str) -> None:
        chat_id = int(message["chat"]["id"])
        self._messages[(chat_id, int(message["message_id"]))] = message
        markup = params.get("reply_markup")
        thread = message.get("message_thread_id")
        self._sent.append(
            SentMessage(
                method=method,
                chat_id=chat_id,
                message_id=int(message["message_id"]),
                text=message.get("text", message.get("caption")),
                reply_markup=markup if isinstance(markup, dict) else None,
                message_thread_id=thread if isinstance(thread, int) else None,
                parse_mode=params.get("parse_mode"),
                kind=kind,
            )
        )

    def _validated_markup(self, markup: Any) -> JSON | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad_request(
                        "can't parse inline keyboard button: Text buttons "
                        "are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and (
                    not isinstance(data, str)
                    or not data
                    or len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES
                ):
                    raise _bad_request("BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not re.match(r"^(https?|tg)://\S+$", str(url)):
                    raise _bad_request("BUTTON_URL_INVALID")
        return markup

    @staticmethod
    def _formatted(
        text: Any, parse_mode: Any, entities: Any, *, limit: int, caption: bool = False
    ) -> tuple[str, list[JSON]]:
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        mode = str(parse_mode).lower() if parse_mode else ""
        if mode == "html":
            plain, found = parse_html(text)
        elif mode == "markdownv2":
            plain, found = parse_markdown_v2(text)
        elif mode == "markdown":
            plain, found = parse_markdown_legacy(text)
        elif mode:
            raise _bad_request(f"unsupported parse_mode {parse_mode}")
        else:
            plain = text
            found = list(entities) if isinstance(entities, list) else _auto_entities(text)
        if not plain.strip() and not caption:
            raise _bad_request("message text is empty")
        if len(plain) > limit:
            raise _bad_request("message caption is too long" if caption else "message is too long")
        return plain, found

    def _send_message(self, params: JSON) -> JSON:
        chat = self._chat(params)
        text, entities = self._formatted(
            params.get("text"),
            params.get("parse_mode"),
            params.get("entities"),
            limit=MAX_TEXT_LENGTH,
        )
        message = self._bot_message(params, chat)
        message["text"] = text
        if entities:
            message["entities"] = entities
        self._store("sendMessage", message, params, "text")
        return message

    def _editable(self, params: JSON) -> tuple[JSON, JSON]:
        if params.get("inline_message_id"):
            raise _bad_request("inline messages are not supported by FakeTelegram")
        chat = self._chat(params)
        message_id = params.get("message_id")
        message = (
            self._messages.get((chat["id"], message_id)) if isinstance(message_id, int) else None
        )
        if message is None:
            raise _bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise _bad_request("message can't be edited")
        return chat, message

    def _finish_edit(self, method: str, old: JSON, new: JSON, params: JSON) -> JSON:
        if {k: v for k, v in old.items() if k != "edit_date"} == {
            k: v for k, v in new.items() if k != "edit_date"
        }:
            raise _bad_request(
                "message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message"
            )
        new["edit_date"] = int(time.time())
        kind = "text" if "text" in new else _media_kind(new)
        self._store(method, new, params, kind)
        return new

    def _apply_markup(self, message: JSON, params: JSON) -> None:
        markup = self._validated_markup(params.get("reply_markup"))
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)

    def _edit_message_text(self, params: JSON) -> JSON:
        _, old = self._editable(params)
        if "text" not in old:
            raise _bad_request("there is no text in the message to edit")
        text, entities = self._formatted(
            params.get("text"),
            params.get("parse_mode"),
            params.get("entities"),
            limit=MAX_TEXT_LENGTH,
        )
        new = dict(old)
        new["text"] = text
        new.pop("entities", None)
        if entities:
            new["entities"] = entities
        self._apply_markup(new, params)
        return self._finish_edit("editMessageText", old, new, params)

    def _edit_message_caption(self, params: JSON) -> JSON:
        _, old = self._editable(params)
        caption, entities = self._formatted(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            limit=MAX_CAPTION_LENGTH,
            caption=True,
        )
        new = dict(old)
        new.pop("caption", None)
        new.pop("caption_entities", None)
        if caption:
            new["caption"] = caption
        if entities:
            new["caption_entities"] = entities
        self._apply_markup(new, params)
        return self._finish_edit("editMessageCaption", old, new, params)

    def _edit_message_reply_markup(self, params: JSON) -> JSON:
        _, old = self._editable(params)
        new = dict(old)
        self._apply_markup(new, params)
        return self._finish_edit("editMessageReplyMarkup", old, new, params)

    def _delete_message(self, params: JSON) -> bool:
        chat = self._chat(params)
        message_id = params.get("message_id")
        if (
            not isinstance(message_id, int)
            or self._messages.pop((chat["id"], message_id), None) is None
        ):
            raise _bad_request("message to delete not found")
        return True

    def _delete_messages(self, params: JSON) -> bool:
        chat = self._chat(params)
        ids = params.get("message_ids")
        for message_id in ids if isinstance(ids, list) else []:
            self._messages.pop((chat["id"], message_id), None)
        return True

    def _answer_callback_query(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_callbacks:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self._open_callbacks.discard(query_id)
        return True

    # ------------------------------------------------------------------ commands

    @staticmethod
    def _commands_key(params: JSON) -> tuple[str, str]:
        scope = params.get("scope")
        scope = scope if isinstance(scope, dict) else {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        for command in commands:
            if not isinstance(command, dict) or not re.fullmatch(
                r"[a-z0-9_]{1,32}", str(command.get("command", ""))
            ):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    def _delete_my_commands(self, params: JSON) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _get_my_commands(self, params: JSON) -> list[JSON]:
        return list(self.commands.get(self._commands_key(params), []))

    def _send_chat_action(self, params: JSON) -> bool:
        chat = self._chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        self._thread_for(chat, params)
        return True

    # ------------------------------------------------------------------ copy / forward / media

    def _source_message(self, params: JSON, missing: str) -> JSON:
        from_chat = self._chat(params, "from_chat_id")
        message_id = params.get("message_id")
        message = (
            self._messages.get((from_chat["id"], message_id))
            if isinstance(message_id, int)
            else None
        )
        if message is None:
            raise _bad_request(missing)
        return message

    @staticmethod
    def _content_of(message: JSON) -> JSON:
        keys = (
            "text",
            "entities",
            "caption",
            "caption_entities",
            "photo",
            "document",
            "voice",
            "sticker",
            "video",
            "audio",
            "animation",
            "video_note",
            "contact",
            "location",
        )
        return {k: message[k] for k in keys if k in message}

    def _copy_into(self, params: JSON, source: JSON, method: str) -> JSON:
        chat = self._chat(params)
        message = self._bot_message(params, chat)
        message.update(self._content_of(source))
        if "caption" in params and "text" not in source:
            caption, entities = self._formatted(
                params.get("caption"),
                params.get("parse_mode"),
                params.get("caption_entities"),
                limit=MAX_CAPTION_LENGTH,
                caption=True,
            )
            message.pop("caption_entities", None)
            message["caption"] = caption
            if entities:
                message["caption_entities"] = entities
        self._store(method, message, params, _media_kind(message))
        return message

    def _copy_message(self, params: JSON) -> JSON:
        source = self._source_message(params, "message to copy not found")
        if "poll" in source or "invoice" in source:
            raise _bad_request("message can't be copied")
        message = self._copy_into(params, source, "copyMessage")
        return {"message_id": message["message_id"]}

    def _copy_messages(self, params: JSON) -> list[JSON]:
        from_chat = self._chat(params, "from_chat_id")
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not ids:
            raise _bad_request("message identifiers are not specified")
        if ids != sorted(ids):
            raise _bad_request("message identifiers must be in a strictly increasing order")
        result = []
        for message_id in ids:
            source = self._messages.get((from_chat["id"], message_id))
            if source is None:
                continue
            single = {k: v for k, v in params.items() if k != "message_ids"}
            message = self._copy_into(single, source, "copyMessages")
            if "media_group_id" in source:  # copyMessages keeps an album together
                message["media_group_id"] = f"{source['media_group_id']}@{message['chat']['id']}"
            result.append({"message_id": message["message_id"]})
        if not result:
            raise _bad_request("message to copy not found")
        return result

    def _forward_message(self, params: JSON) -> JSON:
        source = self._source_message(params, "message to forward not found")
        chat = self._chat(params)
        message = self._bot_message({**params, "reply_markup": None}, chat)
        message.update(self._content_of(source))
        sender = source.get("from")
        if isinstance(sender, dict):
            message["forward_origin"] = {
                "type": "user",
                "date": source.get("date", 0),
                "sender_user": sender,
            }
        message["forward_date"] = source.get("date", 0)
        self._store("forwardMessage", message, params, _media_kind(message))
        return message

    def _file_id(self, kind: str) -> tuple[str, str]:
        n = self._next_file_id
        self._next_file_id += 1
        return f"FAKE-{kind.upper()}-{n:06d}", f"U{kind[:2].upper()}{n:06d}"

    def _photo_sizes(self, value: Any) -> list[JSON]:
        file_id, unique = self._file_id("photo")
        if isinstance(value, str) and not value.startswith(("http://", "https://")):
            file_id = value
        return [
            {
                "file_id": f"{file_id}-s",
                "file_unique_id": f"{unique}s",
                "width": 90,
                "height": 90,
                "file_size": 1200,
            },
            {
                "file_id": file_id,
                "file_unique_id": unique,
                "width": 800,
                "height": 800,
                "file_size": 54000,
            },
        ]

    def _document(self, value: Any, filename: str | None, mime: str | None) -> JSON:
        file_id, unique = self._file_id("document")
        if isinstance(value, str) and not value.startswith(("http://", "https://")):
            file_id = value
        doc: JSON = {"file_id": file_id, "file_unique_id": unique}
        if isinstance(value, UploadedFile):
            doc["file_name"] = value.filename or value.field_name
            doc["mime_type"] = value.content_type or "application/octet-stream"
            doc["file_size"] = len(value.data)
        else:
            if filename:
                doc["file_name"] = filename
            if mime:
                doc["mime_type"] = mime
        return doc

    def _voice(self, value: Any, duration: Any) -> JSON:
        file_id, unique = self._file_id("voice")
        if isinstance(value, str) and not value.startswith(("http://", "https://")):
            file_id = value
        seconds = duration if isinstance(duration, int) else 1
        return {
            "file_id": file_id,
            "file_unique_id": unique,
            "duration": seconds,
            "mime_type": "audio/ogg",
        }

    def _sticker(self, value: Any) -> JSON:
        file_id, unique = self._file_id("sticker")
        if isinstance(value, str) and not value.startswith(("http://", "https://")):
            file_id = value
        return {
            "file_id": file_id,
            "file_unique_id": unique,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "\U0001f44d",
        }

    def _media_payload(self, kind: str, value: Any, params: JSON) -> Any:
        if value is None or value == "":
            raise _bad_request(f"there is no {kind} in the request")
        if kind == "photo":
            return self._photo_sizes(value)
        if kind == "document":
            return self._document(value, "file", None)
        if kind == "voice":
            return self._voice(value, params.get("duration"))
        if kind == "sticker":
            return self._sticker(value)
        file_id, unique = self._file_id(kind)
        return {"file_id": file_id, "file_unique_id": unique}

    def _send_media(self, params: JSON, kind: str) -> JSON:
        chat = self._chat(params)
        payload = self._media_payload(kind, params.get(kind), params)
        caption: str = ""
        entities: list[JSON] = []
        if kind != "sticker":
            caption, entities = self._formatted(
                params.get("caption"),
                params.get("parse_mode"),
                params.get("caption_entities"),
                limit=MAX_CAPTION_LENGTH,
                caption=True,
            )
        message = self._bot_message(params, chat)
        message[kind] = payload
        if caption:
            message["caption"] = caption
        if entities:
            message["caption_entities"] = entities
        method = "send" + kind.capitalize()
        self._store(method, message, params, kind)
        return message

    def _send_media_group(self, params: JSON) -> list[JSON]:
        chat = self._chat(params)
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise _bad_request("wrong number of media in the media group: must be 2-10")
        self._thread_for(chat, params)
        group_id = str(self._media_group_id)
        self._media_group_id += 1
        messages = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in {
                "photo",
                "video",
                "document",
                "audio",
            }:
                raise _bad_request("wrong type of the media in the media group")
            kind = str(item["type"])
            caption, entities = self._formatted(
                item.get("caption"),
                item.get("parse_mode"),
                item.get("caption_entities"),
                limit=MAX_CAPTION_LENGTH,
                caption=True,
            )
            message = self._bot_message({**params, "reply_markup": None}, chat)
            message[kind] = self._media_payload(kind, item.get("media"), item)
            message["media_group_id"] = group_id
            if caption:
                message["caption"] = caption
            if entities:
                message["caption_entities"] = entities
            self._store("sendMediaGroup", message, params, kind)
            messages.append(message)
        return messages

    # ------------------------------------------------------------------ forum topics

    def _create_topic(
        self, chat_id: int, name: str, icon_color: int | None, emoji_id: str | None
    ) -> Topic:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise _bad_request("chat not found")
        if not chat.get("is_forum"):
            raise _bad_request("the chat is not a forum")
        if not name or len(name) > 128:
            raise _bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
        # Like Telegram, the thread id is the id of the "forum_topic_created" service message.
        service = self._new_message(chat_id, self.bot_user)
        thread_id = int(service["message_id"])
        topic = Topic(thread_id, name, icon_color or DEFAULT_TOPIC_ICON_COLOR, emoji_id)
        created: JSON = {"name": name, "icon_color": topic.icon_color}
        if emoji_id:
            created["icon_custom_emoji_id"] = emoji_id
        service.update(
            {
                "message_thread_id": thread_id,
                "is_topic_message": True,
                "forum_topic_created": created,
            }
        )
        self._messages[(chat_id, thread_id)] = service
        self._topics.setdefault(chat_id, {})[thread_id] = topic
        return topic

    def _create_forum_topic(self, params: JSON) -> JSON:
        chat = self._chat(params)
        color = params.get("icon_color")
        emoji = params.get("icon_custom_emoji_id")
        topic = self._create_topic(
            chat["id"],
            str(params.get("name") or ""),
            color if isinstance(color, int) else None,
            emoji if isinstance(emoji, str) else None,
        )
        result: JSON = {
            "message_thread_id": topic.message_thread_id,
            "name": topic.name,
            "icon_color": topic.icon_color,
        }
        if topic.icon_custom_emoji_id:
            result["icon_custom_emoji_id"] = topic.icon_custom_emoji_id
        return result

    def _topic(self, params: JSON) -> Topic:
        chat = self._chat(params)
        if not chat.get("is_forum"):
            raise _bad_request("the chat is not a forum")
        thread_id = params.get("message_thread_id")
        topic = (
            self._topics.get(chat["id"], {}).get(thread_id) if isinstance(thread_id, int) else None
        )
        if topic is None or topic.deleted:
            raise _bad_request("TOPIC_ID_INVALID")
        return topic

    def _edit_forum_topic(self, params: JSON) -> bool:
        topic = self._topic(params)
        name = params.get("name")
        emoji = params.get("icon_custom_emoji_id")
        changed = False
        if isinstance(name, str) and name and name != topic.name:
            if len(name) > 128:
                raise _bad_request("TOPIC_TITLE_TOO_LONG")
            topic.name, changed = name, True
        if isinstance(emoji, str) and emoji != (topic.icon_custom_emoji_id or ""):
            topic.icon_custom_emoji_id, changed = emoji or None, True
        if not changed:
            raise _bad_request("TOPIC_NOT_MODIFIED")
        return True

    def _set_topic_closed(self, params: JSON, *, closed: bool) -> bool:
        topic = self._topic(params)
        if topic.closed == closed:
            raise _bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = closed
        return True

    def _delete_forum_topic(self, params: JSON) -> bool:
        topic = self._topic(params)
        topic.deleted = True
        chat_id = int(params["chat_id"])
        for key in [
            k
            for k, m in self._messages.items()
            if k[0] == chat_id and m.get("message_thread_id") == topic.message_thread_id
        ]:
            del self._messages[key]
        return True

    # ------------------------------------------------------------------ chat info

    def _get_chat(self, params: JSON) -> JSON:
        chat = self._chat(params)
        info = dict(chat)
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return info

    def _status_of(self, chat: JSON, user_id: int) -> str:
        status = self._members.get((chat["id"], user_id))
        if status is not None:
            return status
        if user_id == self.bot_id:
            return "member" if chat["type"] == "private" else "administrator"
        if chat["type"] == "private" and chat["id"] == user_id:
            return "member"
        return "left"

    def _member(self, chat: JSON, user_id: int) -> JSON:
        user: JSON | None = None
        if user_id == self.bot_id:
            user = {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        else:
            user = self._users.get(user_id)
        if user is None:
            raise _bad_request("user not found")
        status = self._status_of(chat, user_id)
        member: JSON = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": False,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": False,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                    "can_send_welcome_messages": False,
                    "can_pin_messages": True,
                    "can_manage_topics": True,
                }
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    def _get_chat_member(self, params: JSON) -> JSON:
        chat = self._chat(params)
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise _bad_request("invalid user_id specified")
        return self._member(chat, user_id)

    def _get_chat_administrators(self, params: JSON) -> list[JSON]:
        chat = self._chat(params)
        if chat["type"] == "private":
            raise _bad_request("there are no administrators in the private chat")
        user_ids = [self.bot_id] + [u for (c, u) in self._members if c == chat["id"]]
        admins = []
        for user_id in dict.fromkeys(user_ids):
            if self._status_of(chat, user_id) in {"creator", "administrator"}:
                admins.append(self._member(chat, user_id))
        return admins

    def _pin_chat_message(self, params: JSON) -> bool:
        chat = self._chat(params)
        message_id = params.get("message_id")
        if (chat["id"], message_id) not in self._messages or not isinstance(message_id, int):
            raise _bad_request("message to pin not found")
        self.pinned.setdefault(chat["id"], []).append(message_id)
        return True

    def _set_message_reaction(self, params: JSON) -> bool:
        chat = self._chat(params)
        message_id = params.get("message_id")
        if (chat["id"], message_id) not in self._messages or not isinstance(message_id, int):
            raise _bad_request("message to react not found")
        reaction = params.get("reaction")
        if reaction is not None and not isinstance(reaction, list):
            raise _bad_request("can't parse reaction types JSON object")
        self.reactions[(chat["id"], message_id)] = list(reaction or [])
        return True

    # ------------------------------------------------------------------ fault storms

    @property
    def storms(self) -> list[Storm]:
        """Every storm set with ``storm``/``hang``/``drop_connections``, oldest first."""
        found: list[Storm] | None = self.__dict__.get("_storm_list")
        if found is None:
            found = self.__dict__["_storm_list"] = []
        return found

    def storm(
        self,
        methods: str | Iterable[str] | None = None,
        *,
        seconds: float,
        code: int | None = 502,
        retry_after: int | None = None,
        description: str | None = None,
        delay_s: float = 0.0,
        reset: bool = False,
        chat_id: int | str | None = None,
    ) -> Storm:
        """For the next ``seconds``, every call of ``methods`` fails (an outage, not a count).

        ``methods``: names (case-insensitive), ``"*"`` for every method; by default (None)
        :data:`SEND_METHODS`, every call that sends, copies, edits or answers.  ``code`` 429
        answers "Too Many Requests" with ``retry_after`` (default 1) like Telegram's flood
        control; other codes a Telegram-like description; ``code=None`` serves the call
        normally after ``delay_s`` (a slow Bot API).  ``delay_s`` holds each call that long
        first (``hang``); ``reset`` closes the connection without any answer (the client sees
        a network error).  ``chat_id`` limits the storm to calls targeting that chat.
        Returns the :class:`Storm`, whose ``hits`` counts the calls it caught.
        """
        if methods is None:
            methods = SEND_METHODS
        names = {methods} if isinstance(methods, str) else set(methods)
        if code == 429 and retry_after is None:
            retry_after = 1
        if description is None and code is not None:
            description = _STORM_TEXTS.get(code, "Error")
            if code == 429:
                description = f"{description}: retry after {retry_after}"
        storm = Storm(
            methods=frozenset(n.lower() for n in names),
            until=time.monotonic() + seconds,
            code=code,
            description=description or "",
            retry_after=retry_after if code == 429 else None,
            delay_s=delay_s,
            reset=reset,
            chat_id=chat_id,
        )
        self.storms.append(storm)
        return storm

    def hang(
        self,
        methods: str | Iterable[str] | None = None,
        *,
        seconds: float,
        delay_s: float | None = None,
    ) -> Storm:
        """For ``seconds``, each call of ``methods`` waits ``delay_s`` (default: until the
        window ends) before it is served; a client with a shorter timeout gives up first."""
        wait = seconds if delay_s is None else delay_s
        return self.storm(methods, seconds=seconds, code=None, delay_s=wait)

    def drop_connections(
        self, methods: str | Iterable[str] | None = None, *, seconds: float
    ) -> Storm:
        """For ``seconds``, each call of ``methods`` loses its connection without an answer."""
        return self.storm(methods, seconds=seconds, code=None, reset=True)

    def end_storms(self) -> None:
        """End every storm now (the ``Storm`` objects keep their counts)."""
        now = time.monotonic()
        for storm in self.storms:
            storm.until = min(storm.until, now)

    def storm_active(self) -> bool:
        """True while any storm's window is open."""
        now = time.monotonic()
        return any(storm.until > now for storm in self.storms)

    async def _weather(self, request: web.Request, call: Call) -> None:
        """Apply the storms whose window covers this call (hook of ``_handle``)."""
        method = call.method.lower()
        for storm in list(self.storms):
            if not storm.covers(method, call.params):
                continue
            storm.hits += 1
            if storm.delay_s > 0:
                await asyncio.sleep(storm.delay_s)
            if storm.reset:
                call.ok = False
                call.error = {"ok": False, "error_code": 0, "description": "connection reset"}
                self._fire_calls()
                if request.transport is not None:
                    request.transport.close()
                raise asyncio.CancelledError
            if storm.code is not None:
                raise TelegramApiError(storm.code, storm.description, storm.retry_after)
            return


# --------------------------------------------------------------------------------------
# Param decoding helpers
# --------------------------------------------------------------------------------------


def _decode_value(key: str, raw: str) -> Any:
    """Decode one form field the way the Bot API would interpret it."""
    if key in _STRING_FIELDS:
        return raw
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(value, float) and not math.isfinite(value):
        return raw
    if value is None:
        return raw
    return value


def _resolve_attachments(value: Any, files: dict[str, UploadedFile]) -> Any:
    """Replace ``attach://name`` references by the uploaded file."""
    if isinstance(value, str) and value.startswith("attach://"):
        return files.get(value.removeprefix("attach://"), value)
    if isinstance(value, list):
        return [_resolve_attachments(v, files) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_attachments(v, files) for k, v in value.items()}
    return value


def _references(value: Any, name: str) -> bool:
    if isinstance(value, UploadedFile):
        return value.field_name == name
    if isinstance(value, list):
        return any(_references(v, name) for v in value)
    if isinstance(value, dict):
        return any(_references(v, name) for v in value.values())
    return False


def _media_kind(message: JSON) -> str:
    for kind in ("photo", "document", "voice", "sticker", "video", "audio", "animation"):
        if kind in message:
            return kind
    return "text"


# --------------------------------------------------------------------------------------
# Fault storms
# --------------------------------------------------------------------------------------

# Every method that sends, copies, edits, deletes or answers something: an outage hits them
# all (getUpdates, getMe and the getChat* reads are left out; name them to include them).
SEND_METHODS: tuple[str, ...] = (
    "sendMessage",
    "copyMessage",
    "copyMessages",
    "forwardMessage",
    "forwardMessages",
    "sendPhoto",
    "sendDocument",
    "sendVoice",
    "sendSticker",
    "sendMediaGroup",
    "sendChatAction",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "deleteMessage",
    "deleteMessages",
    "answerCallbackQuery",
    "createForumTopic",
    "editForumTopic",
    "closeForumTopic",
    "reopenForumTopic",
    "deleteForumTopic",
    "pinChatMessage",
    "setMessageReaction",
)

_STORM_TEXTS = {
    400: "Bad Request",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Storm:
    """A window of time in which calls of some methods fail, hang or lose the connection."""

    methods: frozenset[str]
    until: float  # time.monotonic() at which the storm ends
    code: int | None
    description: str
    retry_after: int | None
    delay_s: float = 0.0
    reset: bool = False
    chat_id: int | str | None = None
    hits: int = 0

    def covers(self, method: str, params: JSON) -> bool:
        """Whether a call of ``method`` (lower case) with ``params`` falls in this storm."""
        if time.monotonic() >= self.until:
            return False
        if "*" not in self.methods and method not in self.methods:
            return False
        return self.chat_id is None or params.get("chat_id") == self.chat_id

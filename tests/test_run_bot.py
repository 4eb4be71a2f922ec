"""`supportbot run` end to end: the composition root against the fake Bot API, then SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from fakes import TOKEN
from faketg import FakeTelegram
from supportbot.config import load_settings
from supportbot.lifecycle import run_bot

STAFF = -100777

ARTICLE = """---
title: Card payment declined
questions:
  - my card was declined
  - payment fails with my visa
  - the bank rejects my card
---
Your bank may decline a payment: check the limits and call the bank.
"""
OTHER = """---
title: Delete your profile
questions:
  - how to delete my account
  - remove my profile forever
  - close my account
---
Open Settings > Profile > Delete.
"""


def _config(tmp_path: Path, base_url: str, *, staff: bool = True) -> Path:
    kb = tmp_path / "kb" / "en"
    kb.mkdir(parents=True)
    (kb / "card.md").write_text(ARTICLE, encoding="utf-8")
    (kb / "delete.md").write_text(OTHER, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[telegram]\ntoken = "{TOKEN}"\napi_base = "{base_url}"\n'
        f'[knowledge_base]\ndir = "{tmp_path / "kb"}"\n'
        f'[storage]\ndatabase = "{tmp_path / "bot.sqlite3"}"\n'
        + (f'[desk]\nstaff_chat_id = {STAFF}\nlanguage = "en"\n' if staff else "")
        + '[[retrieval.encoders]]\nbackend = "hashing"\n',
        encoding="utf-8",
    )
    return config


async def test_run_serves_users_and_stops_cleanly_on_sigterm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    async with FakeTelegram(token=TOKEN) as tg:
        tg.add_chat(STAFF, is_forum=True, title="Staff")
        settings = load_settings(_config(tmp_path, tg.base_url))
        task = asyncio.create_task(run_bot(settings))
        await tg.wait_for("setMyCommands", timeout=60)

        tg.user_message(42, "my card was declined", language_code="en")
        answer = await tg.wait_for("sendMessage", chat_id=42, timeout=10)
        assert "Card payment declined" in answer.params["text"]

        tg.group_message(STAFF, 7, "/stats")
        stats = await tg.wait_for("sendMessage", chat_id=STAFF, timeout=10)
        assert "Today" in stats.params["text"]

        # A question nothing answers becomes a ticket with its own topic in the staff group.
        tg.user_message(43, "qwzx blorf teapot", language_code="en")
        topic = await tg.wait_for("createForumTopic", chat_id=STAFF, timeout=10)
        assert topic.params["name"].startswith("#1 · Ivan")
        queued = await tg.wait_for("sendMessage", chat_id=43, timeout=10)
        assert "in the queue" in queued.params["text"]

        os.kill(os.getpid(), signal.SIGTERM)  # what `docker stop` or systemd sends
        await asyncio.wait_for(task, 30)

    assert "Bot @test_support_bot" in caplog.text
    assert "Stopped cleanly" in caplog.text
    assert str(tmp_path / "kb") in caplog.text


async def test_run_without_a_staff_group_tells_users_no_operator_is_available(
    tmp_path: Path,
) -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        settings = load_settings(_config(tmp_path, tg.base_url, staff=False))
        stop = asyncio.Event()
        task = asyncio.create_task(run_bot(settings, stop=stop))
        await tg.wait_for("setMyCommands", timeout=60)
        tg.user_message(44, "qwzx blorf teapot", language_code="en")
        reply = await tg.wait_for("sendMessage", chat_id=44, timeout=10)
        assert "no operator can answer right now" in reply.params["text"]
        stop.set()
        await asyncio.wait_for(task, 30)

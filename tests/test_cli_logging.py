"""What the command line logs: the config's log_level, -v, and noisy libraries kept quiet."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiogram import Dispatcher

from fakes import TOKEN
from faketg import FakeTelegram
from supportbot.cli import NOISY_LOGGERS, configure_logging, main
from supportbot.storage.inbox import InMemoryUpdateInbox
from supportbot.telegram.bot import build_bot
from supportbot.telegram.middlewares import InFlight
from supportbot.telegram.runner import run_polling

ARTICLE = """---
title: Card payment declined
questions:
  - my card was declined
---
Your bank may decline a payment: check the limits and call the bank.
"""


@pytest.fixture(autouse=True)
def _restore_levels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`main` sets logger levels for the whole process; put them back after each test."""
    monkeypatch.chdir(tmp_path)
    names = ["", *NOISY_LOGGERS, "supportbot.retrieval"]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _config(tmp_path: Path, extra: str = "") -> Path:
    kb = tmp_path / "kb" / "en"
    kb.mkdir(parents=True)
    (kb / "card.md").write_text(ARTICLE, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        extra + f'[storage]\ndatabase = "{tmp_path / "ask.sqlite3"}"\n'
        f'[knowledge_base]\ndir = "{tmp_path / "kb"}"\n'
        '[[retrieval.encoders]]\nbackend = "hashing"\n',
        encoding="utf-8",
    )
    return config


def _supportbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTBOT_")}
    env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "supportbot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_log_level_error_in_the_config_silences_info(tmp_path: Path) -> None:
    config = _config(tmp_path, 'log_level = "ERROR"\n')
    result = _supportbot("--config", str(config), "ask", "my card was declined", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("decision: ")
    assert result.stderr == ""


def test_cli_verbose_after_the_subcommand_logs_debug_but_no_sql(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = _supportbot("ask", "--config", str(config), "-v", "my card", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert " DEBUG supportbot." in result.stderr
    # aiosqlite logs every statement (with the embedding hashes) at DEBUG.
    assert "aiosqlite" not in result.stderr
    assert "INSERT" not in result.stderr


def test_cli_logs_info_by_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    config = _config(tmp_path)
    assert main(["--config", str(config), "ask", "my card was declined"]) == 0
    assert "decision: " in capsys.readouterr().out
    # (Libraries imported while the parser is built log before any level is set; a real
    # process drops that, its root logger being at WARNING until then.)
    levels = {r.levelno for r in caplog.records if r.name.startswith("supportbot.")}
    assert levels == {logging.INFO}


def test_cli_log_level_comes_from_the_environment_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SUPPORTBOT_LOG_LEVEL", "WARNING")
    config = _config(tmp_path)
    assert main(["--config", str(config), "ask", "my card was declined"]) == 0
    assert all(record.levelno >= logging.WARNING for record in caplog.records)


def test_cli_debug_option_opens_one_noisy_library(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = _config(tmp_path)
    assert main(["ask", "--config", str(config), "-v", "my card"]) == 0
    assert not [r for r in caplog.records if r.name == "aiosqlite"]
    caplog.clear()
    assert main(["ask", "--config", str(config), "--debug", "aiosqlite", "my card"]) == 0
    assert [r for r in caplog.records if r.name == "aiosqlite"]
    # Only the library named: supportbot's own DEBUG lines still need -v.
    assert not [r for r in caplog.records if r.levelno == logging.DEBUG and r.name != "aiosqlite"]


class _Heard(logging.Handler):
    """Sets `event` when a record containing `words` is logged."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = words
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.event.set()


REAL_SHAPED = "1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def test_logging_never_writes_a_bot_token(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging(logging.INFO)
    log = logging.getLogger("supportbot.test")
    url = f"http://127.0.0.1:8081/bot{REAL_SHAPED}/getUpdates"
    try:
        raise ConnectionError(f"Cannot connect to {url}")
    except ConnectionError:
        log.exception("fetching updates failed: %s", url)
    log.warning("token %s in a message, %s in a URL", REAL_SHAPED, "/bot42:short-test/getMe")
    text = caplog.text
    assert REAL_SHAPED not in text
    assert "42:short-test" not in text
    assert text.count("<token>") == 4  # message and traceback, then the two of the warning


async def test_logging_of_a_connection_dropped_during_a_long_poll_has_no_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_logging(logging.INFO)
    failed = _Heard("getUpdates failed")
    logging.getLogger("supportbot").addHandler(failed)
    async with FakeTelegram(token=TOKEN) as tg:
        bot = build_bot(TOKEN, tg.base_url)
        dp = Dispatcher()
        stop = asyncio.Event()
        polling = asyncio.create_task(
            run_polling(
                bot, dp, InFlight(), stop, inbox=InMemoryUpdateInbox(), polling_timeout_s=5
            )
        )
        await tg.wait_for("getUpdates", since=0)
    # The fake is gone in the middle of the long poll: the connection drops.
    await asyncio.wait_for(failed.event.wait(), 10)
    logging.getLogger("supportbot").removeHandler(failed)
    stop.set()
    await asyncio.wait_for(polling, 10)
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text

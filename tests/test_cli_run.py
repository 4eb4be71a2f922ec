"""`supportbot run` when the Bot API cannot be reached or rejects the token: one clear line."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes import TOKEN
from faketg import FakeTelegram
from supportbot.cli import main

SECRET = "WRONG-SECRET-abc123"

ARTICLE = "---\ntitle: Card payment declined\n---\nYour bank may decline a payment.\n"


@pytest.fixture(autouse=True)
def _no_local_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty directory with no SUPPORTBOT_* variables of the developer's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SUPPORTBOT_TELEGRAM__TOKEN", raising=False)
    monkeypatch.delenv("SUPPORTBOT_TELEGRAM__API_BASE", raising=False)


def _config(tmp_path: Path, api_base: str, token: str) -> Path:
    kb = tmp_path / "kb" / "en"
    kb.mkdir(parents=True)
    (kb / "card.md").write_text(ARTICLE, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[telegram]\ntoken = "{token}"\napi_base = "{api_base}"\n'
        f'[knowledge_base]\ndir = "{tmp_path / "kb"}"\nwatch = false\n'
        f'[storage]\ndatabase = "{tmp_path / "bot.sqlite3"}"\n'
        '[[retrieval.encoders]]\nbackend = "hashing"\n',
        encoding="utf-8",
    )
    return config


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fake_api() -> Iterator[FakeTelegram]:
    """The fake Bot API on a loop of its own: `main` runs its own loop in this thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    tg = FakeTelegram(token=TOKEN)
    asyncio.run_coroutine_threadsafe(tg.start(), loop).result(timeout=10)
    try:
        yield tg
    finally:
        asyncio.run_coroutine_threadsafe(tg.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_run_unreachable_bot_api_is_one_clear_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = f"http://127.0.0.1:{_closed_port()}"
    config = _config(tmp_path, api, f"123456:{SECRET}")

    code = main(["run", "--config", str(config)])

    out, err = capsys.readouterr()
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith(f"error: cannot reach the Telegram Bot API at {api} (")
    assert "Cannot connect to host" in line
    assert "check the network" in line
    assert "telegram.api_base" in line
    assert "Traceback" not in out + err
    assert SECRET not in out + err


def test_run_rejected_token_says_so_and_never_prints_it(
    tmp_path: Path,
    fake_api: FakeTelegram,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = _config(tmp_path, fake_api.base_url, f"123456:{SECRET}")

    code = main(["--config", str(config), "run"])

    out, err = capsys.readouterr()
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith(f"error: the Bot API at {fake_api.base_url} rejected the token")
    assert "telegram.token" in line
    assert "Traceback" not in out + err
    assert SECRET not in out + err + caplog.text
    assert [call.method for call in fake_api.calls] == ["getMe"]


def test_run_closes_the_bot_session_when_the_start_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    config = _config(tmp_path, f"http://127.0.0.1:{_closed_port()}", TOKEN)
    assert main(["--config", str(config), "run"]) == 2
    gc.collect()  # aiohttp reports an unclosed session when it is collected
    assert "Unclosed client session" not in capsys.readouterr().err + caplog.text

"""`supportbot chat`: the terminal conversation, driven through standard input."""

from __future__ import annotations

import io
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from supportbot.cli import main

ARTICLE = """---
title: Card payment declined
questions:
  - my card was declined
  - payment fails with my visa
  - the bank rejects my card
---
Your bank may decline a payment: check the limits and call the bank.

## Steps
1. Open **Settings > Payments**.
2. Check the card's expiry date.
"""

OTHER = """---
title: Delete your profile
questions:
  - how to delete my account
  - remove my profile
  - close my account forever
---
Open Settings > Profile > Delete. You can restore it within 30 days.
"""


@pytest.fixture
def chat_setup(tmp_path: Path) -> tuple[Path, Path]:
    kb = tmp_path / "kb"
    (kb / "en" / "payments").mkdir(parents=True)
    (kb / "en" / "profile").mkdir(parents=True)
    (kb / "en" / "payments" / "card-declined.md").write_text(ARTICLE, encoding="utf-8")
    (kb / "en" / "profile" / "delete.md").write_text(OTHER, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\ndatabase = "{tmp_path / "chat.sqlite3"}"\n'
        f'[knowledge_base]\ndir = "{kb}"\n'
        '[[retrieval.encoders]]\nbackend = "hashing"\n',
        encoding="utf-8",
    )
    return config, kb


def test_chat_answers_and_walks_a_guide_from_stdin(
    chat_setup: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, _ = chat_setup
    # "1" presses the first button: "Show me step by step".
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\nmy card was declined\n1\n1\n"))
    assert main(["--config", str(config), "chat", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Tell me what happened" in out
    assert "Card payment declined" in out
    assert "[1] 📋 Show me step by step" in out
    assert "Step 1 of 2" in out
    assert "Step 2 of 2" in out
    assert "<b>" not in out  # Telegram HTML is turned into terminal text


def test_chat_speaks_russian(
    chat_setup: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, _ = chat_setup
    monkeypatch.setattr("sys.stdin", io.StringIO("привет\n"))
    assert main(["--config", str(config), "chat", "--lang", "ru"]) == 0
    assert "Опишите своими словами" in capsys.readouterr().out


TEAPOT = """---
title: Teapot whistle
questions:
  - the teapot will not whistle
  - make the teapot whistle louder
---
Open the spout cover and clean the whistle.
"""


def _watch_config(tmp_path: Path, kb: Path, *, watch: bool) -> Path:
    config = tmp_path / "watch.toml"
    config.write_text(
        f'[storage]\ndatabase = "{tmp_path / "watch.sqlite3"}"\n'
        f'[knowledge_base]\ndir = "{kb}"\nwatch = {str(watch).lower()}\ndebounce_ms = 50\n'
        '[[retrieval.encoders]]\nbackend = "hashing"\n',
        encoding="utf-8",
    )
    return config


class _Lines:
    """The lines a process prints, collected by a thread, waited for with a timeout."""

    def __init__(self, stream: io.TextIOBase) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: io.TextIOBase) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, wanted: str, timeout: float = 30) -> list[str]:
        """Lines up to and including the first one that contains `wanted`."""
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while True:
            line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"output ended before {wanted!r}: {self.seen}")
            self.seen.append(line)
            lines.append(line)
            if wanted in line:
                return lines

    def rest(self) -> list[str]:
        self._thread.join(timeout=30)
        lines = []
        while (line := self._queue.get_nowait()) is not None:
            lines.append(line)
        return lines


def _wait_in_file(path: Path, wanted: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wanted in path.read_text(encoding="utf-8", errors="replace"):
            return True
        time.sleep(0.1)
    return False


def test_chat_picks_up_a_new_article_without_a_restart(
    chat_setup: tuple[Path, Path], tmp_path: Path
) -> None:
    _, kb = chat_setup
    config = _watch_config(tmp_path, kb, watch=True)
    log = tmp_path / "stderr.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTBOT_")}
    env.update(HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    with log.open("w", encoding="utf-8") as stderr:
        chat = subprocess.Popen(
            [sys.executable, "-m", "supportbot", "chat", "--config", str(config), "-v"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
        )
        assert chat.stdin is not None
        assert chat.stdout is not None
        try:
            out = _Lines(chat.stdout)
            assert _wait_in_file(log, "Watching", timeout=60), log.read_text()
            chat.stdin.write("the teapot will not whistle\n")
            chat.stdin.flush()
            out.until("you> the teapot will not whistle")
            # The reply is printed in one go once decided: its first line means the
            # question was matched against the knowledge base as it was.
            out.until("")
            article = kb / "en" / "kitchen" / "teapot.md"
            article.parent.mkdir()
            for attempt in range(10):
                # Written again if the watcher had not started watching yet.
                article.write_text(TEAPOT + "\n" * attempt, encoding="utf-8")
                if _wait_in_file(log, "Knowledge base reloaded", timeout=3):
                    break
            else:
                raise AssertionError(log.read_text())
            chat.stdin.write("how to make the teapot whistle louder\n")
            chat.stdin.write("/quit\n")
            chat.stdin.close()
            assert chat.wait(timeout=60) == 0
        finally:
            if chat.poll() is None:
                chat.kill()
                chat.wait()
    transcript = "\n".join([*out.seen, *out.rest()])
    before, after = transcript.split("you> how to make the teapot whistle louder")
    assert "Teapot whistle" not in before
    assert "Teapot whistle" in after
    assert "Traceback" not in log.read_text()


@pytest.mark.parametrize("watch", [True, False])
def test_chat_watches_the_knowledge_base_only_when_configured(
    watch: bool,
    chat_setup: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    _, kb = chat_setup
    config = _watch_config(tmp_path, kb, watch=watch)
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n"))
    assert main(["--config", str(config), "chat", "-v"]) == 0
    assert ("Watching" in caplog.text) is watch

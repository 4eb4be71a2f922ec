"""`supportbot chat`: the terminal conversation, driven through standard input."""

from __future__ import annotations

import io
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

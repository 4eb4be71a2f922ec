"""Quiet when not a terminal: no progress bars in a pipe, a log file or a CI transcript."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ARTICLE = """---
title: Card payment declined
questions:
  - my card was declined
---
Your bank may decline a payment: check the limits and call the bank.
"""


def _config(tmp_path: Path) -> Path:
    kb = tmp_path / "kb" / "en"
    kb.mkdir(parents=True)
    (kb / "card.md").write_text(ARTICLE, encoding="utf-8")
    (kb / "other.md").write_text(
        "---\ntitle: Delete your profile\n---\nOpen Settings > Profile > Delete.\n",
        encoding="utf-8",
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\ndatabase = "{tmp_path / "quiet.sqlite3"}"\n'
        f'[knowledge_base]\ndir = "{tmp_path / "kb"}"\nwatch = false\n'
        # The packaged all-MiniLM-L6-v2: transformers draws its "Loading weights" bar.
        "[[retrieval.encoders]]\n"
        'backend = "sentence-transformers"\n'
        'model = "sentence-transformers/all-MiniLM-L6-v2"\n',
        encoding="utf-8",
    )
    return config


def _supportbot(args: list[str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTBOT_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "supportbot", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,  # stderr is a pipe, as in `supportbot chat 2>&1 | tee log`
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.model
def test_cli_piped_ask_and_chat_draw_no_progress_bar(tmp_path: Path) -> None:
    config = _config(tmp_path)
    ask = _supportbot(["--config", str(config), "ask", "my card was declined"], tmp_path)
    assert ask.returncode == 0, ask.stderr
    assert "Card payment declined" in ask.stdout
    chat = _supportbot(["--config", str(config), "chat"], tmp_path, stdin="my card was declined\n")
    assert chat.returncode == 0, chat.stderr
    assert "Card payment declined" in chat.stdout
    for result in (ask, chat):
        assert "Loading weights" not in result.stderr
        assert "\r" not in result.stderr + result.stdout
        assert "it/s" not in result.stderr

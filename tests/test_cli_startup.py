"""Start-up: each command loads only what it needs, and cheap errors come before the models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from supportbot.cli import main

ARTICLE = "---\ntitle: Card payment declined\n---\nYour bank may decline a payment.\n"

# An encoder that cannot load: if a command reports anything else, it checked that first.
BROKEN_ENCODER = '[[retrieval.encoders]]\nbackend = "sentence-transformers"\nmodel = "{path}"\n'


@pytest.fixture(autouse=True)
def _no_local_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty directory with no SUPPORTBOT_* variables of the developer's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SUPPORTBOT_TELEGRAM__TOKEN", raising=False)
    monkeypatch.delenv("SUPPORTBOT_KNOWLEDGE_BASE__DIR", raising=False)
    monkeypatch.delenv("SUPPORTBOT_STORAGE__DATABASE", raising=False)


def _config(tmp_path: Path, *, kb: Path, token: str | None = None) -> Path:
    config = tmp_path / "config.toml"
    telegram = f'[telegram]\ntoken = "{token}"\n' if token else ""
    config.write_text(
        f"{telegram}"
        f'[knowledge_base]\ndir = "{kb}"\nwatch = false\n'
        f'[storage]\ndatabase = "{tmp_path / "bot.sqlite3"}"\n'
        + BROKEN_ENCODER.format(path=tmp_path / "no-such-model"),
        encoding="utf-8",
    )
    return config


def _kb(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    (root / "en").mkdir(parents=True)
    (root / "en" / "card.md").write_text(ARTICLE, encoding="utf-8")
    return root


def test_cli_ask_with_a_missing_knowledge_base_says_so_before_loading_a_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, kb=tmp_path / "missing")
    assert main(["ask", "my card was declined", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "Knowledge base directory not found" in err
    assert "cannot load" not in err


def test_cli_run_without_a_token_says_so_before_loading_a_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, kb=_kb(tmp_path))
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "telegram.token is not set" in err
    assert "cannot load" not in err


@pytest.mark.parametrize("module", ["ask", "evaluate", "kb"])
def test_cli_commands_without_telegram_never_import_aiogram(module: str) -> None:
    """`ask`, `eval` and `kb` reach the composition root without the Telegram library
    (seconds of start-up)."""
    code = (
        "import sys; import supportbot.cli as c; c.build_parser(); "
        f"import supportbot.commands.{module}; import supportbot.app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'aiogram'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"

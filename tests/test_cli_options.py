"""`--config` and `-v` work before or after the subcommand, as the README promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportbot.cli import main

DELETE = "---\ntitle: Delete your profile\n---\nOpen Settings and delete your profile.\n"


@pytest.fixture
def kb_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Two identical articles, and a config whose hashing encoder finds them in a moment."""
    monkeypatch.chdir(tmp_path)
    kb = tmp_path / "kb"
    for name in ("delete", "remove"):
        path = kb / "en" / "profile" / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DELETE, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text('[[retrieval.encoders]]\nbackend = "hashing"\n', encoding="utf-8")
    return kb, config


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", "{config}", "kb", "check", "{kb}"],
        ["kb", "check", "{kb}", "--config", "{config}"],
        ["kb", "check", "--config", "{config}", "{kb}"],
        ["kb", "--config", "{config}", "check", "{kb}"],
    ],
    ids=["before", "after", "between-options", "between-subcommands"],
)
def test_cli_config_is_read_wherever_it_is_given(
    argv: list[str], kb_and_config: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    kb, config = kb_and_config
    code = main([arg.format(kb=kb, config=config) for arg in argv])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    # The near-duplicate check ran with the config's hashing encoder.
    assert "en/profile/delete.md and en/profile/remove.md are near-duplicates" in out[0]
    assert out[-1] == "2 articles served, 0 served without steps, 0 skipped"


def test_cli_config_after_the_subcommand_overrides_the_one_before(
    kb_and_config: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb, config = kb_and_config
    missing = tmp_path / "missing.toml"
    assert main(["--config", str(config), "kb", "check", str(kb), "--config", str(missing)]) == 2
    assert capsys.readouterr().err == f"error: Config file not found: {missing}\n"
    assert main(["--config", str(missing), "kb", "check", str(kb), "--config", str(config)]) == 0


def test_cli_subcommand_help_lists_the_global_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ask", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--config CONFIG" in out
    assert "-v, --verbose" in out

"""Configuration: TOML plus environment, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportbot.cli import main
from supportbot.config import load_settings
from supportbot.domain.errors import ConfigError


def test_config_defaults_without_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.knowledge_base.dir == Path("knowledge_base")
    assert settings.telegram.api_base == "https://api.telegram.org"
    assert settings.desk.capacity == 4


def test_config_environment_overrides_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[knowledge_base]\ndir = "from-file"\n[storage]\ndatabase = "a.db"\n')
    monkeypatch.setenv("SUPPORTBOT_KNOWLEDGE_BASE__DIR", "from-env")
    monkeypatch.setenv("SUPPORTBOT_TELEGRAM__API_BASE", "http://127.0.0.1:8081")
    settings = load_settings(path)
    assert settings.knowledge_base.dir == Path("from-env")
    assert settings.storage.database == Path("a.db")
    assert settings.telegram.api_base == "http://127.0.0.1:8081"


def test_config_typo_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[telegram]\ntokken = "123:abc"\n')
    with pytest.raises(ConfigError, match=r"telegram\.tokken: unknown key"):
        load_settings(path)


def test_config_bad_value_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[retrieval]\nanswer_threshold = 1.5\n")
    with pytest.raises(ConfigError, match=r"retrieval\.answer_threshold"):
        load_settings(path)


def test_config_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_config_invalid_toml_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[telegram\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)


def test_config_token_never_appears_in_reprs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SUPPORTBOT_TELEGRAM__TOKEN", "123456:SECRET-TOKEN")
    settings = load_settings()
    assert "SECRET-TOKEN" not in repr(settings)
    assert "SECRET-TOKEN" not in str(settings.telegram)
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "123456:SECRET-TOKEN"


def test_config_example_file_is_valid() -> None:
    example = Path(__file__).parent.parent / "config.example.toml"
    settings = load_settings(example)
    assert settings.retrieval.encoders


def test_cli_reports_a_config_error_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(tmp_path / "missing.toml"), "ask", "hello"])
    assert code == 2
    assert "Config file not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[desk]\ntimezone = "Mars/Olympus"\n', "desk.timezone"),
        ('[desk.working_hours]\nmon = "18:00-09:00"\n', "desk.working_hours"),
        ('[desk.working_hours]\nfunday = "09:00-18:00"\n', "desk.working_hours"),
        ('[desk]\nassignment = "random"\n', "desk.assignment"),
        ('[desk.categories]\npayments = ["refunds", "refunds"]\n', "desk.categories"),
        ('[analytics]\ntimezone = "Nowhere"\n', "analytics.timezone"),
    ],
)
def test_config_desk_mistakes_name_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert key in error.value.user_message


def test_cli_reports_a_broken_database_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.sqlite3"
    broken.write_text("not a database", encoding="utf-8")
    monkeypatch.setenv("SUPPORTBOT_STORAGE__DATABASE", str(broken))
    monkeypatch.chdir(tmp_path)
    code = main(["report", "--since", "7d", "--format", "json"])
    assert code == 2
    err = capsys.readouterr().err
    assert "file is not a database" in err
    assert "Traceback" not in err

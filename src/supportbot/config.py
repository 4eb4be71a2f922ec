"""All configuration in one typed place: a TOML file plus SUPPORTBOT_* environment variables."""

from __future__ import annotations

import tomllib
from datetime import date, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from supportbot.domain.errors import ConfigError

DEFAULT_CONFIG_FILE = Path("config.toml")
PACKAGED_MINILM = "sentence-transformers/all-MiniLM-L6-v2"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        hint = "use an IANA name like Europe/Moscow"
        raise ValueError(f"unknown time zone {value!r} ({hint})") from None
    return value


class KnowledgeBaseSettings(_Section):
    """Where the articles live and how changes are picked up."""

    dir: Path = Path("knowledge_base")
    watch: bool = True
    debounce_ms: int = Field(default=800, ge=50, le=60_000)


class StorageSettings(_Section):
    """The SQLite database that holds conversations, tickets, events and the embedding cache."""

    database: Path = Path("supportbot.sqlite3")


class EncoderSettings(_Section):
    """One dense encoder.

    backend "sentence-transformers": `model` is a hub name or a local path (the packaged
    all-MiniLM-L6-v2 is used offline for its hub name). backend "use": Google's multilingual
    Universal Sentence Encoder v3 (numpy, packaged), `model` is ignored. backend "hashing":
    a tiny deterministic stand-in with no model at all (tests, smoke runs); not for users.
    """

    backend: Literal["sentence-transformers", "use", "hashing"] = "sentence-transformers"
    model: str = PACKAGED_MINILM
    query_prefix: str = ""
    passage_prefix: str = ""
    batch_size: int = Field(default=32, ge=1, le=1024)


def _default_encoders() -> list[EncoderSettings]:
    return [EncoderSettings(), EncoderSettings(backend="use", model="use-multilingual-v3")]


class RetrievalSettings(_Section):
    """Signals, fusion and the thresholds of the answer / suggest / handoff decision."""

    encoders: list[EncoderSettings] = Field(default_factory=_default_encoders)
    lexical: bool = True
    fuzzy: bool = True
    top_k: int = Field(default=40, ge=1, le=1000)
    answer_threshold: float = Field(default=0.85, ge=0.0, le=1.0)
    suggest_threshold: float = Field(default=0.20, ge=0.0, le=1.0)
    max_suggestions: int = Field(default=3, ge=1, le=10)
    fit_weights: bool = True
    near_duplicate_threshold: float = Field(default=0.92, ge=0.0, le=1.0)

    @field_validator("suggest_threshold")
    @classmethod
    def _below_answer(cls, value: float, info: Any) -> float:
        answer = info.data.get("answer_threshold")
        if answer is not None and value > answer:
            raise ValueError("must not be greater than retrieval.answer_threshold")
        return value


class WebhookSettings(_Section):
    """Webhook mode: Telegram calls us; the secret token authenticates those calls."""

    url: str = ""
    path: str = "/telegram/webhook"
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)
    secret: SecretStr | None = None


class FloodSettings(_Section):
    """Per-user flood control."""

    messages: int = Field(default=20, ge=1)
    per_seconds: float = Field(default=60.0, gt=0)


class TelegramSettings(_Section):
    """The bot account and how updates arrive."""

    token: SecretStr | None = None
    api_base: str = "https://api.telegram.org"
    mode: Literal["polling", "webhook"] = "polling"
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    flood: FloodSettings = Field(default_factory=FloodSettings)
    default_language: Literal["ru", "en"] = "en"
    duplicate_window_s: float = Field(default=120.0, ge=0)


class DeskSettings(_Section):
    """The operator desk in a Telegram staff group."""

    staff_chat_id: int | None = None
    capacity: int = Field(default=4, ge=1, le=100)
    assignment: Literal["manual", "auto"] = "manual"
    # weekday (mon..sun) -> "09:00-18:00"; empty means open around the clock
    working_hours: dict[str, str] = Field(default_factory=dict)
    timezone: str = "UTC"
    holidays: list[date] = Field(default_factory=list)
    language: Literal["ru", "en"] = "en"
    show_operator_name: bool = False
    require_category: bool = True
    reopen_grace_minutes: int = Field(default=30, ge=0)
    categories: dict[str, list[str]] = Field(default_factory=dict)
    # Telegram lets a bot post about 20 messages a minute into one group.
    staff_messages_per_minute: int = Field(default=20, ge=1, le=10_000)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _check_timezone(value)

    @field_validator("working_hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, str]) -> dict[str, str]:
        from supportbot.desk.hours import WorkingHours

        WorkingHours.parse(value, "UTC")  # raises ValueError with what is wrong
        return value

    @field_validator("categories")
    @classmethod
    def _named_categories(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, subs in value.items():
            if not name.strip() or any(not sub.strip() for sub in subs):
                raise ValueError("category and subcategory names must not be empty")
            if len(set(subs)) != len(subs):
                raise ValueError(f"category {name!r} lists a subcategory twice")
        return value


class AnalyticsSettings(_Section):
    """Reports and the weekly summary posted to the staff group."""

    weekly_summary: bool = False
    weekly_summary_weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    weekly_summary_time: str = "09:00"
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _check_timezone(value)

    @field_validator("weekly_summary_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a time of day like 09:00") from None
        return value


class ExperimentArm(_Section):
    """One arm of an A/B experiment: its share of users and what it overrides."""

    share: float = Field(gt=0.0, le=1.0)
    answer_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    suggest_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    max_suggestions: int | None = Field(default=None, ge=1, le=10)
    step_by_step: bool | None = None


class ExperimentSettings(_Section):
    """An A/B experiment: users are assigned to arms by a stable hash of their id."""

    name: str = Field(min_length=1)
    arms: dict[str, ExperimentArm]

    @field_validator("arms")
    @classmethod
    def _shares_sum_to_one(cls, arms: dict[str, ExperimentArm]) -> dict[str, ExperimentArm]:
        if len(arms) < 2:
            raise ValueError("an experiment needs at least two arms")
        total = sum(arm.share for arm in arms.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"arm shares must add up to 1.0, got {total:g}")
        return arms


class Settings(BaseSettings):
    """The whole configuration; build it with `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="SUPPORTBOT_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    knowledge_base: KnowledgeBaseSettings = Field(default_factory=KnowledgeBaseSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    desk: DeskSettings = Field(default_factory=DeskSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    experiments: list[ExperimentSettings] = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment overrides the file; the file (if any) overrides the defaults.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def _format_validation_error(error: ValidationError, source: str) -> str:
    lines = [f"Invalid configuration in {source}:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(root)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key (a typo?)")
        else:
            lines.append(f"  {key}: {item['msg']}")
    return "\n".join(lines)


def load_settings(path: Path | None = None) -> Settings:
    """Load and validate the configuration.

    Args:
        path: the TOML file named on the command line. It must exist. Without it,
            ./config.toml is read when present; otherwise only defaults and environment.

    Raises:
        ConfigError: the file is missing or unreadable, or a key is unknown or invalid;
            the message names the key.
    """
    if path is not None and not path.is_file():
        raise ConfigError(f"Config file not found: {path}")
    if path is None and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    source = str(path) if path else "environment"
    if path is not None:
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Cannot read config file {path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Config file {path} is not valid TOML: {exc}") from exc

    class _FileSettings(Settings):
        model_config = SettingsConfigDict(toml_file=path)

    try:
        return _FileSettings()
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, f"{source} / SUPPORTBOT_* env")) from exc

"""User-facing texts, one TOML file per language under `locales/`; placeholders are escaped."""

from __future__ import annotations

import html
import tomllib
from collections.abc import Mapping
from importlib import resources

from supportbot.domain.models import Lang


class Texts:
    """Every text the user sees, by language and key.

    The files are Telegram HTML written by us; values put into `{placeholders}` come from
    users or articles and are HTML-escaped here, in one place.
    """

    def __init__(self, catalog: Mapping[Lang, Mapping[str, Mapping[str, str]]]) -> None:
        self._catalog = catalog

    @classmethod
    def load(cls) -> Texts:
        """Read the packaged locale files."""
        folder = resources.files("supportbot.telegram") / "locales"
        catalog = {
            lang: tomllib.loads((folder / f"{lang.value}.toml").read_text(encoding="utf-8"))
            for lang in Lang
        }
        return cls(catalog)

    def message(self, lang: Lang, key: str, **params: object) -> str:
        """A message text with its placeholders filled in, escaped."""
        template = self._catalog[lang]["messages"][key]
        return template.format(**{k: html.escape(str(v)) for k, v in params.items()})

    def raw(self, lang: Lang, key: str) -> str:
        """A message text as written (already valid HTML), for composing larger messages."""
        return self._catalog[lang]["messages"][key]

    def button(self, lang: Lang, key: str) -> str:
        """A button label (plain text: Telegram does not parse buttons)."""
        return self._catalog[lang]["buttons"][key]

    def commands(self, lang: Lang) -> Mapping[str, str]:
        """Menu command -> description, for setMyCommands."""
        return self._catalog[lang]["commands"]

    def keys(self, lang: Lang) -> dict[str, set[str]]:
        """Section -> keys present for a language (tests compare languages)."""
        return {section: set(items) for section, items in self._catalog[lang].items()}

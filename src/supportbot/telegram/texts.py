"""Every text the bot shows, one catalog: `locales/<lang>.toml` (the user side) and
`locales/desk_<lang>.toml` (the operator desk); placeholders are escaped here."""

from __future__ import annotations

import html
import tomllib
from collections.abc import Mapping
from importlib import resources

from supportbot.domain.models import Lang

Catalog = Mapping[Lang, Mapping[str, Mapping[str, str]]]


class Texts:
    """Every text users and operators see, by language, section and key.

    The files are Telegram HTML written by us; values put into `{placeholders}` come from
    users or articles and are HTML-escaped here, in one place. Staff texts are in the
    desk's language (`staff_lang`); refusals are plain text (shown as callback alerts too).
    """

    def __init__(self, catalog: Catalog, staff_lang: Lang = Lang.EN) -> None:
        self._catalog = catalog
        self.staff_lang = staff_lang

    @classmethod
    def load(cls, staff_lang: str = "en") -> Texts:
        """Read the packaged locale files (both parts, merged by section)."""
        folder = resources.files("supportbot.telegram") / "locales"
        catalog: dict[Lang, dict[str, dict[str, str]]] = {}
        for lang in Lang:
            merged: dict[str, dict[str, str]] = {}
            for name in (f"{lang.value}.toml", f"desk_{lang.value}.toml"):
                part = tomllib.loads((folder / name).read_text(encoding="utf-8"))
                for section, items in part.items():
                    merged.setdefault(section, {}).update(items)
            catalog[lang] = merged
        return cls(catalog, Lang(staff_lang))

    def message(self, lang: Lang, key: str, **params: object) -> str:
        """A message text with its placeholders filled in, escaped."""
        return _fill(self._catalog[lang]["messages"][key], params)

    def raw(self, lang: Lang, key: str) -> str:
        """A message text as written (already valid HTML), for composing larger messages."""
        return self._catalog[lang]["messages"][key]

    def button(self, lang: Lang, key: str) -> str:
        """A button label (plain text: Telegram does not parse buttons)."""
        return self._catalog[lang]["buttons"][key]

    def commands(self, lang: Lang) -> Mapping[str, str]:
        """Menu command -> description, for setMyCommands."""
        return self._catalog[lang]["commands"]

    def user(self, lang: Lang, key: str, **params: object) -> str:
        """A desk notice for a user in their language."""
        return _fill(self._catalog[lang]["user"][key], params)

    def user_plain(self, lang: Lang, key: str) -> str:
        """A desk user text as plain text (it is escaped where it is used)."""
        return self._catalog[lang]["user"][key]

    def staff(self, key: str, **params: object) -> str:
        """A staff-group text in the desk's language."""
        return _fill(self._catalog[self.staff_lang]["staff"][key], params)

    def staff_plain(self, key: str, **params: object) -> str:
        """A staff text as plain text (topic names: Telegram does not parse them)."""
        return self._catalog[self.staff_lang]["staff"][key].format(**params)

    def staff_button(self, key: str) -> str:
        """A button label in the staff language."""
        return self.button(self.staff_lang, key)

    def refusals(self) -> dict[str, str]:
        """Refusal templates for `DeskService` (plain text, staff language)."""
        return dict(self._catalog[self.staff_lang]["refusals"])

    def keys(self, lang: Lang) -> dict[str, set[str]]:
        """Section -> keys present for a language (tests compare languages)."""
        return {section: set(items) for section, items in self._catalog[lang].items()}


def _fill(template: str, params: Mapping[str, object]) -> str:
    return template.format(**{k: html.escape(str(v)) for k, v in params.items()})

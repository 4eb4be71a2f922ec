"""The desk's texts (staff group and user notices), one TOML file per language."""

from __future__ import annotations

import html
import tomllib
from collections.abc import Mapping
from importlib import resources

from supportbot.domain.models import Lang


class StaffTexts:
    """Texts of the operator desk: `[staff]` in the staff language, `[user]` per user.

    Values put into `{placeholders}` are HTML-escaped here, in one place; refusals are
    plain text (they are shown as callback alerts too).
    """

    def __init__(self, catalog: Mapping[Lang, Mapping[str, Mapping[str, str]]], staff: Lang):
        self._catalog = catalog
        self.staff_lang = staff

    @classmethod
    def load(cls, staff_lang: str = "en") -> StaffTexts:
        """Read the packaged desk locale files."""
        folder = resources.files("supportbot.telegram") / "locales"
        catalog = {
            lang: tomllib.loads((folder / f"desk_{lang.value}.toml").read_text(encoding="utf-8"))
            for lang in Lang
        }
        return cls(catalog, Lang(staff_lang))

    def staff(self, key: str, **params: object) -> str:
        """A staff-group text in the desk's language."""
        return _fill(self._catalog[self.staff_lang]["staff"][key], params)

    def staff_plain(self, key: str, **params: object) -> str:
        """A staff text as plain text (topic names: Telegram does not parse them)."""
        return self._catalog[self.staff_lang]["staff"][key].format(**params)

    def user(self, lang: Lang, key: str, **params: object) -> str:
        """A notice for a user in their language."""
        return _fill(self._catalog[lang]["user"][key], params)

    def user_plain(self, lang: Lang, key: str) -> str:
        """A user text as plain text (it is escaped where it is used)."""
        return self._catalog[lang]["user"][key]

    def button(self, lang: Lang, key: str) -> str:
        """A button label."""
        return self._catalog[lang]["buttons"][key]

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

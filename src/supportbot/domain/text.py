"""Language detection and normalisation shared by every layer (standard library only)."""

from __future__ import annotations

import re
import unicodedata

from supportbot.domain.models import Lang

_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"\w+", re.UNICODE)

# Common Russian words as users type them in Latin letters (translit).
_TRANSLIT_MARKERS = frozenset(
    [
        "kak",
        "chto",
        "pochemu",
        "ne",
        "net",
        "da",
        "mne",
        "menya",
        "moy",
        "moya",
        "moi",
        "moe",
        "gde",
        "kogda",
        "nado",
        "nuzhno",
        "mozhno",
        "hochu",
        "pomogite",
        "pozhaluysta",
        "pozhalujsta",
        "spasibo",
        "privet",
        "zdravstvuyte",
        "rabotaet",
        "prihodit",
        "prikhodit",
        "kod",
        "parol",
        "akkaunt",
        "stranica",
        "stranicu",
        "stranitsa",
        "udalit",
        "oplata",
        "karta",
        "kartu",
        "dengi",
        "vernut",
        "ili",
        "eto",
        "uzhe",
        "ochen",
        "tolko",
        "esli",
        "chtoby",
        "zablokirovali",
        "vzlomali",
    ]
)


def detect_lang(text: str, default: Lang = Lang.EN) -> Lang:
    """Guess ru or en from the script (Russian translit in Latin letters counts as ru)."""
    cyrillic = len(_CYRILLIC.findall(text))
    latin = len(_LATIN.findall(text))
    if cyrillic == 0 and latin == 0:
        return default
    if cyrillic >= latin:
        return Lang.RU
    words = [w.lower() for w in _WORD.findall(text)]
    if words and sum(w in _TRANSLIT_MARKERS for w in words) / len(words) >= 0.25:
        return Lang.RU
    return Lang.EN if cyrillic < latin * 0.3 else Lang.RU


def normalize(text: str) -> str:
    """Lower-case, NFKC, ё->е, collapsed white space: the form lexical matching works on."""
    text = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    return " ".join(text.split())


_TRANSLIT_PAIRS = [
    ("shch", "щ"),
    ("sch", "щ"),
    ("yo", "ё"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("yu", "ю"),
    ("ya", "я"),
    ("ye", "е"),
    ("ju", "ю"),
    ("ja", "я"),
    ("iy", "ий"),
    ("yy", "ый"),
    ("a", "а"),
    ("b", "б"),
    ("v", "в"),
    ("g", "г"),
    ("d", "д"),
    ("e", "е"),
    ("z", "з"),
    ("i", "и"),
    ("j", "й"),
    ("k", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("f", "ф"),
    ("h", "х"),
    ("c", "ц"),
    ("y", "ы"),
    ("w", "в"),
    ("x", "кс"),
    ("q", "к"),
    ("'", "ь"),
]


def detranslit(text: str) -> str:
    """Turn Russian written in Latin letters back into Cyrillic (best effort)."""
    out: list[str] = []
    lower = text.lower()
    i = 0
    while i < len(lower):
        for latin, cyr in _TRANSLIT_PAIRS:
            if lower.startswith(latin, i):
                out.append(cyr)
                i += len(latin)
                break
        else:
            out.append(lower[i])
            i += 1
    return "".join(out)


def has_latin_only(text: str) -> bool:
    """True when the text has Latin letters and no Cyrillic ones."""
    return bool(_LATIN.search(text)) and not _CYRILLIC.search(text)

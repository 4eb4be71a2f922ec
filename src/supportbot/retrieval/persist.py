"""What the suggester keeps between starts: the fitted fusion and the vector indexes.

Each is stored in the embedding cache's artifact table under a key of everything it was
computed from, so an unchanged knowledge base starts without refitting or rebuilding, and
any change (an article, an encoder, the config, the fitting code) computes afresh.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Raise to drop every stored fit (a change of the stored format itself).
FIT_SCHEMA = 1
FIT_KIND = "fusion"


@functools.cache
def code_version() -> str:
    """A digest of the retrieval code and the text helpers it uses: new code refits."""
    package = Path(__file__).resolve().parent
    files = [*sorted(package.glob("*.py")), package.parent / "domain" / "text.py"]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def fit_key(parts: Iterable[str]) -> str:
    """The key of a fit: the schema, the code and `parts` (content, encoders, config)."""
    digest = hashlib.sha256(f"{FIT_SCHEMA}\u0000{code_version()}".encode())
    for part in parts:
        digest.update(b"\x00")
        digest.update(part.encode())
    return digest.hexdigest()


def dump_fit(model: Any) -> bytes:
    """Whatever the fitting returned, pickled with the schema it was stored under."""
    return pickle.dumps((FIT_SCHEMA, model), protocol=pickle.HIGHEST_PROTOCOL)


def load_fit(data: bytes | None) -> Any | None:
    """A stored fit, or None when absent or unreadable (the caller then fits again).

    Only this application writes the cache, in its own database: unpickling it trusts
    nothing more than the database file itself.
    """
    if data is None:
        return None
    try:
        schema, model = pickle.loads(data)
    except Exception as exc:  # any error here means "fit again", never a failed start
        logger.warning("Stored fusion unreadable (%s): fitting again", exc)
        return None
    return model if schema == FIT_SCHEMA else None


def index_kind(signal: str) -> str:
    """The artifact kind of one dense signal's index."""
    return f"index:{signal}"

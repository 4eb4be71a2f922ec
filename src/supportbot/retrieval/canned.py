"""`/t <words>`: fuzzy search over canned operator replies (rapidfuzz lives in retrieval)."""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz, process, utils

from supportbot.domain.models import CannedReply


def _haystack(reply: CannedReply) -> str:
    # The title and tags say what a reply is for; its text helps when the words are in it.
    return " ".join([reply.title, *reply.tags, reply.id.replace("-", " "), reply.text])


class RapidfuzzCannedMatcher:
    """Ranks canned replies by partial token overlap with the operator's words.

    `token_set_ratio` against title, tags and id finds "greet" in "Greeting"; the reply's
    text is searched with `partial_token_set_ratio` at a lower weight, so a title match wins.
    """

    def __init__(self, score_cutoff: float = 60.0, text_cutoff: float = 85.0) -> None:
        self._cutoff = score_cutoff
        self._text_cutoff = text_cutoff

    def search(
        self, query: str, replies: Sequence[CannedReply], *, limit: int
    ) -> list[CannedReply]:
        """The best matching replies, best first; empty when nothing is close enough."""
        if not utils.default_process(query) or not replies:
            return []
        heads = [" ".join([r.title, *r.tags, r.id.replace("-", " ")]) for r in replies]
        scores: dict[int, float] = {}
        for _, score, index in process.extract(
            query,
            heads,
            scorer=fuzz.partial_token_set_ratio,
            processor=utils.default_process,
            score_cutoff=self._cutoff,
            limit=None,
        ):
            scores[index] = score
        for _, score, index in process.extract(
            query,
            [_haystack(r) for r in replies],
            scorer=fuzz.partial_token_set_ratio,
            processor=utils.default_process,
            score_cutoff=self._text_cutoff,
            limit=None,
        ):
            scores[index] = max(scores.get(index, 0.0), score * 0.9)
        ranked = sorted(scores, key=lambda i: (-scores[i], i))
        return [replies[i] for i in ranked[:limit]]

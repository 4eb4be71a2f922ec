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

    def __init__(
        self, score_cutoff: float = 60.0, text_cutoff: float = 85.0, keyword_cutoff: float = 85.0
    ) -> None:
        self._cutoff = score_cutoff
        self._text_cutoff = text_cutoff
        self._keyword_cutoff = keyword_cutoff

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

    def for_message(
        self, message: str, replies: Sequence[CannedReply], *, limit: int
    ) -> list[CannedReply]:
        """Replies whose keywords (tags, and title words of 4+ letters) a user's message
        uses, typos allowed; the most keywords first. A free-text message shares some word
        with almost any reply text, so texts are not compared here, only keywords."""
        words = utils.default_process(message).split()
        if not words or not replies:
            return []
        ranked: list[tuple[int, float, int]] = []
        for index, reply in enumerate(replies):
            keywords = {
                k
                for k in (
                    *(utils.default_process(tag) for tag in reply.tags),
                    *(w for w in utils.default_process(reply.title).split() if len(w) >= 4),
                )
                if k
            }
            hits = [
                found[1]
                for keyword in keywords
                if (
                    found := process.extractOne(
                        keyword,
                        words,
                        scorer=fuzz.ratio,
                        processor=utils.default_process,
                        score_cutoff=self._keyword_cutoff,
                    )
                )
                is not None
            ]
            if hits:
                ranked.append((-len(hits), -max(hits), index))
        return [replies[index] for _, _, index in sorted(ranked)[:limit]]

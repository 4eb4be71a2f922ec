"""The step-by-step guide: steps, resuming, a failed step and the final "solved?"."""

from __future__ import annotations

from dataclasses import replace

from supportbot.conversation.books import Books
from supportbot.conversation.desk_path import DeskPath
from supportbot.conversation.replies import Act, Action, Outgoing, Say
from supportbot.conversation.state import GuidePlace, Phase
from supportbot.conversation.turn import Turn, need
from supportbot.domain.errors import StaleCallbackError
from supportbot.domain.events import EventKind, HandoffReason
from supportbot.domain.handoff import Author
from supportbot.domain.models import Article
from supportbot.domain.ports import Suggester


class Guide:
    """Walks the user through an article's steps."""

    def __init__(self, suggester: Suggester, books: Books, desk: DeskPath) -> None:
        self._suggester = suggester
        self._books = books
        self._desk = desk

    async def on_guide(self, turn: Turn, article: Article | None, step: int) -> None:
        art = need(turn, article, Phase.OPEN, Phase.GUIDE, Phase.CONFIRM)
        if not art.has_steps:
            raise StaleCallbackError("the article has no steps any more")
        turn.event(EventKind.ARTICLE_OPENED, art.id, guide=True)
        turn.state = replace(turn.state, phase=Phase.GUIDE, guide=GuidePlace(art.id, 1))
        self.send_step(turn, art, 1)

    def send_step(self, turn: Turn, article: Article, number: int) -> None:
        step = article.steps[number - 1]
        turn.say(
            Outgoing(
                Say.STEP,
                article=article,
                step=step,
                actions=(
                    Action(Act.STEP_DONE, article.id, number),
                    Action(Act.STEP_FAILED, article.id, number),
                    Action(Act.PERSON),
                ),
            )
        )
        self._books.note(turn, Author.BOT, f"step {number}: {step.text}", article.id)

    def current_step(self, turn: Turn, article: Article | None, step: int) -> GuidePlace:
        guide = turn.state.guide
        art = need(turn, article, Phase.GUIDE)
        if guide is None or guide.article_id != art.id or guide.step != step:
            raise StaleCallbackError("not the current step")
        if not 1 <= step <= len(art.steps):
            raise StaleCallbackError("the guide changed")
        return guide

    async def on_step_done(self, turn: Turn, article: Article | None, step: int) -> None:
        await self.step_done(turn, self.current_step(turn, article, step))

    async def step_done(self, turn: Turn, guide: GuidePlace) -> None:
        article = self._suggester.article(guide.article_id)
        if article is None or guide.step > len(article.steps):
            # The guide vanished or shrank under a reload: let a person take it from here.
            await self._desk.hand_off(turn, HandoffReason.STEP_FAILED, article_id=guide.article_id)
            return
        turn.event(EventKind.STEP_DONE, article.id, step=guide.step)
        if guide.step < len(article.steps):
            nxt = GuidePlace(article.id, guide.step + 1)
            turn.state = replace(turn.state, guide=nxt)
            self.send_step(turn, article, nxt.step)
            return
        turn.state = replace(turn.state, phase=Phase.CONFIRM)
        turn.say(
            Outgoing(
                Say.ASK_SOLVED,
                article=article,
                actions=(
                    Action(Act.SOLVED_YES, article.id, guide.step),
                    Action(Act.SOLVED_NO, article.id, guide.step),
                ),
            )
        )

    async def on_step_failed(self, turn: Turn, article: Article | None, step: int) -> None:
        guide = self.current_step(turn, article, step)
        turn.event(EventKind.STEP_FAILED, guide.article_id, step=guide.step)
        self._books.note(turn, Author.USER, f"step {guide.step} did not work", guide.article_id)
        await self._desk.hand_off(
            turn, HandoffReason.STEP_FAILED, article_id=guide.article_id, failed_step=guide.step
        )

    async def on_resume(self, turn: Turn, article: Article | None, step: int) -> None:
        guide = self.current_step(turn, article, step)
        art = need(turn, article, Phase.GUIDE)
        self.send_step(turn, art, guide.step)

    async def on_solved_yes(self, turn: Turn, article: Article | None, step: int) -> None:
        await self.confirm(turn, self.confirming(turn, article), solved=True)

    async def on_solved_no(self, turn: Turn, article: Article | None, step: int) -> None:
        await self.confirm(turn, self.confirming(turn, article), solved=False)

    def confirming(self, turn: Turn, article: Article | None) -> GuidePlace:
        art = need(turn, article, Phase.CONFIRM)
        guide = turn.state.guide
        if guide is None or guide.article_id != art.id:
            raise StaleCallbackError("not the guide being confirmed")
        return guide

    async def confirm(self, turn: Turn, guide: GuidePlace, *, solved: bool) -> None:
        await self._books.feedback(turn, guide.article_id, helpful=solved)
        if solved:
            turn.say(Outgoing(Say.SOLVED))
            self._books.close(turn, "self_service")
            return
        turn.event(EventKind.STEP_FAILED, guide.article_id, step=guide.step)
        await self._desk.hand_off(
            turn, HandoffReason.STEP_FAILED, article_id=guide.article_id, failed_step=guide.step
        )

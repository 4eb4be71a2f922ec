"""The conversation engine: a state machine over ports that turns user input into replies.

Every public method takes plain values (who, what they sent or pressed) and returns a
`Reply`; it loads the user's state, changes it, saves it and records events. Nothing here
knows Telegram: the adapter decodes updates into these calls and renders the replies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from supportbot.conversation.locks import KeyedLocks
from supportbot.conversation.ports import (
    ConversationRepository,
    DuplicateDetector,
    Experiments,
    Intent,
    IntentMatcher,
    NoExperiments,
)
from supportbot.conversation.replies import (
    Act,
    Action,
    Outgoing,
    Press,
    Reply,
    Say,
    UserInfo,
    article_key,
)
from supportbot.conversation.state import (
    ConversationState,
    Feedback,
    GuidePlace,
    Phase,
    Treatment,
)
from supportbot.domain.errors import StaleCallbackError
from supportbot.domain.events import Event, EventKind, HandoffReason
from supportbot.domain.handoff import (
    Author,
    HandoffPort,
    HandoffRequest,
    HandoffState,
    OpenTicket,
    TranscriptEntry,
    UserMessage,
    UserProfile,
)
from supportbot.domain.models import Article, Decision, DecisionKind, Lang
from supportbot.domain.ports import EventLog, Suggester

logger = logging.getLogger(__name__)

# Intents that legitimately repeat ("next", "next", ...): never treated as duplicates.
_REPEATABLE = frozenset({Intent.NEXT, Intent.YES, Intent.NO, Intent.GREETING, Intent.THANKS})
_SMALL_TALK = {Intent.GREETING: Say.SMALL_TALK_HELLO, Intent.THANKS: Say.SMALL_TALK_THANKS}
# A bare "yes" / "no" / "next" with nothing to confirm or continue is not a question either.
_BARE = frozenset({Intent.YES, Intent.NO, Intent.NEXT})
# Replies in which the bot itself answered (the first one is the first response time).
_BOT_ANSWERS = frozenset(
    {
        Say.ANSWER,
        Say.SUGGEST,
        Say.STEP,
        Say.WAITING_OFFER,
        Say.ASK_SOLVED,
        Say.NO_MORE_ARTICLES,
        Say.NOT_FOUND,
    }
)
# Replies that end with the offer of a person (a typed "yes" accepts it).
_OFFERS_PERSON = frozenset({Say.NO_MORE_ARTICLES, Say.NOT_FOUND})


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class EngineParams:
    """The engine's knobs (values, not settings)."""

    default_lang: Lang = Lang.EN
    duplicate_window_s: float = 120.0
    idle_timeout_s: float = 6 * 3600.0
    transcript_limit: int = 50


@dataclass(slots=True)
class _Turn:
    """What one call accumulates: the state as it changes, messages and events."""

    state: ConversationState
    user: UserInfo
    treatment: Treatment
    now: datetime
    messages: list[Outgoing] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    message_ids: tuple[int, ...] = ()  # the channel's ids of the message being handled

    def say(self, message: Outgoing) -> None:
        self.messages.append(message)

    def event(self, kind: EventKind, article_id: str | None = None, **data: Any) -> None:
        self.events.append(
            Event(
                ts=self.now,
                kind=kind,
                conversation_id=self.state.conversation_id,
                user_id=self.state.user_id,
                ticket_id=self.state.ticket_id,
                article_id=article_id,
                data=data,
                arms=dict(self.treatment.arms),
            )
        )


class Conversation:
    """The user side of supportbot: questions, suggestions, guides, feedback and handoff."""

    def __init__(
        self,
        *,
        suggester: Suggester,
        repository: ConversationRepository,
        handoff: HandoffPort,
        events: EventLog,
        intents: IntentMatcher,
        duplicates: DuplicateDetector,
        experiments: Experiments | None = None,
        params: EngineParams | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._suggester = suggester
        self._repo = repository
        self._handoff = handoff
        self._events = events
        self._intents = intents
        self._duplicates = duplicates
        self._experiments = experiments or NoExperiments()
        self._params = params or EngineParams()
        self._clock = clock
        self._locks = KeyedLocks()

    # --- commands ---------------------------------------------------------------------

    async def start(self, user: UserInfo) -> Reply:
        """/start: greet in the user's language and say what the bot can do."""
        return await self._run(user, lambda turn: self._simple(turn, Say.GREETING))

    async def help(self, user: UserInfo) -> Reply:
        """/help: what the bot can do."""
        return await self._run(user, lambda turn: self._simple(turn, Say.HELP))

    async def set_language(self, user: UserInfo, lang: Lang | None = None) -> Reply:
        """/lang: switch to `lang`, or to the other language when None."""

        async def change(turn: _Turn) -> None:
            new = lang or (Lang.EN if turn.state.lang is Lang.RU else Lang.RU)
            turn.state = replace(turn.state, lang=new, lang_explicit=True)
            turn.say(Outgoing(Say.LANG_CHANGED))

        return await self._run(user, change)

    async def language(self, user: UserInfo) -> Lang:
        """The language to talk to this user in (for adapters' own notices)."""
        state = await self._repo.load(user.user_id)
        if state is not None and state.lang_explicit:
            return state.lang
        return self._lang_from_code(user.language_code)

    async def ask_person(self, user: UserInfo) -> Reply:
        """/operator or a "Talk to a person" button: hand off now."""
        return await self._run(user, self._person)

    async def mark_blocked(self, user_id: int) -> None:
        """The user blocked the bot (a send was refused): remembered until they write again."""
        await self._repo.set_blocked(user_id, True)

    async def is_blocked(self, user_id: int) -> bool:
        """True while the user has the bot blocked."""
        return await self._repo.is_blocked(user_id)

    # --- messages ---------------------------------------------------------------------

    async def handle_text(
        self, user: UserInfo, text: str, message_ids: Sequence[int] = ()
    ) -> Reply:
        """Any text from the user: a question, an intent, or a message for the operator.

        `message_ids` are the channel's ids of the message (an album's parts): what the
        desk forwards to the person handling the user, if one is.
        """
        return await self._run(
            user, lambda turn: self._text(turn, text.strip()), received=True, ids=message_ids
        )

    async def handle_media(
        self, user: UserInfo, caption: str | None, message_ids: Sequence[int] = ()
    ) -> Reply:
        """A photo, voice, sticker or document: the caption is the question, if any."""
        if caption and caption.strip():
            return await self.handle_text(user, caption, message_ids)

        async def no_words(turn: _Turn) -> None:
            ticket = await self._ticket_of(turn)
            if ticket is not None:
                # The operator sees the media (the desk forwards it); the bot stays quiet
                # unless the user is still waiting for someone to pick it up.
                await self._forward(turn, ticket, None)
                if ticket.waiting:
                    turn.say(Outgoing(Say.WAIT_NOTED))
                return
            turn.say(Outgoing(Say.DESCRIBE_IN_WORDS, actions=(Action(Act.PERSON),)))
            if turn.state.phase is Phase.GUIDE:
                self._resume_hint(turn)

        return await self._run(user, no_words, received=True, ids=message_ids)

    # --- buttons ----------------------------------------------------------------------

    async def press(self, user: UserInfo, press: Press) -> Reply:
        """A button press. Raises `StaleCallbackError` when the button is out of date."""
        return await self._run(user, lambda turn: self._press(turn, press))

    # --- the machinery ----------------------------------------------------------------

    async def _run(
        self,
        user: UserInfo,
        body: Callable[[_Turn], Any],
        *,
        received: bool = False,
        ids: Sequence[int] = (),
    ) -> Reply:
        async with self._locks.hold(user.user_id):
            now = self._clock()
            state = await self._load(user, now)
            turn = _Turn(state, user, self._experiments.treatment(user.user_id), now)
            turn.message_ids = tuple(ids)
            if received and await self._repo.is_blocked(user.user_id):
                # Writing to the bot unblocks it, as Telegram does.
                await self._repo.set_blocked(user.user_id, False)
            await body(turn)
            if received:
                # Recorded first, but only now: the message belongs to the conversation it
                # ended up in (a first question opens a new one).
                turn.event(EventKind.MESSAGE_RECEIVED, lang=turn.state.lang.value)
                turn.events.insert(0, turn.events.pop())
            if any(m.say in _BOT_ANSWERS for m in turn.messages):
                turn.event(EventKind.BOT_REPLY)
            turn.state = replace(
                turn.state,
                updated_at=now,
                person_offered=any(m.say in _OFFERS_PERSON for m in turn.messages),
            )
            await self._repo.save(turn.state)
            if turn.events:
                await self._events.append_many(turn.events)
            return Reply(
                lang=turn.state.lang,
                conversation=turn.state.number,
                messages=tuple(turn.messages),
            )

    async def _load(self, user: UserInfo, now: datetime) -> ConversationState:
        state = await self._repo.load(user.user_id)
        if state is None:
            return ConversationState(user.user_id, self._lang_from_code(user.language_code))
        if not state.lang_explicit:
            state = replace(state, lang=self._lang_from_code(user.language_code))
        return state

    def _lang_from_code(self, code: str | None) -> Lang:
        prefix = (code or "").split("-")[0].lower()
        return Lang(prefix) if prefix in {"ru", "en"} else self._params.default_lang

    async def _simple(self, turn: _Turn, say: Say) -> None:
        turn.say(Outgoing(say))

    async def _text(self, turn: _Turn, text: str) -> None:
        if not text:
            turn.say(Outgoing(Say.EMPTY, actions=(Action(Act.PERSON),)))
            return
        await self._expire_idle(turn)
        intent = self._intents.match(text)
        person_offered = turn.state.person_offered
        if (
            intent not in _REPEATABLE
            and turn.state.is_open
            and self._is_repeat(turn.state, text, turn.now)
            and (person_offered or await self._ticket_of(turn) is not None)
        ):
            # Only a person's work or offer makes a repeat redundant; a question the bot
            # answered itself is answered again (the user may not have seen or liked it).
            turn.state = replace(turn.state, last_question_at=turn.now)
            self._note(turn, Author.USER, text)
            if person_offered:
                # Nothing is being handled yet: the offer of a person still stands.
                turn.say(Outgoing(Say.NO_MORE_ARTICLES, actions=(Action(Act.PERSON),)))
                return
            ticket = await self._ticket_of(turn)
            if ticket is not None:
                await self._forward(turn, ticket, text)
            turn.say(Outgoing(Say.ALREADY_HANDLING))
            return
        turn.state = replace(turn.state, last_question=text, last_question_at=turn.now)
        if turn.state.phase is Phase.HANDED_OFF:
            ticket = await self._ticket_of(turn)
            if ticket is not None:
                await self._with_desk(turn, text, intent, ticket)
                return
            self._close(turn, "handoff")
        phase = turn.state.phase
        # A typed "yes" accepts a person offered by the last reply (not mid-guide, where
        # "ok" means "next step").
        accepts = intent is Intent.YES and person_offered and phase is Phase.OPEN
        if intent is Intent.PERSON or accepts:
            self._note(turn, Author.USER, text)
            await self._person(turn)
            return
        if phase is Phase.GUIDE and intent in {Intent.NEXT, Intent.YES}:
            guide = turn.state.guide
            if guide is not None:
                await self._step_done(turn, guide)
                return
        if phase is Phase.CONFIRM and intent in {Intent.YES, Intent.NO}:
            guide = turn.state.guide
            if guide is not None:
                await self._confirm(turn, guide, solved=intent is Intent.YES)
                return
        if intent in _SMALL_TALK or intent in _BARE:
            # Not a question: answering it with a handoff would open an empty ticket for the
            # operators. Mid-guide, the place in the guide is kept.
            self._note(turn, Author.USER, text)
            turn.say(Outgoing(_SMALL_TALK.get(intent, Say.CLARIFY) if intent else Say.CLARIFY))
            if phase is Phase.GUIDE:
                self._resume_hint(turn)
            return
        await self._question(turn, text)

    def _is_repeat(self, state: ConversationState, text: str, now: datetime) -> bool:
        if not state.last_question or state.last_question_at is None:
            return False
        if now - state.last_question_at > timedelta(seconds=self._params.duplicate_window_s):
            return False
        return self._duplicates.is_duplicate(state.last_question, text)

    async def _expire_idle(self, turn: _Turn) -> None:
        state = turn.state
        if state.phase in {Phase.IDLE, Phase.HANDED_OFF} or state.updated_at is None:
            return
        if turn.now - state.updated_at > timedelta(seconds=self._params.idle_timeout_s):
            self._close(turn, "abandoned")

    async def _question(self, turn: _Turn, text: str) -> None:
        in_guide = turn.state.phase in {Phase.GUIDE, Phase.CONFIRM}
        if not turn.state.is_open:
            self._open(turn, text)
        self._note(turn, Author.USER, text)
        decision = await self._decide(turn, text)
        if decision.kind is DecisionKind.ANSWER and decision.best is not None:
            article = self._suggester.article(decision.best.article_id)
            if article is not None:
                self._answer(turn, article)
                if in_guide:
                    self._resume_hint(turn)
                return
        if decision.kind is not DecisionKind.HANDOFF and decision.suggestions:
            self._suggest(turn, decision)
            if in_guide:
                self._resume_hint(turn)
            return
        if in_guide:
            # A question the knowledge base cannot answer must not throw away the guide. It
            # is a new question: "nothing more on this" would imply an earlier answer.
            turn.say(Outgoing(Say.NOT_FOUND, actions=(Action(Act.PERSON),)))
            self._resume_hint(turn)
            return
        await self._hand_off(turn, HandoffReason.LOW_CONFIDENCE)

    async def _decide(self, turn: _Turn, text: str) -> Decision:
        overrides = turn.treatment.overrides
        # Only what the user turned down ("Didn't help", "None of these") for this
        # conversation's question is left out: a follow-up ("declined again, what now") may
        # need the article just shown, and a new question one shown for an earlier message.
        decision = await self._suggester.decide(
            text,
            exclude=turn.state.rejected,
            answer_threshold=overrides.answer_threshold,
            suggest_threshold=overrides.suggest_threshold,
            max_suggestions=overrides.max_suggestions,
        )
        ids = [s.article_id for s in decision.suggestions]
        turn.event(
            EventKind.DECISION,
            decision=decision.kind.value,
            confidence=round(decision.confidence, 4),
            articles=ids,
            text=text,
        )
        logger.info(
            "decision user=%d conversation=%s kind=%s confidence=%.3f articles=%s",
            turn.state.user_id,
            turn.state.conversation_id,
            decision.kind.value,
            decision.confidence,
            ids,
        )
        return decision

    def _answer(self, turn: _Turn, article: Article) -> None:
        step_by_step = turn.treatment.overrides.step_by_step is not False
        actions: list[Action] = []
        if article.has_steps and step_by_step:
            actions.append(Action(Act.GUIDE, article.id))
        actions += [
            Action(Act.HELPED, article.id),
            Action(Act.NOT_HELPED, article.id),
            Action(Act.PERSON),
        ]
        self._show(turn, [article.id])
        turn.state = replace(turn.state, offered=_merge(turn.state.offered, [article.id]))
        turn.event(EventKind.SUGGESTION_SHOWN, article.id, articles=[article.id])
        turn.say(
            Outgoing(
                Say.ANSWER,
                article=article,
                actions=tuple(actions),
                inline_steps=article.has_steps and not step_by_step,
            )
        )
        self._note(turn, Author.BOT, article.title, article.id)

    def _suggest(self, turn: _Turn, decision: Decision) -> None:
        suggestions = tuple(
            s for s in decision.suggestions if self._suggester.article(s.article_id) is not None
        )[:3]
        ids = [s.article_id for s in suggestions]
        self._show(turn, ids)
        turn.state = replace(turn.state, offered=tuple(ids))
        turn.event(EventKind.SUGGESTION_SHOWN, articles=ids)
        actions = tuple(Action(Act.OPEN, s.article_id, label=s.title) for s in suggestions)
        turn.say(
            Outgoing(
                Say.SUGGEST,
                suggestions=suggestions,
                actions=(*actions, Action(Act.NONE_OF_THESE)),
            )
        )
        self._note(turn, Author.BOT, "; ".join(s.title for s in suggestions))

    def _resume_hint(self, turn: _Turn) -> None:
        guide = turn.state.guide
        if guide is None:
            return
        turn.say(
            Outgoing(
                Say.GUIDE_RESUME,
                article=self._suggester.article(guide.article_id),
                actions=(Action(Act.RESUME, guide.article_id, guide.step),),
            )
        )

    async def _with_desk(
        self, turn: _Turn, text: str, intent: Intent | None, ticket: OpenTicket
    ) -> None:
        """A message while the desk has the user: forward it, with the articles matching it."""
        self._note(turn, Author.USER, text)
        if intent is Intent.PERSON:
            await self._forward(turn, ticket, text)
            turn.say(Outgoing(Say.ALREADY_HANDLING))
            return
        decision = await self._decide(turn, text)
        waiting = ticket.waiting
        best = decision.best
        if waiting and decision.kind is DecisionKind.ANSWER and best is not None:
            article = self._suggester.article(best.article_id)
            if article is not None:
                await self._forward(turn, ticket, text)
                self._show(turn, [article.id])
                turn.state = replace(turn.state, offered=(article.id,))
                turn.event(EventKind.SUGGESTION_SHOWN, article.id, articles=[article.id])
                turn.say(
                    Outgoing(
                        Say.WAITING_OFFER,
                        article=article,
                        actions=(
                            Action(Act.WAIT_SOLVED, article.id),
                            Action(Act.KEEP_WAITING, article.id),
                        ),
                    )
                )
                return
        await self._forward(turn, ticket, text, [s.article_id for s in decision.suggestions])
        if waiting:
            turn.say(Outgoing(Say.WAIT_NOTED))

    async def _forward(
        self, turn: _Turn, ticket: OpenTicket, text: str | None, suggestions: Sequence[str] = ()
    ) -> None:
        """The one way a user's message reaches the person handling them."""
        message = UserMessage(turn.message_ids, text)
        if not await self._handoff.forward(ticket.id, message, suggestions):
            logger.warning("ticket %d: the user's message was not forwarded", ticket.id)

    async def _ticket_of(self, turn: _Turn) -> OpenTicket | None:
        if turn.state.phase is not Phase.HANDED_OFF:
            return None
        return await self._handoff.open_ticket(turn.state.user_id)

    # --- handoff ----------------------------------------------------------------------

    async def _person(self, turn: _Turn, article_id: str | None = None) -> None:
        if turn.state.phase is Phase.HANDED_OFF:
            ticket = await self._ticket_of(turn)
            if ticket is not None:
                turn.say(Outgoing(Say.ALREADY_HANDLING))
                return
            self._close(turn, "handoff")
        if not turn.state.is_open:
            self._open(turn, turn.state.last_question)
        guide = turn.state.guide
        await self._hand_off(
            turn,
            HandoffReason.USER_ASKED,
            article_id=article_id or (guide.article_id if guide else None),
            failed_step=guide.step if guide else None,
        )

    async def _hand_off(
        self,
        turn: _Turn,
        reason: HandoffReason,
        *,
        article_id: str | None = None,
        failed_step: int | None = None,
    ) -> None:
        state = turn.state
        user = turn.user
        request = HandoffRequest(
            conversation_id=state.conversation_id,
            user=UserProfile(
                user_id=state.user_id,
                first_name=user.first_name,
                username=user.username,
                lang=state.lang,
            ),
            reason=reason,
            subject=state.subject or state.last_question,
            transcript=state.transcript,
            article_id=article_id,
            failed_step=failed_step,
            suggested_articles=state.shown,
        )
        status = await self._handoff.hand_off(request)
        turn.state = replace(
            turn.state,
            phase=Phase.HANDED_OFF,
            handoff_state=status.state,
            ticket_id=status.ticket_id,
            guide=None,
        )
        turn.event(
            EventKind.HANDOFF,
            article_id,
            reason=reason.value,
            **({"step": failed_step} if failed_step is not None else {}),
        )
        if status.state is HandoffState.ALREADY_OPEN:
            turn.say(Outgoing(Say.ALREADY_HANDLING))
        else:
            turn.say(Outgoing(Say.HANDOFF, status=status))
        self._note(turn, Author.BOT, f"handoff: {reason.value}")

    # --- presses ----------------------------------------------------------------------

    async def _press(self, turn: _Turn, press: Press) -> None:
        if press.act is Act.PERSON:
            # Asking for a person is never out of date.
            await self._person(turn)
            return
        state = turn.state
        if press.conversation != state.number or not state.is_open:
            raise StaleCallbackError("button of another conversation")
        article = self._resolve(state, press.article_key)
        handlers = {
            Act.HELPED: self._on_helped,
            Act.NOT_HELPED: self._on_not_helped,
            Act.OPEN: self._on_open,
            Act.NONE_OF_THESE: self._on_none,
            Act.GUIDE: self._on_guide,
            Act.STEP_DONE: self._on_step_done,
            Act.STEP_FAILED: self._on_step_failed,
            Act.RESUME: self._on_resume,
            Act.SOLVED_YES: self._on_solved_yes,
            Act.SOLVED_NO: self._on_solved_no,
            Act.WAIT_SOLVED: self._on_wait_solved,
            Act.KEEP_WAITING: self._on_keep_waiting,
        }
        await handlers[press.act](turn, article, press.step)

    def _resolve(self, state: ConversationState, key: str) -> Article | None:
        if not key:
            return None
        known = [*state.offered, *state.shown]
        if state.guide is not None:
            known.append(state.guide.article_id)
        for article_id in known:
            if article_key(article_id) == key:
                article = self._suggester.article(article_id)
                if article is None:
                    raise StaleCallbackError("the article is no longer served")
                return article
        raise StaleCallbackError("unknown article key")

    def _need(self, turn: _Turn, article: Article | None, *phases: Phase) -> Article:
        if article is None or turn.state.phase not in phases:
            raise StaleCallbackError("button does not fit the conversation's state")
        return article

    async def _on_helped(self, turn: _Turn, article: Article | None, step: int) -> None:
        art = self._need(turn, article, Phase.OPEN, Phase.GUIDE, Phase.CONFIRM)
        await self._feedback(turn, art.id, helpful=True)
        turn.say(Outgoing(Say.SOLVED))
        self._close(turn, "self_service")

    async def _on_not_helped(self, turn: _Turn, article: Article | None, step: int) -> None:
        art = self._need(turn, article, Phase.OPEN, Phase.GUIDE, Phase.CONFIRM)
        await self._feedback(turn, art.id, helpful=False)
        turn.state = replace(
            turn.state,
            rejected=_merge(turn.state.rejected, [art.id]),
            phase=Phase.OPEN,
            guide=None,
        )
        decision = await self._decide(turn, turn.state.subject or turn.state.last_question)
        if decision.kind is not DecisionKind.HANDOFF and decision.suggestions:
            self._suggest(turn, decision)
            return
        turn.say(Outgoing(Say.NO_MORE_ARTICLES, actions=(Action(Act.PERSON),)))

    async def _on_open(self, turn: _Turn, article: Article | None, step: int) -> None:
        art = self._need(turn, article, Phase.OPEN, Phase.GUIDE, Phase.CONFIRM)
        if art.id not in turn.state.offered:
            raise StaleCallbackError("the article was not offered")
        turn.event(EventKind.ARTICLE_OPENED, art.id)
        turn.state = replace(turn.state, phase=Phase.OPEN, guide=None)
        self._answer(turn, art)

    async def _on_none(self, turn: _Turn, article: Article | None, step: int) -> None:
        if turn.state.phase is Phase.HANDED_OFF:
            raise StaleCallbackError("already handed off")
        turn.state = replace(
            turn.state, rejected=_merge(turn.state.rejected, turn.state.offered), offered=()
        )
        await self._hand_off(turn, HandoffReason.NOT_HELPFUL)

    async def _on_guide(self, turn: _Turn, article: Article | None, step: int) -> None:
        art = self._need(turn, article, Phase.OPEN, Phase.GUIDE, Phase.CONFIRM)
        if not art.has_steps:
            raise StaleCallbackError("the article has no steps any more")
        turn.event(EventKind.ARTICLE_OPENED, art.id, guide=True)
        turn.state = replace(turn.state, phase=Phase.GUIDE, guide=GuidePlace(art.id, 1))
        self._send_step(turn, art, 1)

    def _send_step(self, turn: _Turn, article: Article, number: int) -> None:
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
        self._note(turn, Author.BOT, f"step {number}: {step.text}", article.id)

    def _current_step(self, turn: _Turn, article: Article | None, step: int) -> GuidePlace:
        guide = turn.state.guide
        art = self._need(turn, article, Phase.GUIDE)
        if guide is None or guide.article_id != art.id or guide.step != step:
            raise StaleCallbackError("not the current step")
        if not 1 <= step <= len(art.steps):
            raise StaleCallbackError("the guide changed")
        return guide

    async def _on_step_done(self, turn: _Turn, article: Article | None, step: int) -> None:
        await self._step_done(turn, self._current_step(turn, article, step))

    async def _step_done(self, turn: _Turn, guide: GuidePlace) -> None:
        article = self._suggester.article(guide.article_id)
        if article is None or guide.step > len(article.steps):
            # The guide vanished or shrank under a reload: let a person take it from here.
            await self._hand_off(turn, HandoffReason.STEP_FAILED, article_id=guide.article_id)
            return
        turn.event(EventKind.STEP_DONE, article.id, step=guide.step)
        if guide.step < len(article.steps):
            nxt = GuidePlace(article.id, guide.step + 1)
            turn.state = replace(turn.state, guide=nxt)
            self._send_step(turn, article, nxt.step)
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

    async def _on_step_failed(self, turn: _Turn, article: Article | None, step: int) -> None:
        guide = self._current_step(turn, article, step)
        turn.event(EventKind.STEP_FAILED, guide.article_id, step=guide.step)
        self._note(turn, Author.USER, f"step {guide.step} did not work", guide.article_id)
        await self._hand_off(
            turn, HandoffReason.STEP_FAILED, article_id=guide.article_id, failed_step=guide.step
        )

    async def _on_resume(self, turn: _Turn, article: Article | None, step: int) -> None:
        guide = self._current_step(turn, article, step)
        art = self._need(turn, article, Phase.GUIDE)
        self._send_step(turn, art, guide.step)

    async def _on_solved_yes(self, turn: _Turn, article: Article | None, step: int) -> None:
        await self._confirm(turn, self._confirming(turn, article), solved=True)

    async def _on_solved_no(self, turn: _Turn, article: Article | None, step: int) -> None:
        await self._confirm(turn, self._confirming(turn, article), solved=False)

    def _confirming(self, turn: _Turn, article: Article | None) -> GuidePlace:
        art = self._need(turn, article, Phase.CONFIRM)
        guide = turn.state.guide
        if guide is None or guide.article_id != art.id:
            raise StaleCallbackError("not the guide being confirmed")
        return guide

    async def _confirm(self, turn: _Turn, guide: GuidePlace, *, solved: bool) -> None:
        await self._feedback(turn, guide.article_id, helpful=solved)
        if solved:
            turn.say(Outgoing(Say.SOLVED))
            self._close(turn, "self_service")
            return
        turn.event(EventKind.STEP_FAILED, guide.article_id, step=guide.step)
        await self._hand_off(
            turn, HandoffReason.STEP_FAILED, article_id=guide.article_id, failed_step=guide.step
        )

    async def _on_wait_solved(self, turn: _Turn, article: Article | None, step: int) -> None:
        art = self._need(turn, article, Phase.HANDED_OFF)
        await self._handoff.cancel_by_user(turn.state.user_id, solved=True)
        await self._feedback(turn, art.id, helpful=True)
        turn.say(Outgoing(Say.SOLVED))
        self._close(turn, "self_service")

    async def _on_keep_waiting(self, turn: _Turn, article: Article | None, step: int) -> None:
        art = self._need(turn, article, Phase.HANDED_OFF)
        turn.state = replace(turn.state, rejected=_merge(turn.state.rejected, [art.id]))
        turn.say(Outgoing(Say.KEEP_WAITING))

    # --- bookkeeping ------------------------------------------------------------------

    async def _feedback(self, turn: _Turn, article_id: str, *, helpful: bool) -> None:
        await self._repo.add_feedback(
            Feedback(turn.state.conversation_id, turn.state.user_id, article_id, helpful, turn.now)
        )
        turn.event(EventKind.FEEDBACK, article_id, helpful=helpful)
        self._note(
            turn, Author.USER, "helpful" if helpful else "not helpful", article_id, reaction=True
        )

    def _open(self, turn: _Turn, subject: str) -> None:
        s = turn.state
        turn.state = replace(
            s,
            number=s.number + 1,
            phase=Phase.OPEN,
            subject=subject,
            shown=(),
            rejected=(),
            offered=(),
            guide=None,
            handoff_state=None,
            ticket_id=None,
            transcript=(),
            opened_at=turn.now,
        )

    def _close(self, turn: _Turn, outcome: str) -> None:
        turn.event(EventKind.CONVERSATION_CLOSED, outcome=outcome)
        turn.state = replace(
            turn.state,
            phase=Phase.IDLE,
            person_offered=False,
            shown=(),
            rejected=(),
            offered=(),
            guide=None,
            handoff_state=None,
            ticket_id=None,
            transcript=(),
        )

    def _show(self, turn: _Turn, ids: Sequence[str]) -> None:
        turn.state = replace(turn.state, shown=_merge(turn.state.shown, ids))

    def _note(
        self,
        turn: _Turn,
        author: Author,
        text: str,
        article_id: str | None = None,
        *,
        reaction: bool = False,
    ) -> None:
        entry = TranscriptEntry(
            ts=turn.now,
            author=author,
            text=text,
            article_id=article_id,
            reaction=text.replace(" ", "_") if reaction else None,
        )
        limit = self._params.transcript_limit
        turn.state = replace(turn.state, transcript=(*turn.state.transcript, entry)[-limit:])


def _merge(existing: Sequence[str], new: Iterable[str]) -> tuple[str, ...]:
    """`existing` followed by the new ids not in it, in order."""
    return tuple(dict.fromkeys([*existing, *new]))

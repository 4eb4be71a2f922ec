"""The conversation engine: a state machine over ports that turns user input into replies.

Every public method takes plain values (who, what they sent or pressed) and returns a
`Reply`; it loads the user's state, changes it, saves it and records events. Nothing here
knows Telegram: the adapter decodes updates into these calls and renders the replies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from supportbot.conversation.answers import Answers
from supportbot.conversation.books import Books
from supportbot.conversation.desk_path import DeskPath
from supportbot.conversation.guide import Guide
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
from supportbot.conversation.state import ConversationState, Phase
from supportbot.conversation.turn import EngineParams, Turn, merge, need
from supportbot.domain.errors import StaleCallbackError
from supportbot.domain.events import EventKind, HandoffReason
from supportbot.domain.handoff import Author, HandoffPort
from supportbot.domain.models import Article, DecisionKind, Lang
from supportbot.domain.ports import EventLog, Suggester

__all__ = ["Conversation", "EngineParams"]

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
        self._events = events
        self._intents = intents
        self._duplicates = duplicates
        self._experiments = experiments or NoExperiments()
        self._params = params or EngineParams()
        self._clock = clock
        self._locks = KeyedLocks()
        self._books = Books(repository, self._params)
        self._answers = Answers(suggester, self._books)
        self._desk = DeskPath(handoff, suggester, self._books, self._answers)
        self._guide = Guide(suggester, self._books, self._desk)

    # --- commands ---------------------------------------------------------------------

    async def start(self, user: UserInfo) -> Reply:
        """/start: greet in the user's language and say what the bot can do."""
        return await self._run(user, lambda turn: self._simple(turn, Say.GREETING))

    async def help(self, user: UserInfo) -> Reply:
        """/help: what the bot can do."""
        return await self._run(user, lambda turn: self._simple(turn, Say.HELP))

    async def set_language(self, user: UserInfo, lang: Lang | None = None) -> Reply:
        """/lang: switch to `lang`, or to the other language when None."""

        async def change(turn: Turn) -> None:
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
        return await self._run(user, self._desk.person)

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

        async def no_words(turn: Turn) -> None:
            ticket = await self._desk.ticket_of(turn)
            if ticket is not None:
                # The operator sees the media (the desk forwards it); the bot stays quiet
                # unless the user is still waiting for someone to pick it up.
                await self._desk.forward(turn, ticket, None)
                if ticket.waiting:
                    turn.say(Outgoing(Say.WAIT_NOTED))
                return
            turn.say(Outgoing(Say.DESCRIBE_IN_WORDS, actions=(Action(Act.PERSON),)))
            if turn.state.phase is Phase.GUIDE:
                self._answers.resume_hint(turn)

        return await self._run(user, no_words, received=True, ids=message_ids)

    # --- buttons ----------------------------------------------------------------------

    async def press(self, user: UserInfo, press: Press) -> Reply:
        """A button press. Raises `StaleCallbackError` when the button is out of date."""
        return await self._run(user, lambda turn: self._press(turn, press))

    # --- the machinery ----------------------------------------------------------------

    async def _run(
        self,
        user: UserInfo,
        body: Callable[[Turn], Any],
        *,
        received: bool = False,
        ids: Sequence[int] = (),
    ) -> Reply:
        async with self._locks.hold(user.user_id):
            now = self._clock()
            state = await self._load(user, now)
            turn = Turn(state, user, self._experiments.treatment(user.user_id), now)
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

    async def _simple(self, turn: Turn, say: Say) -> None:
        turn.say(Outgoing(say))

    async def _text(self, turn: Turn, text: str) -> None:
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
            and (person_offered or await self._desk.ticket_of(turn) is not None)
        ):
            # Only a person's work or offer makes a repeat redundant; a question the bot
            # answered itself is answered again (the user may not have seen or liked it).
            turn.state = replace(turn.state, last_question_at=turn.now)
            self._books.note(turn, Author.USER, text)
            if person_offered:
                # Nothing is being handled yet: the offer of a person still stands.
                turn.say(Outgoing(Say.NO_MORE_ARTICLES, actions=(Action(Act.PERSON),)))
                return
            ticket = await self._desk.ticket_of(turn)
            if ticket is not None:
                await self._desk.forward(turn, ticket, text)
            turn.say(Outgoing(Say.ALREADY_HANDLING))
            return
        turn.state = replace(turn.state, last_question=text, last_question_at=turn.now)
        if turn.state.phase is Phase.HANDED_OFF:
            ticket = await self._desk.ticket_of(turn)
            if ticket is not None:
                await self._desk.with_desk(turn, text, intent, ticket)
                return
            self._books.close(turn, "handoff")
        phase = turn.state.phase
        # A typed "yes" accepts a person offered by the last reply (not mid-guide, where
        # "ok" means "next step").
        accepts = intent is Intent.YES and person_offered and phase is Phase.OPEN
        if intent is Intent.PERSON or accepts:
            self._books.note(turn, Author.USER, text)
            await self._desk.person(turn)
            return
        if phase is Phase.GUIDE and intent in {Intent.NEXT, Intent.YES}:
            guide = turn.state.guide
            if guide is not None:
                await self._guide.step_done(turn, guide)
                return
        if phase is Phase.CONFIRM and intent in {Intent.YES, Intent.NO}:
            guide = turn.state.guide
            if guide is not None:
                await self._guide.confirm(turn, guide, solved=intent is Intent.YES)
                return
        if intent in _SMALL_TALK or intent in _BARE:
            # Not a question: answering it with a handoff would open an empty ticket for the
            # operators. Mid-guide, the place in the guide is kept.
            self._books.note(turn, Author.USER, text)
            turn.say(Outgoing(_SMALL_TALK.get(intent, Say.CLARIFY) if intent else Say.CLARIFY))
            if phase is Phase.GUIDE:
                self._answers.resume_hint(turn)
            return
        await self._question(turn, text)

    def _is_repeat(self, state: ConversationState, text: str, now: datetime) -> bool:
        if not state.last_question or state.last_question_at is None:
            return False
        if now - state.last_question_at > timedelta(seconds=self._params.duplicate_window_s):
            return False
        return self._duplicates.is_duplicate(state.last_question, text)

    async def _expire_idle(self, turn: Turn) -> None:
        state = turn.state
        if state.phase in {Phase.IDLE, Phase.HANDED_OFF} or state.updated_at is None:
            return
        if turn.now - state.updated_at > timedelta(seconds=self._params.idle_timeout_s):
            self._books.close(turn, "abandoned")

    async def _question(self, turn: Turn, text: str) -> None:
        in_guide = turn.state.phase in {Phase.GUIDE, Phase.CONFIRM}
        if not turn.state.is_open:
            self._books.open(turn, text)
        self._books.note(turn, Author.USER, text)
        decision = await self._answers.decide(turn, text)
        if decision.kind is DecisionKind.ANSWER and decision.best is not None:
            article = self._suggester.article(decision.best.article_id)
            if article is not None:
                self._answers.answer(turn, article)
                if in_guide:
                    self._answers.resume_hint(turn)
                return
        if decision.kind is not DecisionKind.HANDOFF and decision.suggestions:
            self._answers.suggest(turn, decision)
            if in_guide:
                self._answers.resume_hint(turn)
            return
        if in_guide:
            # A question the knowledge base cannot answer must not throw away the guide. It
            # is a new question: "nothing more on this" would imply an earlier answer.
            turn.say(Outgoing(Say.NOT_FOUND, actions=(Action(Act.PERSON),)))
            self._answers.resume_hint(turn)
            return
        await self._desk.hand_off(turn, HandoffReason.LOW_CONFIDENCE)

    # --- presses ----------------------------------------------------------------------

    async def _press(self, turn: Turn, press: Press) -> None:
        if press.act is Act.PERSON:
            # Asking for a person is never out of date.
            await self._desk.person(turn)
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
            Act.GUIDE: self._guide.on_guide,
            Act.STEP_DONE: self._guide.on_step_done,
            Act.STEP_FAILED: self._guide.on_step_failed,
            Act.RESUME: self._guide.on_resume,
            Act.SOLVED_YES: self._guide.on_solved_yes,
            Act.SOLVED_NO: self._guide.on_solved_no,
            Act.WAIT_SOLVED: self._desk.on_wait_solved,
            Act.KEEP_WAITING: self._desk.on_keep_waiting,
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

    async def _on_helped(self, turn: Turn, article: Article | None, step: int) -> None:
        art = need(turn, article, Phase.OPEN, Phase.GUIDE, Phase.CONFIRM)
        await self._books.feedback(turn, art.id, helpful=True)
        turn.say(Outgoing(Say.SOLVED))
        self._books.close(turn, "self_service")

    async def _on_not_helped(self, turn: Turn, article: Article | None, step: int) -> None:
        art = need(turn, article, Phase.OPEN, Phase.GUIDE, Phase.CONFIRM)
        await self._books.feedback(turn, art.id, helpful=False)
        turn.state = replace(
            turn.state,
            rejected=merge(turn.state.rejected, [art.id]),
            phase=Phase.OPEN,
            guide=None,
        )
        decision = await self._answers.decide(turn, turn.state.subject or turn.state.last_question)
        if decision.kind is not DecisionKind.HANDOFF and decision.suggestions:
            self._answers.suggest(turn, decision)
            return
        turn.say(Outgoing(Say.NO_MORE_ARTICLES, actions=(Action(Act.PERSON),)))

    async def _on_open(self, turn: Turn, article: Article | None, step: int) -> None:
        art = need(turn, article, Phase.OPEN, Phase.GUIDE, Phase.CONFIRM)
        if art.id not in turn.state.offered:
            raise StaleCallbackError("the article was not offered")
        turn.event(EventKind.ARTICLE_OPENED, art.id)
        turn.state = replace(turn.state, phase=Phase.OPEN, guide=None)
        self._answers.answer(turn, art)

    async def _on_none(self, turn: Turn, article: Article | None, step: int) -> None:
        if turn.state.phase is Phase.HANDED_OFF:
            raise StaleCallbackError("already handed off")
        turn.state = replace(
            turn.state, rejected=merge(turn.state.rejected, turn.state.offered), offered=()
        )
        await self._desk.hand_off(turn, HandoffReason.NOT_HELPFUL)

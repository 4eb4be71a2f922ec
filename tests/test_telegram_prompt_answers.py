"""Button presses are answered at once, before the work they trigger is done."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fakes import TOKEN, ScriptedSuggester, running_bot
from faketg import FakeTelegram
from supportbot.domain.models import Decision

USER = 1001


@dataclass
class GatedSuggester(ScriptedSuggester):
    """Decides the first question at once; every later decision waits for `gate`."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    decided: int = 0

    async def decide(self, text: str, **kwargs: Any) -> Decision:
        self.decided += 1
        if self.decided > 1:
            await self.gate.wait()
        return await super().decide(text, **kwargs)


async def test_press_is_answered_while_its_work_is_still_running() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        tg.add_user(USER, language_code="en")
        suggester = GatedSuggester()
        async with running_bot(tg, suggester=suggester) as bot:
            (answer,) = await bot.say(USER, "I forgot my password")
            buttons = [b for row in answer.buttons for b in row]
            (not_helped,) = [b for b in buttons if b["callback_data"].startswith("b:n:")]
            pushed = tg.callback(USER, not_helped["callback_data"], answer.message_id)
            await tg.wait_for("answerCallbackQuery")  # the work waits for the gate meanwhile
            assert suggester.decided == 2
            before = len(tg.sent_to(USER))
            suggester.gate.set()
            await bot.settle(pushed)
            assert len(tg.sent_to(USER)) > before  # the work finished after all
            assert len(tg.calls_of("answerCallbackQuery")) == 1  # and did not answer twice

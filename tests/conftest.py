"""Shared fixtures: a tiny bilingual knowledge base as domain objects, the fake Bot API."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from fakes import TOKEN
from faketg import FakeTelegram
from supportbot.domain.models import Article, Lang, Step

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def make_articles() -> list[Article]:
    """Eight small articles, English and Russian, two of them guides."""
    return [
        Article(
            id="en/account/reset-password",
            title="Reset your password",
            body="If you forgot your password, request a reset link by email or SMS.",
            lang=Lang.EN,
            category="account",
            questions=("i forgot my password", "cant log in password wrong", "reset password"),
            steps=(
                Step(1, "Open the login screen and tap **Forgot password**."),
                Step(2, "Enter your phone number or email."),
                Step(3, "Open the link we sent and choose a new password."),
            ),
        ),
        Article(
            id="en/payments/card-declined",
            title="Card payment declined",
            body="A bank may decline a card payment for many reasons: limits, funds, 3-D Secure.",
            lang=Lang.EN,
            category="payments",
            questions=("my card was declined", "payment fails with my visa", "card rejected"),
        ),
        Article(
            id="en/profile/delete",
            title="Delete your profile",
            body="You can delete your profile in Settings. It can be restored within 30 days.",
            lang=Lang.EN,
            category="profile",
            questions=("how to delete my account", "remove my profile forever", "close account"),
        ),
        Article(
            id="en/notifications/missing",
            title="Notifications do not arrive",
            body="Check that notifications are allowed for the app in your phone settings.",
            lang=Lang.EN,
            category="notifications",
            questions=("no notifications", "push messages stopped", "i dont get alerts"),
        ),
        Article(
            id="ru/account/reset-password",
            title="Как восстановить пароль",
            body="Если вы забыли пароль, запросите ссылку для сброса по почте или SMS.",
            lang=Lang.RU,
            category="account",
            questions=("забыл пароль", "не могу войти неверный пароль", "сбросить пароль"),
            steps=(
                Step(1, "Откройте экран входа и нажмите **Забыли пароль**."),
                Step(2, "Введите номер телефона или почту."),
            ),
        ),
        Article(
            id="ru/payments/card-declined",
            title="Оплата картой отклонена",
            body="Банк может отклонить платёж по карте: лимиты, нет средств, 3-D Secure.",
            lang=Lang.RU,
            category="payments",
            questions=("карта отклонена", "не проходит оплата картой", "платеж не прошел"),
        ),
        Article(
            id="ru/profile/delete",
            title="Удаление профиля",
            body="Удалить профиль можно в настройках. Восстановить его можно в течение 30 дней.",
            lang=Lang.RU,
            category="profile",
            questions=("как удалить аккаунт", "удалить страницу навсегда", "удалить профиль"),
        ),
        Article(
            id="ru/notifications/missing",
            title="Не приходят уведомления",
            body="Проверьте, что уведомления разрешены для приложения в настройках телефона.",
            lang=Lang.RU,
            category="notifications",
            questions=("нет уведомлений", "пуши не приходят", "не приходят оповещения"),
        ),
    ]


@pytest.fixture
def articles() -> list[Article]:
    """The tiny bilingual knowledge base."""
    return make_articles()


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    """The fake Bot API server on 127.0.0.1, for the bot under test to talk to."""
    async with FakeTelegram(token=TOKEN) as server:
        yield server

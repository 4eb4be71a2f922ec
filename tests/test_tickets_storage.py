"""Contract tests: the SQLite and in-memory desk repositories behave the same."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supportbot.desk.models import (
    Ban,
    ClosedBy,
    MessageLink,
    NewTicket,
    Operator,
    TicketStatus,
)
from supportbot.desk.ports import StaffRepository, TicketRepository
from supportbot.domain.handoff import Author, TranscriptEntry
from supportbot.domain.models import Lang
from supportbot.storage import tickets
from supportbot.storage.db import Database
from supportbot.storage.tickets import (
    InMemoryStaffRepository,
    InMemoryTicketRepository,
    SqliteStaffRepository,
    SqliteTicketRepository,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
async def repos(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[TicketRepository, StaffRepository]]:
    if request.param == "memory":
        yield InMemoryTicketRepository(), InMemoryStaffRepository()
        return
    db = await Database.open(tmp_path / "t.sqlite3", tickets.MIGRATIONS)
    yield SqliteTicketRepository(db), SqliteStaffRepository(db)
    await db.close()


def _draft(user_id: int, minutes: int = 0) -> NewTicket:
    return NewTicket(
        user_id=user_id,
        conversation_id=f"{user_id}-1",
        user_name="Иван",
        username="ivan",
        lang=Lang.RU,
        subject="карта отклонена",
        reason="low_confidence",
        created_at=NOW + timedelta(minutes=minutes),
        transcript=(TranscriptEntry(NOW, Author.BOT, "Оплата", "ru/payments/x", "not_helpful"),),
        suggested_category="payments",
        assist_articles=("ru/payments/x",),
    )


async def test_tickets_storage_round_trips_every_field(
    repos: tuple[TicketRepository, StaffRepository],
) -> None:
    repo, _ = repos
    created = await repo.create(_draft(7))
    assert created.id == 1
    assert created.status is TicketStatus.QUEUED
    full = replace(
        created,
        status=TicketStatus.CLOSED,
        operator_id=77,
        operator_name="Olga",
        assigned_at=NOW,
        topic_id=11,
        card_message_id=12,
        first_response_at=NOW,
        response_times=(1.5, 30.0),
        pending_copies=(3, 4),
        closed_at=NOW + timedelta(minutes=5),
        closed_by=ClosedBy.OPERATOR,
        category="payments",
        subcategory="refunds",
        solved=True,
        rating=5,
        comment="спасибо",
    )
    assert await repo.save(full)
    assert await repo.get(1) == full
    assert await repo.by_topic(11) == full
    assert await repo.by_card(12) == full
    assert await repo.latest_for_user(7) == full
    assert await repo.recent_handling_s(10) == [300.0]


async def test_tickets_storage_save_with_expect_is_compare_and_set(
    repos: tuple[TicketRepository, StaffRepository],
) -> None:
    repo, _ = repos
    ticket = await repo.create(_draft(7))
    first = replace(ticket, status=TicketStatus.ASSIGNED, operator_id=1)
    second = replace(ticket, status=TicketStatus.ASSIGNED, operator_id=2)
    assert await repo.save(first, expect=TicketStatus.QUEUED)
    assert not await repo.save(second, expect=TicketStatus.QUEUED)
    stored = await repo.get(ticket.id)
    assert stored is not None
    assert stored.operator_id == 1


async def test_tickets_storage_open_tickets_oldest_first(
    repos: tuple[TicketRepository, StaffRepository],
) -> None:
    repo, _ = repos
    late = await repo.create(_draft(1, minutes=5))
    early = await repo.create(_draft(2, minutes=1))
    closed = await repo.create(_draft(3))
    await repo.save(replace(closed, status=TicketStatus.CLOSED, closed_at=NOW))
    assert [t.id for t in await repo.open_tickets()] == [early.id, late.id]
    assert await repo.latest_for_user(4) is None


async def test_tickets_storage_operators_bans_and_links(
    repos: tuple[TicketRepository, StaffRepository],
) -> None:
    repo, staff = repos
    ticket = await repo.create(_draft(7))
    await staff.save_operator(Operator(77, "Olga"))
    await staff.save_operator(Operator(77, "Olga K", online=True, last_assigned_at=NOW))
    assert await staff.operators() == [Operator(77, "Olga K", True, NOW)]
    await staff.save_ban(Ban(7, NOW, 77))
    await staff.save_ban(Ban(7, NOW, 77, notified=True))
    assert await staff.bans() == [Ban(7, NOW, 77, True)]
    await staff.remove_ban(7)
    await staff.remove_ban(7)
    assert await staff.bans() == []
    link = MessageLink(ticket.id, 7, 10, 500, from_user=True)
    await staff.add_link(link)
    assert await staff.link_of_user_message(7, 10) == link
    assert await staff.link_of_user_message(8, 10) is None
    assert await staff.link_of_staff_message(500) == link
    assert await staff.link_of_staff_message(501) is None


async def test_tickets_storage_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    db = await Database.open(path, tickets.MIGRATIONS)
    ticket = await SqliteTicketRepository(db).create(_draft(7))
    await SqliteStaffRepository(db).save_operator(Operator(77, "Olga", online=True))
    await db.close()
    db = await Database.open(path, tickets.MIGRATIONS)
    try:
        assert await SqliteTicketRepository(db).get(ticket.id) == ticket
        assert [o.name for o in await SqliteStaffRepository(db).operators()] == ["Olga"]
    finally:
        await db.close()


def test_tickets_storage_reads_tickets_stored_by_earlier_versions() -> None:
    # As the hand-written codec wrote them: ISO times with +00:00, a field since removed,
    # and no `operator_name` (added later: it takes its default).
    raw = (
        '{"id": 3, "user_id": 7, "conversation_id": "7-1", "user_name": "Ivan",'
        ' "created_at": "2026-03-02T10:00:00+00:00", "queued_at": "2026-03-02T10:00:00+00:00",'
        ' "lang": "ru", "status": "assigned", "operator_id": 77, "response_times": [1.5],'
        ' "transcript": [{"ts": "2026-03-02T10:00:00+00:00", "author": "user", "text": "hi",'
        ' "article_id": null, "reaction": null}], "closed_by": null, "retired_field": 1}'
    )
    ticket = tickets.decode_ticket(raw)
    assert (ticket.id, ticket.lang, ticket.status, ticket.operator_id) == (
        3,
        Lang.RU,
        TicketStatus.ASSIGNED,
        77,
    )
    assert ticket.operator_name is None
    assert ticket.created_at == NOW
    assert ticket.transcript == (TranscriptEntry(NOW, Author.USER, "hi"),)
    assert tickets.decode_ticket(tickets.encode_ticket(ticket)) == ticket

"""Desk storage: tickets, operators, bans and relayed-message links; SQLite and in-memory."""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from supportbot.desk.models import (
    Ban,
    MessageLink,
    NewTicket,
    Operator,
    Ticket,
    TicketStatus,
)
from supportbot.storage.codec import dt, parse_dt
from supportbot.storage.db import Database, Migration

MIGRATIONS: list[Migration] = [
    (
        "tickets_001",
        """
        CREATE TABLE IF NOT EXISTS tickets (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL,
            status TEXT NOT NULL,
            operator_id INTEGER,
            topic_id INTEGER,
            card_message_id INTEGER,
            queued_at TEXT NOT NULL,
            closed_at TEXT,
            handling_s REAL,
            data TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS tickets_user ON tickets (user_id, id);
        CREATE INDEX IF NOT EXISTS tickets_open ON tickets (status, queued_at);
        CREATE INDEX IF NOT EXISTS tickets_topic ON tickets (topic_id);
        CREATE INDEX IF NOT EXISTS tickets_card ON tickets (card_message_id);
        CREATE TABLE IF NOT EXISTS desk_operators (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            online INTEGER NOT NULL,
            last_assigned_at TEXT
        );
        CREATE TABLE IF NOT EXISTS desk_bans (
            user_id INTEGER PRIMARY KEY,
            banned_at TEXT NOT NULL,
            by INTEGER NOT NULL,
            notified INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS desk_message_links (
            ticket_id INTEGER NOT NULL,
            user_id INTEGER NOT NULL,
            user_message_id INTEGER NOT NULL,
            staff_message_id INTEGER NOT NULL,
            from_user INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS desk_links_user
            ON desk_message_links (user_id, user_message_id);
        CREATE INDEX IF NOT EXISTS desk_links_staff ON desk_message_links (staff_message_id);
        """,
    )
]


@functools.cache
def _tickets() -> TypeAdapter[Ticket]:
    return TypeAdapter(Ticket)


def encode_ticket(ticket: Ticket) -> str:
    """The whole ticket as JSON (one column, so it can grow without migrations)."""
    return _tickets().dump_json(ticket).decode()


def decode_ticket(raw: str) -> Ticket:
    """The inverse of `encode_ticket`; fields added later take their defaults, fields
    removed since are ignored."""
    return _tickets().validate_json(raw)


def _from_draft(ticket_id: int, draft: NewTicket) -> Ticket:
    fields = {f.name: getattr(draft, f.name) for f in dataclasses.fields(NewTicket)}
    return Ticket(id=ticket_id, queued_at=draft.created_at, **fields)


# --- in memory ------------------------------------------------------------------------


class InMemoryTicketRepository:
    """`TicketRepository` in a dict (tests, `supportbot chat`). Nothing awaits between the
    check and the write of `save(expect=...)`, so it is atomic on the event loop."""

    def __init__(self) -> None:
        self._tickets: dict[int, Ticket] = {}

    async def create(self, draft: NewTicket) -> Ticket:
        """Store a new queued ticket with the next id."""
        ticket = _from_draft(len(self._tickets) + 1, draft)
        self._tickets[ticket.id] = ticket
        return ticket

    async def get(self, ticket_id: int) -> Ticket | None:
        """One ticket by id."""
        return self._tickets.get(ticket_id)

    async def save(self, ticket: Ticket, *, expect: TicketStatus | None = None) -> bool:
        """Replace the ticket (only if its status is `expect`, when given)."""
        stored = self._tickets.get(ticket.id)
        if stored is None or (expect is not None and stored.status is not expect):
            return False
        self._tickets[ticket.id] = ticket
        return True

    async def open_tickets(self) -> list[Ticket]:
        """Open tickets, oldest in the queue first."""
        found = [t for t in self._tickets.values() if t.is_open]
        return sorted(found, key=lambda t: (t.queued_at, t.id))

    async def latest_for_user(self, user_id: int) -> Ticket | None:
        """The user's newest ticket."""
        mine = [t for t in self._tickets.values() if t.user_id == user_id]
        return max(mine, key=lambda t: t.id) if mine else None

    async def by_topic(self, topic_id: int) -> Ticket | None:
        """The newest ticket in that topic."""
        found = [t for t in self._tickets.values() if t.topic_id == topic_id]
        return max(found, key=lambda t: t.id) if found else None

    async def by_card(self, message_id: int) -> Ticket | None:
        """The ticket with that card."""
        found = [t for t in self._tickets.values() if t.card_message_id == message_id]
        return max(found, key=lambda t: t.id) if found else None

    async def recent_handling_s(self, limit: int) -> list[float]:
        """Handling times of the most recently closed tickets, newest first."""
        closed = [t for t in self._tickets.values() if t.handling_s is not None]
        closed.sort(key=lambda t: (t.closed_at, t.id), reverse=True)
        return [t.handling_s for t in closed[:limit] if t.handling_s is not None]


class InMemoryStaffRepository:
    """`StaffRepository` in dicts."""

    def __init__(self) -> None:
        self._operators: dict[int, Operator] = {}
        self._bans: dict[int, Ban] = {}
        self._links: list[MessageLink] = []

    async def save_operator(self, operator: Operator) -> None:
        """Insert or replace an operator."""
        self._operators[operator.id] = operator

    async def operators(self) -> list[Operator]:
        """Every operator, by id."""
        return sorted(self._operators.values(), key=lambda o: o.id)

    async def save_ban(self, ban: Ban) -> None:
        """Insert or replace a ban."""
        self._bans[ban.user_id] = ban

    async def remove_ban(self, user_id: int) -> None:
        """Lift a ban."""
        self._bans.pop(user_id, None)

    async def bans(self) -> list[Ban]:
        """Every ban in force."""
        return list(self._bans.values())

    async def add_link(self, link: MessageLink) -> None:
        """Remember a pair of copies."""
        self._links.append(link)

    async def link_of_user_message(self, user_id: int, message_id: int) -> MessageLink | None:
        """The newest link of a message in the user's chat."""
        for link in reversed(self._links):
            if link.user_message_id == message_id and link.user_id == user_id:
                return link
        return None

    async def link_of_staff_message(self, message_id: int) -> MessageLink | None:
        """The newest link of a message in the staff group."""
        for link in reversed(self._links):
            if link.staff_message_id == message_id:
                return link
        return None


# --- SQLite ---------------------------------------------------------------------------


class SqliteTicketRepository:
    """`TicketRepository` in SQLite; `save(expect=...)` is one conditional UPDATE."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, draft: NewTicket) -> Ticket:
        """Store a new queued ticket; SQLite allocates the id."""
        async with self._db.transaction(immediate=True) as conn:
            cursor = await conn.execute(
                "INSERT INTO tickets (user_id, status, queued_at, data) VALUES (?, ?, ?, '{}')",
                (draft.user_id, TicketStatus.QUEUED.value, dt(draft.created_at)),
            )
            if cursor.lastrowid is None:
                raise RuntimeError("SQLite did not return the new ticket's id")
            ticket = _from_draft(cursor.lastrowid, draft)
            await conn.execute(
                "UPDATE tickets SET data = ? WHERE id = ?", (encode_ticket(ticket), ticket.id)
            )
        return ticket

    async def get(self, ticket_id: int) -> Ticket | None:
        """One ticket by id."""
        return await self._one("SELECT data FROM tickets WHERE id = ?", (ticket_id,))

    async def save(self, ticket: Ticket, *, expect: TicketStatus | None = None) -> bool:
        """Replace the ticket (only if its stored status is `expect`, when given)."""
        sql = (
            "UPDATE tickets SET user_id = ?, status = ?, operator_id = ?, topic_id = ?, "
            "card_message_id = ?, queued_at = ?, closed_at = ?, handling_s = ?, data = ? "
            "WHERE id = ?"
        )
        params: tuple[Any, ...] = (
            ticket.user_id,
            ticket.status.value,
            ticket.operator_id,
            ticket.topic_id,
            ticket.card_message_id,
            dt(ticket.queued_at),
            dt(ticket.closed_at),
            ticket.handling_s,
            encode_ticket(ticket),
            ticket.id,
        )
        if expect is not None:
            sql += " AND status = ?"
            params = (*params, expect.value)
        async with self._db.transaction() as conn:
            cursor = await conn.execute(sql, params)
            return cursor.rowcount == 1

    async def open_tickets(self) -> list[Ticket]:
        """Open tickets, oldest in the queue first."""
        return await self._many(
            "SELECT data FROM tickets WHERE status != ? ORDER BY queued_at, id",
            (TicketStatus.CLOSED.value,),
        )

    async def latest_for_user(self, user_id: int) -> Ticket | None:
        """The user's newest ticket."""
        return await self._one(
            "SELECT data FROM tickets WHERE user_id = ? ORDER BY id DESC LIMIT 1", (user_id,)
        )

    async def by_topic(self, topic_id: int) -> Ticket | None:
        """The newest ticket in that topic."""
        return await self._one(
            "SELECT data FROM tickets WHERE topic_id = ? ORDER BY id DESC LIMIT 1", (topic_id,)
        )

    async def by_card(self, message_id: int) -> Ticket | None:
        """The ticket with that card."""
        return await self._one(
            "SELECT data FROM tickets WHERE card_message_id = ? ORDER BY id DESC LIMIT 1",
            (message_id,),
        )

    async def recent_handling_s(self, limit: int) -> list[float]:
        """Handling times of the most recently closed tickets, newest first."""
        async with self._db.connection.execute(
            "SELECT handling_s FROM tickets WHERE handling_s IS NOT NULL "
            "ORDER BY closed_at DESC, id DESC LIMIT ?",
            (limit,),
        ) as cursor:
            return [float(row[0]) for row in await cursor.fetchall()]

    async def _one(self, sql: str, params: tuple[Any, ...]) -> Ticket | None:
        async with self._db.connection.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return decode_ticket(row[0]) if row is not None else None

    async def _many(self, sql: str, params: tuple[Any, ...]) -> list[Ticket]:
        async with self._db.connection.execute(sql, params) as cursor:
            return [decode_ticket(row[0]) for row in await cursor.fetchall()]


class SqliteStaffRepository:
    """`StaffRepository` in SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def save_operator(self, operator: Operator) -> None:
        """Insert or replace an operator."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO desk_operators (id, name, online, last_assigned_at) "
                "VALUES (?, ?, ?, ?)",
                (operator.id, operator.name, int(operator.online), dt(operator.last_assigned_at)),
            )

    async def operators(self) -> list[Operator]:
        """Every operator, by id."""
        async with self._db.connection.execute(
            "SELECT id, name, online, last_assigned_at FROM desk_operators ORDER BY id"
        ) as cursor:
            rows = await cursor.fetchall()
        return [Operator(r[0], r[1], bool(r[2]), parse_dt(r[3])) for r in rows]

    async def save_ban(self, ban: Ban) -> None:
        """Insert or replace a ban."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO desk_bans (user_id, banned_at, by, notified) "
                "VALUES (?, ?, ?, ?)",
                (ban.user_id, dt(ban.banned_at), ban.by, int(ban.notified)),
            )

    async def remove_ban(self, user_id: int) -> None:
        """Lift a ban."""
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM desk_bans WHERE user_id = ?", (user_id,))

    async def bans(self) -> list[Ban]:
        """Every ban in force."""
        async with self._db.connection.execute(
            "SELECT user_id, banned_at, by, notified FROM desk_bans ORDER BY user_id"
        ) as cursor:
            rows = await cursor.fetchall()
        return [Ban(r[0], datetime.fromisoformat(r[1]), r[2], bool(r[3])) for r in rows]

    async def add_link(self, link: MessageLink) -> None:
        """Remember a pair of copies (the user is the ticket's)."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO desk_message_links "
                "(ticket_id, user_id, user_message_id, staff_message_id, from_user) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    link.ticket_id,
                    link.user_id,
                    link.user_message_id,
                    link.staff_message_id,
                    int(link.from_user),
                ),
            )

    async def link_of_user_message(self, user_id: int, message_id: int) -> MessageLink | None:
        """The newest link of a message in the user's chat."""
        return await self._link(
            "WHERE user_id = ? AND user_message_id = ? ORDER BY rowid DESC LIMIT 1",
            (user_id, message_id),
        )

    async def link_of_staff_message(self, message_id: int) -> MessageLink | None:
        """The newest link of a message in the staff group."""
        return await self._link(
            "WHERE staff_message_id = ? ORDER BY rowid DESC LIMIT 1", (message_id,)
        )

    async def _link(self, where: str, params: tuple[Any, ...]) -> MessageLink | None:
        async with self._db.connection.execute(
            "SELECT ticket_id, user_id, user_message_id, staff_message_id, from_user "
            f"FROM desk_message_links {where}",
            params,
        ) as cursor:
            row = await cursor.fetchone()
        return MessageLink(row[0], row[1], row[2], row[3], bool(row[4])) if row else None

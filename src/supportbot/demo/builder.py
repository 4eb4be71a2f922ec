"""A demo day's events gathered stage by stage as columns, and the batch they end up in."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from supportbot.analytics.table import (
    NO_CODE,
    NONE_ID,
    EventColumns,
    conversation_key,
    from_micros,
)
from supportbot.domain.events import Event, EventKind

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]
Objects = npt.NDArray[np.object_]


@dataclass(frozen=True, slots=True)
class DemoBatch:
    """One demo day: its events as columns (`event_id` = position) and each row's texts."""

    columns: EventColumns
    conversation_ids: list[str]
    data: list[str | None]
    """The JSON object each event row stores as `data` (None when empty)."""

    def __len__(self) -> int:
        return len(self.columns)

    def to_arrow(self, first_id: int) -> pa.Table:
        """The rows as an event log stores them (`RAW_SCHEMA`), with ids from `first_id`."""
        c = self.columns
        table = np.empty(len(c.strings) + 1, dtype=object)  # index -1 (NO_CODE) is None
        table[:-1] = c.strings
        table[-1] = None

        def ids(values: I64) -> pa.Array:
            return pa.array(values, mask=values == NONE_ID, type=pa.int64())

        return pa.table(
            {
                "id": pa.array(np.arange(first_id, first_id + len(c), dtype=np.int64)),
                "ts": pa.array(c.ts),
                "kind": pa.array(table[c.kind], type=pa.string()),
                "conversation_id": pa.array(self.conversation_ids, type=pa.string()),
                "user_id": pa.array(c.user),
                "ticket_id": ids(c.ticket),
                "operator_id": ids(c.operator),
                "article_id": pa.array(table[c.article], type=pa.string()),
                "data": pa.array(self.data, type=pa.string()),
                "arms": pa.array(table[c.arms], type=pa.string()),
            }
        )

    def events(self) -> list[Event]:
        """The same events as `Event` objects (for in-memory logs and tests; slow for a month)."""
        c = self.columns
        strings = c.strings
        arms: dict[int, dict[str, str]] = {}
        out: list[Event] = []
        for i, (ts, kind, user, ticket, operator, article, arm) in enumerate(
            zip(
                c.ts.tolist(),
                c.kind.tolist(),
                c.user.tolist(),
                c.ticket.tolist(),
                c.operator.tolist(),
                c.article.tolist(),
                c.arms.tolist(),
                strict=True,
            )
        ):
            if arm not in arms:
                arms[arm] = json.loads(strings[arm]) if arm != NO_CODE else {}
            data = self.data[i]
            out.append(
                Event(
                    ts=from_micros(ts),
                    kind=EventKind(strings[kind]),
                    conversation_id=self.conversation_ids[i],
                    user_id=user,
                    ticket_id=None if ticket == NONE_ID else ticket,
                    operator_id=None if operator == NONE_ID else operator,
                    article_id=None if article == NO_CODE else strings[article],
                    data=json.loads(data) if data else {},
                    arms=arms[arm],
                )
            )
        return out


class Strings:
    """The string dictionary of one batch (codes as `EventColumns` uses them)."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def code(self, text: str) -> int:
        found = self._codes.get(text)
        if found is None:
            found = self._codes[text] = len(self._codes)
        return found

    def codes(self, texts: Sequence[str]) -> I32:
        return np.array([self.code(t) for t in texts], dtype=np.int32)

    def table(self) -> tuple[str, ...]:
        return tuple(self._codes)


def to_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def object_array(texts: Sequence[str | None]) -> Objects:
    out = np.empty(len(texts), dtype=object)
    out[:] = texts
    return out


_Column = npt.NDArray[Any] | int | float | None


class Day:
    """Events of one day gathered stage by stage; each conversation's stages in order."""

    _FIELDS = ("ticket", "operator", "article", "label", "label2", "items", "value", "flag")
    _FILL: ClassVar[Mapping[str, tuple[float, type]]] = {
        "ticket": (NONE_ID, np.int64),
        "operator": (NONE_ID, np.int64),
        "article": (NO_CODE, np.int32),
        "label": (NO_CODE, np.int32),
        "label2": (NO_CODE, np.int32),
        "items": (NO_CODE, np.int32),
        "value": (np.nan, np.float64),
        "flag": (-1, np.int8),
    }

    def __init__(self, strings: Strings) -> None:
        self.strings = strings
        self.parts: dict[str, list[npt.NDArray[np.generic]]] = {
            name: [] for name in ("conv", "at", "kind", "seq", "data", *self._FIELDS)
        }
        self._seq = 0

    def add(
        self,
        conv: I64,
        at: F64,
        kind: EventKind,
        data: str | Objects | None = None,
        **fields: _Column,
    ) -> None:
        """Events of `kind` for conversations `conv` at `at` seconds after their start.

        `fields` are column values (arrays aligned with `conv`, or one value for all).
        """
        m = int(conv.size)
        if m == 0:
            return
        self._seq += 1
        self.parts["conv"].append(conv)
        self.parts["at"].append(np.broadcast_to(np.asarray(at, dtype=np.float64), (m,)))
        self.parts["kind"].append(np.full(m, self.strings.code(str(kind)), dtype=np.int32))
        self.parts["seq"].append(np.full(m, self._seq, dtype=np.int32))
        if data is None or isinstance(data, str):
            self.parts["data"].append(np.full(m, data, dtype=object))
        else:
            self.parts["data"].append(data)
        for name in self._FIELDS:
            fill, dtype = self._FILL[name]
            value = fields.get(name)
            column = np.full(m, fill, dtype=dtype) if value is None else value
            self.parts[name].append(np.broadcast_to(np.asarray(column, dtype=dtype), (m,)))

    def received(self, conv: I64, at: F64, texts: Sequence[str], langs: Sequence[str]) -> None:
        """`message_received` events of the users' `texts` (written in `langs`)."""
        self.add(
            conv,
            at,
            EventKind.MESSAGE_RECEIVED,
            object_array(
                [
                    to_json({"lang": lang, "text_len": len(t)})
                    for lang, t in zip(langs, texts, strict=True)
                ]
            ),
            value=np.array([len(t) for t in texts], dtype=np.float64),
            label=np.array([self.strings.code(lang) for lang in langs], dtype=np.int32),
        )

    def finish(
        self,
        t0: I64,
        users: I64,
        arms: I32,
        conversation_ids: list[str],
        end_us: int,
    ) -> DemoBatch:
        """Time-ordered columns of everything before `end_us`."""
        if not self.parts["conv"]:
            empty = EventColumns.empty()
            return DemoBatch(empty, [], [])
        joined = {name: np.concatenate(parts) for name, parts in self.parts.items()}
        conv = joined["conv"].astype(np.int64)
        ts = t0[conv] + np.round(joined["at"] * 1e6).astype(np.int64)
        keep = np.nonzero(ts < end_us)[0]
        # Time order; ties within a conversation keep the order the stages were added in.
        order = keep[np.lexsort((joined["seq"][keep], conv[keep], ts[keep]))]
        conv = conv[order]
        keys = np.array([conversation_key(c) for c in conversation_ids], dtype=np.int64)
        ids = object_array(conversation_ids)
        columns = EventColumns(
            event_id=np.arange(order.size, dtype=np.int64),
            ts=ts[order],
            conversation=keys[conv],
            user=users[conv],
            ticket=joined["ticket"][order],
            operator=joined["operator"][order],
            kind=joined["kind"][order],
            article=joined["article"][order],
            label=joined["label"][order],
            label2=joined["label2"][order],
            items=joined["items"][order],
            arms=arms[conv],
            value=joined["value"][order],
            flag=joined["flag"][order],
            strings=self.strings.table(),
        )
        return DemoBatch(columns, ids[conv].tolist(), joined["data"][order].tolist())

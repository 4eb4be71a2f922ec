"""Events as numpy columns: the compact form every KPI is computed on.

Reports over a month touch millions of events; Python objects per event would not fit the
time budget, so the event store hands the analytics an `EventColumns` (one array per field,
strings as codes into a small dictionary). Which `data` key lands in which column is said
once, here (`VALUE_KEY` ...): `from_events` applies it to a few live events in Python, and
the DuckDB event store turns the same tables into SQL for millions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from supportbot.domain.events import Event, EventKind

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]
F64 = npt.NDArray[np.float64]

NONE_ID = np.iinfo(np.int64).min
"""Stands for a missing ticket or operator id in the integer columns."""

NO_CODE = -1
"""Stands for a missing string (article, label, ...) in the code columns."""

ITEM_SEP = "\x1f"
"""Joins article ids of one suggestion into a single dictionary string (ids never hold it)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)

# Which `data` key of which kind lands in which compact column. Anything else stays in the
# row log only: reports never need it, and keeping columns few keeps reads fast.
VALUE_KEY: dict[str, str] = {
    EventKind.MESSAGE_RECEIVED: "text_len",
    EventKind.DECISION: "confidence",
    EventKind.STEP_DONE: "step",
    EventKind.STEP_FAILED: "step",
    EventKind.QUEUED: "position",
    EventKind.RATING: "score",
    EventKind.CLOSED: "reopened",
    EventKind.FCR: "reopened",
}
FLAG_KEY: dict[str, str] = {
    EventKind.FEEDBACK: "helpful",
    EventKind.CLOSED: "solved_by_bot",
    EventKind.FCR: "solved",
}
LABEL_KEY: dict[str, str] = {
    EventKind.MESSAGE_RECEIVED: "lang",
    EventKind.DECISION: "decision",
    EventKind.HANDOFF: "reason",
    EventKind.CLOSED: "category",
    EventKind.CONVERSATION_CLOSED: "outcome",
    EventKind.TAKEN: "operator",
    EventKind.OPERATOR_REPLY: "operator",
}
LABEL2_KEY: dict[str, str] = {EventKind.CLOSED: "subcategory"}
ITEMS_KEY: dict[str, str] = {
    EventKind.DECISION: "articles",
    EventKind.SUGGESTION_SHOWN: "articles",
}

_INT_FIELDS = ("event_id", "ts", "conversation", "user", "ticket", "operator")
_CODE_FIELDS = ("kind", "article", "label", "label2", "items", "arms")


def to_micros(ts: datetime) -> int:
    """Microseconds since the epoch; naive datetimes are refused (they hide time-zone bugs)."""
    try:
        return (ts - _EPOCH) // _ONE_US
    except TypeError:
        raise ValueError(f"event timestamps must be timezone-aware, got {ts!r}") from None


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime for microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=micros)


def conversation_key(conversation_id: str) -> int:
    """A stable signed 64-bit key for a conversation id (collisions are ~1e-8 at 1e6 ids)."""
    digest = hashlib.blake2b(conversation_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def arms_key(arms: Mapping[str, str]) -> str:
    """The canonical string of an arms mapping (one dictionary entry per combination)."""
    return json.dumps(dict(sorted(arms.items())), ensure_ascii=False, separators=(",", ":"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True, slots=True)
class EventColumns:
    """Events as parallel arrays, in log order.

    Integer ids use `NONE_ID` for "absent", codes use `NO_CODE`, `value` uses NaN and `flag`
    uses -1. Codes index `strings`. `event_id` identifies the row in its log so rarely needed
    fields (the message text) can be fetched for a few events later.
    """

    event_id: I64
    ts: I64
    conversation: I64
    user: I64
    ticket: I64
    operator: I64
    kind: I32
    article: I32
    label: I32
    label2: I32
    items: I32
    arms: I32
    value: F64
    flag: I8
    strings: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def empty(cls) -> EventColumns:
        """No events."""
        return cls.from_events([], [])

    @classmethod
    def from_events(
        cls,
        events: Sequence[Event],
        event_ids: Sequence[int],
        micros: Sequence[int] | None = None,
    ) -> EventColumns:
        """Columns for `events`; `event_ids` are their ids in the log they came from.

        `micros` may pass the timestamps already converted by `to_micros` (saves time when
        the caller has them).
        """
        n = len(events)
        strings: dict[str, int] = {}

        def code(value: Any) -> int:
            if not isinstance(value, str):
                return NO_CODE
            found = strings.get(value)
            if found is None:
                found = strings[value] = len(strings)
            return found

        ints = np.full((6, n), NONE_ID, dtype=np.int64)
        codes = np.full((6, n), NO_CODE, dtype=np.int32)
        values = np.full(n, np.nan, dtype=np.float64)
        flags = np.full(n, -1, dtype=np.int8)
        conv_keys: dict[str, int] = {}
        arms_codes: dict[int, int] = {}  # id() of an arms dict; all are alive during the call
        if micros is None:
            micros = [to_micros(event.ts) for event in events]
        ints[0] = np.asarray(event_ids, dtype=np.int64)
        ints[1] = np.asarray(micros, dtype=np.int64)
        for i, event in enumerate(events):
            kind = event.kind
            data = event.data
            conv = conv_keys.get(event.conversation_id)
            if conv is None:
                conv = conv_keys[event.conversation_id] = conversation_key(event.conversation_id)
            ints[2, i] = conv
            ints[3, i] = event.user_id
            if event.ticket_id is not None:
                ints[4, i] = event.ticket_id
            if event.operator_id is not None:
                ints[5, i] = event.operator_id
            codes[0, i] = code(str(kind))
            codes[1, i] = code(event.article_id)
            if data:
                key = VALUE_KEY.get(kind)
                if key is not None:
                    number = _number(data.get(key))
                    if number is not None:
                        values[i] = number
                key = FLAG_KEY.get(kind)
                if key is not None and isinstance(data.get(key), bool):
                    flags[i] = int(data[key])
                key = LABEL_KEY.get(kind)
                if key is not None:
                    codes[2, i] = code(data.get(key))
                key = LABEL2_KEY.get(kind)
                if key is not None:
                    codes[3, i] = code(data.get(key))
                key = ITEMS_KEY.get(kind)
                if key is not None:
                    items = data.get(key)
                    if isinstance(items, list | tuple) and items:
                        codes[4, i] = code(ITEM_SEP.join(str(item) for item in items))
            if event.arms:
                # Events of one conversation usually share one arms dict: key it once.
                arms_code = arms_codes.get(id(event.arms))
                if arms_code is None:
                    arms_code = arms_codes[id(event.arms)] = code(arms_key(event.arms))
                codes[5, i] = arms_code
        fields: dict[str, Any] = dict(zip(_INT_FIELDS, ints, strict=True))
        fields.update(zip(_CODE_FIELDS, codes, strict=True))
        return cls(**fields, value=values, flag=flags, strings=tuple(strings))

    @classmethod
    @classmethod
    def concat(cls, parts: Sequence[EventColumns]) -> EventColumns:
        """One table from several; string codes are remapped to one shared dictionary."""
        parts = [part for part in parts if len(part)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        merged: dict[str, int] = {}
        remapped: list[dict[str, I32]] = []
        for part in parts:
            table = np.empty(len(part.strings) + 1, dtype=np.int32)
            table[-1] = NO_CODE  # index -1 (NO_CODE) maps to itself
            for index, text in enumerate(part.strings):
                found = merged.get(text)
                if found is None:
                    found = merged[text] = len(merged)
                table[index] = found
            remapped.append({name: table[getattr(part, name)] for name in _CODE_FIELDS})
        fields: dict[str, Any] = {
            name: np.concatenate([getattr(part, name) for part in parts]) for name in _INT_FIELDS
        }
        for name in _CODE_FIELDS:
            fields[name] = np.concatenate([codes[name] for codes in remapped])
        fields["value"] = np.concatenate([part.value for part in parts])
        fields["flag"] = np.concatenate([part.flag for part in parts])
        return cls(**fields, strings=tuple(merged))

    def select(self, mask: npt.NDArray[np.bool_] | I64 | slice) -> EventColumns:
        """The rows picked by a boolean mask, an index array or a slice (a slice gives views,
        no copy; the dictionary is shared)."""
        fields: dict[str, Any] = {
            name: getattr(self, name)[mask] for name in (*_INT_FIELDS, *_CODE_FIELDS)
        }
        return EventColumns(
            **fields, value=self.value[mask], flag=self.flag[mask], strings=self.strings
        )

    def writeable(self) -> bool:
        """Whether every column may be changed in place (decoded blocks may be read-only)."""
        return all(
            getattr(self, name).flags.writeable
            for name in (*_INT_FIELDS, *_CODE_FIELDS, "value", "flag")
        )

    def move_rows(self, to: I64, source: I64) -> None:
        """In place: row `to[i]` takes what row `source[i]` holds now (a few rows only)."""
        for name in (*_INT_FIELDS, *_CODE_FIELDS, "value", "flag"):
            column = getattr(self, name)
            column[to] = column[source]  # the right side is a copy: no overlap trouble

    def code_of(self, text: str) -> int:
        """The code of a string in this table's dictionary, NO_CODE - 1 when absent."""
        try:
            return self.strings.index(text)
        except ValueError:
            return NO_CODE - 1

    def kind_mask(self, *kinds: EventKind) -> npt.NDArray[np.bool_]:
        """Rows of any of the given kinds."""
        codes = [code for code in (self.code_of(str(kind)) for kind in kinds) if code >= 0]
        if not codes:
            return np.zeros(len(self), dtype=bool)
        if len(codes) <= 2:
            mask: npt.NDArray[np.bool_] = self.kind == codes[0]
            for code in codes[1:]:
                mask |= self.kind == code
            return mask
        # A lookup table indexed by code: several times faster than np.isin on millions.
        table = np.zeros(len(self.strings) + 1, dtype=bool)  # the last entry stands for -1
        table[codes] = True
        return table[self.kind]


class ColumnarEventLog(Protocol):
    """What a report reads: events as columns (the DuckDB event store) and a few texts."""

    async def read_columns(self, since: datetime, until: datetime) -> EventColumns:
        """Events with since <= ts < until as columns (any order)."""
        ...

    async def read_texts(self, event_ids: Sequence[int]) -> dict[int, str]:
        """The `data["text"]` of the given events, for those that have one."""
        ...


def columns_from(events: Iterable[Event]) -> EventColumns:
    """Columns for plain events (ids are their positions)."""
    listed = list(events)
    return EventColumns.from_events(listed, range(len(listed)))

"""Working hours and holidays in the desk's time zone: is the desk open, and when does it open."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_END_OF_DAY = time.max


def _parse_time(text: str) -> time:
    text = text.strip()
    if text in {"24:00", "24:00:00"}:
        return _END_OF_DAY
    return time.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """Opening hours per weekday (0 = Monday); no hours at all means open around the clock.

    Holidays are closed all day, whatever the weekday.
    """

    tz: tzinfo = field(default_factory=lambda: ZoneInfo("UTC"))
    days: Mapping[int, tuple[time, time]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    @classmethod
    def parse(
        cls, hours: Mapping[str, str], timezone: str, holidays: Iterable[date] = ()
    ) -> WorkingHours:
        """From config values: {"mon": "09:00-18:00", ...}, an IANA zone name, dates.

        Raises:
            ValueError: an unknown weekday, a malformed span, or a span that ends before
                it starts.
        """
        days: dict[int, tuple[time, time]] = {}
        for name, span in hours.items():
            key = name.strip().lower()[:3]
            if key not in WEEKDAYS:
                raise ValueError(f"unknown weekday {name!r} (use mon..sun)")
            start_s, sep, end_s = span.partition("-")
            if not sep:
                raise ValueError(f"working hours for {name} must look like 09:00-18:00")
            start, end = _parse_time(start_s), _parse_time(end_s)
            if end <= start:
                raise ValueError(f"working hours for {name} end before they start: {span}")
            days[WEEKDAYS.index(key)] = (start, end)
        return cls(ZoneInfo(timezone), days, frozenset(holidays))

    @property
    def around_the_clock(self) -> bool:
        """True without any configured hours or holidays."""
        return not self.days and not self.holidays

    def is_open(self, now: datetime) -> bool:
        """Whether operators work at `now` (any aware datetime)."""
        local = now.astimezone(self.tz)
        if local.date() in self.holidays:
            return False
        if not self.days:
            return True
        span = self.days.get(local.weekday())
        if span is None:
            return False
        return span[0] <= local.time().replace(tzinfo=None) < span[1] or (
            span[1] is _END_OF_DAY and local.time() >= span[0]
        )

    def opens_at(self, now: datetime) -> datetime | None:
        """When the desk next opens, in its time zone (`now` itself when open); None if never."""
        local = now.astimezone(self.tz)
        if self.is_open(local):
            return local
        for offset in range(0, 366):
            day = local.date() + timedelta(days=offset)
            if day in self.holidays:
                continue
            if not self.days:
                start = time.min
            elif day.weekday() in self.days:
                start = self.days[day.weekday()][0]
            else:
                continue
            candidate = datetime.combine(day, start, self.tz)
            if candidate > local:
                return candidate
        return None

"""Working hours and holidays in the desk's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from supportbot.desk.hours import WorkingHours

MON_9_UTC = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


def test_hours_without_schedule_are_open_around_the_clock() -> None:
    hours = WorkingHours.parse({}, "UTC")
    assert hours.around_the_clock
    assert hours.is_open(MON_9_UTC.replace(hour=3))
    assert hours.opens_at(MON_9_UTC) == MON_9_UTC


def test_hours_follow_the_configured_time_zone() -> None:
    hours = WorkingHours.parse({"mon": "09:00-18:00"}, "Europe/Moscow")
    assert hours.is_open(MON_9_UTC)
    assert not hours.is_open(MON_9_UTC.replace(hour=15))  # 18:00 Moscow: closed
    assert hours.is_open(MON_9_UTC.replace(hour=6))  # 09:00 Moscow
    opens = hours.opens_at(MON_9_UTC.replace(hour=15))
    assert opens is not None
    assert opens.isoformat() == "2026-03-09T09:00:00+03:00"  # next Monday


def test_hours_skip_holidays() -> None:
    hours = WorkingHours.parse(
        {d: "09:00-18:00" for d in ("mon", "tue")}, "UTC", [date(2026, 3, 3)]
    )
    assert not hours.is_open(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    opens = hours.opens_at(datetime(2026, 3, 2, 19, 0, tzinfo=UTC))
    assert opens == datetime(2026, 3, 9, 9, 0, tzinfo=hours.tz)


def test_hours_until_midnight() -> None:
    hours = WorkingHours.parse({"mon": "20:00-24:00"}, "UTC")
    assert hours.is_open(datetime(2026, 3, 2, 23, 59, tzinfo=UTC))


@pytest.mark.parametrize("bad", [{"funday": "09:00-18:00"}, {"mon": "9"}, {"mon": "18:00-09:00"}])
def test_hours_reject_malformed_config(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        WorkingHours.parse(bad, "UTC")

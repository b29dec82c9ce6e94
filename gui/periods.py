"""Date ranges a manager asks for by name: today, this week, this month, last month."""
from __future__ import annotations

import datetime as dt

ANY_TIME, CUSTOM = "Any time", "Chosen dates"
PERIODS = ("Today", "Yesterday", "This week", "Last week", "This month", "Last month", "This year")


def period_range(name: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day (inclusive) of a named period; weeks start on Monday."""
    if name == "Today":
        return today, today
    if name == "Yesterday":
        day = today - dt.timedelta(days=1)
        return day, day
    monday = today - dt.timedelta(days=today.weekday())
    if name == "This week":
        return monday, monday + dt.timedelta(days=6)
    if name == "Last week":
        return monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)
    first = today.replace(day=1)
    if name == "This month":
        return first, _month_end(first)
    if name == "Last month":
        last_month = (first - dt.timedelta(days=1)).replace(day=1)
        return last_month, first - dt.timedelta(days=1)
    if name == "This year":
        return today.replace(month=1, day=1), today.replace(month=12, day=31)
    raise ValueError(f"unknown period {name!r}; choose one of {', '.join(PERIODS)}")


def _month_end(first: dt.date) -> dt.date:
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def period_named(date_from: dt.date | None, date_to: dt.date | None, today: dt.date) -> str:
    """The name of the period these dates make, ANY_TIME when both are empty, else CUSTOM."""
    if date_from is None and date_to is None:
        return ANY_TIME
    return next((name for name in PERIODS if period_range(name, today) == (date_from, date_to)), CUSTOM)

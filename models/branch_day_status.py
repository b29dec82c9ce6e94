"""What a branch knows of its days at the Head Office, for its window: the answers to its day totals.

The Head Office answers each ``day-totals`` (and each day sent again) with the
state of those days (models/day_close.py); the branch keeps the last answer per day
in its ``sync_day_totals``.  ``day_status`` reads it: the latest day the Head Office
certified, and the days it last called in flight or different.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.rows import tuples
from models.schema import bo_day_totals

CERTIFIED, IN_FLIGHT, DIFFERENT = "certified", "in flight", "different"


@dataclass(frozen=True)
class DayStatus:
    last_certified: dt.date | None = None
    in_flight: list[dt.date] = field(default_factory=list)   # newest first
    different: list[dt.date] = field(default_factory=list)   # newest first
    answered_at: dt.datetime | None = None  # the Head Office's latest answer


def day_status(engine: Engine) -> DayStatus:
    """The Head Office's last word on this branch's days."""
    d = bo_day_totals.c
    with engine.connect() as conn:
        rows = list(tuples(conn.execute(select(d.sale_date, d.ho_state, d.ho_state_at)
                                        .where(d.ho_state.is_not(None)).order_by(d.sale_date.desc()))))
    certified = [day for day, state, _at in rows if state == CERTIFIED]
    return DayStatus(certified[0] if certified else None,
                     [day for day, state, _at in rows if state == IN_FLIGHT],
                     [day for day, state, _at in rows if state == DIFFERENT],
                     max((at for _d, _s, at in rows if at is not None), default=None))

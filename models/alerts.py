"""Reading the Head Office's alerts (``sync_alerts``): the active ones and their history.

Only ``sync/alerts.py`` writes them; windows, ``status`` and the metrics read here.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection, Engine

from models.rows import tuples
from models.schema import ho_alert_notices, ho_alerts

_a = ho_alerts.c
DAY_DIFFERENT = "day_different"  # the kind raised for a branch whose days do not match (sync/alert_conditions.py)


@dataclass(frozen=True)
class AlertRecord:
    id: int
    kind: str
    branch: str  # '' for the Head Office itself
    sentence: str
    raised_at: dt.datetime
    cleared_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.cleared_at is None


_COLUMNS = (_a.id, _a.kind, _a.branch, _a.sentence, _a.raised_at, _a.cleared_at)


def active_alerts(conn: Connection) -> list[AlertRecord]:
    """The alerts whose condition still holds, oldest first (read through the index of open alerts)."""
    query = select(*_COLUMNS).where(_a.open_key.is_not(None)).order_by(_a.id)
    return [AlertRecord(*row) for row in tuples(conn.execute(query))]


def alert_history(conn: Connection, limit: int = 200) -> list[AlertRecord]:
    """The newest ``limit`` alerts, active or cleared, newest first."""
    query = select(*_COLUMNS).order_by(_a.id.desc()).limit(limit)
    return [AlertRecord(*row) for row in tuples(conn.execute(query))]


def active_per_branch(conn: Connection) -> dict[str, int]:
    """How many alerts are active for each branch ('' for the Head Office)."""
    query = select(_a.branch, func.count()).where(_a.open_key.is_not(None)).group_by(_a.branch)
    return {branch: int(n) for branch, n in tuples(conn.execute(query))}


def open_of_kind(kind: str) -> Select[tuple[str, str]]:
    """(branch, sentence) of each open alert of ``kind``, through the index of open alerts; to run or to join."""
    return select(_a.branch, _a.sentence).where(_a.open_key.is_not(None), _a.kind == kind)


def notices_owed(conn: Connection) -> dict[str, int]:
    """How many raises and clears each channel (webhook, mail) still owes, through the index of owed notices."""
    n = ho_alert_notices.c
    query = select(n.channel, func.count()).where(n.sent_at.is_(None)).group_by(n.channel)
    return {channel: int(count) for channel, count in tuples(conn.execute(query))}


def read_alerts(engine: Engine, limit: int = 200) -> tuple[list[AlertRecord], list[AlertRecord]]:
    """(active, history) in one connection: what the window's Alerts view shows."""
    with engine.connect() as conn:
        return active_alerts(conn), alert_history(conn, limit)

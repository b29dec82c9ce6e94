"""What ``python -m sync status`` reports, as data first and text second."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from config import OfficeConfig
from models.schema import describe_db, ho_branches, ho_dead_letters, ho_sales, make_engine
from sync.broker import LinkDown, close_quietly, connect
from sync.outbox import Outbox, OutboxCounts


@dataclass(frozen=True)
class BranchProgress:
    code: str
    name: str
    rows_held: int
    last_seq: int
    last_applied_at: dt.datetime | None
    origin: str | None
    alert: str | None


def branch_progress(engine) -> list[BranchProgress]:
    """Per branch at the Head Office: rows held, the last change applied and when."""
    held = (
        select(ho_sales.c.branch, func.count().label("n")).group_by(ho_sales.c.branch).subquery()
    )
    query = (
        select(ho_branches.c.code, ho_branches.c.name, func.coalesce(held.c.n, 0), ho_branches.c.last_seq,
               ho_branches.c.last_applied_at, ho_branches.c.origin, ho_branches.c.alert)
        .select_from(ho_branches.outerjoin(held, held.c.branch == ho_branches.c.code))
        .order_by(ho_branches.c.code)
    )
    with engine.connect() as conn:
        return [BranchProgress(*row) for row in conn.execute(query)]


def parked_dead_letters(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(ho_dead_letters).where(ho_dead_letters.c.state == "parked")
        ).scalar_one()


def broker_answers(cfg: OfficeConfig) -> str:
    try:
        connection, index = connect(cfg)
    except LinkDown as exc:
        return f"not answering: {exc}"
    close_quietly(connection)
    return f"answers at {cfg.redacted_amqp_urls()[index]}"


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return "never"
    ago = dt.datetime.now() - moment
    return f"{moment:%Y-%m-%d %H:%M:%S} ({_ago(ago)})"


def _ago(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def report(cfg: OfficeConfig) -> tuple[str, bool]:
    """The status text for an office, and whether everything answered."""
    url = make_url(cfg.db_url)
    lines = [f"{cfg.name} ({cfg.code}), {'branch office' if cfg.is_branch else 'head office'}"]
    healthy = True
    broker = broker_answers(cfg)
    healthy &= broker.startswith("answers")
    engine = make_engine(cfg.db_url)
    try:
        if cfg.is_branch:
            counts: OutboxCounts = Outbox(engine).counts()
            lines += [
                f"  database   {url.database} on {url.host}:{url.port or 3306}: answers",
                f"  broker     {broker}",
                f"  changes    pending {counts.pending}, sent {counts.sent}, "
                f"applied {counts.applied}, rejected {counts.rejected}",
                f"  last sync  {_when(counts.last_sync)}",
            ]
        else:
            progress = branch_progress(engine)
            lines += [
                f"  database   {url.database} on {url.host}:{url.port or 3306}: answers",
                f"  broker     {broker}",
                f"  {'branch':<8} {'name':<20} {'rows held':>10} {'last seq':>10}  last change applied",
            ]
            for p in progress:
                lines.append(f"  {p.code:<8} {p.name[:20]:<20} {p.rows_held:>10} {p.last_seq:>10}  {_when(p.last_applied_at)}")
                if p.alert:
                    lines.append(f"  {'':<8} ALERT: {p.alert}")
            lines.append(f"  dead letters parked: {parked_dead_letters(engine)}")
    except DBAPIError as exc:
        healthy = False
        lines.append(f"  database   {url.database} on {url.host}:{url.port or 3306}: not answering ({describe_db(exc)})")
        lines.append(f"  broker     {broker}")
    finally:
        engine.dispose()
    return "\n".join(lines), healthy

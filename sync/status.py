"""What ``python -m sync status`` reports, as data first and text second."""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from config import OfficeConfig
from models import parked
from models.alerts import DAY_DIFFERENT, active_alerts, notices_owed, open_of_kind
from models.capture import check_capture
from models.catalogue import changes_behind, held_version, off_price_sales
from models.rows import tuples
from models.schema import ho_branches, make_engine
from sync import dead_letters
from sync.broker import close_quietly, connect
from sync.failures import ExitCode, LinkDown, db_words
from sync.outbox import Outbox
from sync.parked_at_branch import waiting_sentence

OFF_PRICE_DAYS = 31


@dataclass(frozen=True)
class BranchProgress:
    code: str
    name: str
    rows_held: int
    last_seq: int
    last_applied_at: dt.datetime | None
    origin: str | None
    alert: str | None
    capture_ok: bool | None = None
    capture_problem: str | None = None
    reported_at: dt.datetime | None = None
    days_different: str | None = None  # the open day_different alert's sentence, when a day does not match
    catalogue_held: int | None = None  # the catalogue version the branch last said it holds
    catalogue_heard_at: dt.datetime | None = None
    prices_behind: int = 0  # price changes made at the Head Office after that version
    products_behind: int = 0  # and changes to products (new, retired, back on sale)

    def catalogue_words(self) -> str:
        """'up to date', '2 price changes behind, last heard 26 h ago', or 'not heard yet'."""
        if self.catalogue_held is None:
            return "catalogue not heard of yet"
        if not self.prices_behind and not self.products_behind:
            words = f"catalogue up to date (version {self.catalogue_held})"
        else:
            parts = []
            if self.prices_behind:
                parts.append(f"{self.prices_behind} price change{'s' if self.prices_behind != 1 else ''}")
            if self.products_behind:
                parts.append(f"{self.products_behind} product change{'s' if self.products_behind != 1 else ''}")
            words = " and ".join(parts) + " behind"
        return f"{words}, last heard {_elapsed(dt.datetime.now() - self.catalogue_heard_at)}" \
            if self.catalogue_heard_at else words


def branch_progress(engine: Engine) -> list[BranchProgress]:
    """Per branch at the Head Office: rows held, the last change applied and when, its alerts and report.

    The rows held are the count the apply keeps with the rows (``sync_branches.sales_held``):
    one row read per branch, however many sales the Head Office holds.
    """
    b = ho_branches.c
    # The alert monitor compares the days (sync/alert_conditions.py); its open alert is one indexed row.
    different = open_of_kind(DAY_DIFFERENT).subquery()
    query = (
        select(b.code, b.name, b.sales_held, b.last_seq, b.last_applied_at, b.origin, b.alert,
               b.capture_ok, b.capture_problem, b.reported_at, different.c.sentence,
               b.catalogue_held, b.catalogue_heard_at)
        .select_from(ho_branches.outerjoin(different, different.c.branch == b.code))
        .order_by(b.code)
    )
    with engine.connect() as conn:
        rows = [BranchProgress(*row) for row in tuples(conn.execute(query))]
        behind = {held: changes_behind(conn, held) for held in {r.catalogue_held for r in rows}}
    return [dataclasses.replace(r, prices_behind=behind[r.catalogue_held][0], products_behind=behind[r.catalogue_held][1])
            for r in rows]


def broker_answers(cfg: OfficeConfig) -> tuple[bool, str]:
    try:
        connection, index = connect(cfg)
    except LinkDown as exc:
        return False, f"not answering: {exc}"
    close_quietly(connection)
    return True, f"answers at {cfg.redacted_amqp_urls()[index]}"


def when(moment: dt.datetime | None) -> str:
    if moment is None:
        return "never"
    return f"{moment:%Y-%m-%d %H:%M:%S} ({_elapsed(dt.datetime.now() - moment)})"


def _elapsed(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def report(cfg: OfficeConfig) -> tuple[str, ExitCode]:
    """The status text for an office, and the exit code: OK only when nothing needs a person."""
    url = make_url(cfg.db_url)
    database = f"{url.database} on {url.host}:{url.port or 3306}"
    lines = [f"{cfg.name} ({cfg.code}), {'branch office' if cfg.is_branch else 'head office'}"]
    answers, broker = broker_answers(cfg)
    code = ExitCode.OK if answers else ExitCode.NOT_HEALTHY
    engine = make_engine(cfg.db_url)
    try:
        if cfg.is_branch:
            worry, more = _branch(engine)
        else:
            worry, more = _head_office(engine)
        lines += [f"  database   {database}: answers", f"  broker     {broker}", *more]
        if worry:
            code = worry if code is ExitCode.OK else code
    except DBAPIError as exc:
        code = ExitCode.DATABASE
        lines += [f"  database   {database}: not answering ({db_words(exc)})", f"  broker     {broker}"]
    finally:
        engine.dispose()
    return "\n".join(lines), code


def _branch(engine: Engine) -> tuple[ExitCode | None, list[str]]:
    outbox = Outbox(engine)
    counts = outbox.counts()
    lines = [f"  changes    pending {counts.pending}, sent {counts.sent}, applied {counts.applied}, "
             f"rejected {counts.rejected}", f"  last sync  {when(counts.last_sync)}"]
    worry: ExitCode | None = None
    health = check_capture(engine)
    if health.ok:
        lines.append("  capture    working")
    else:
        worry = ExitCode.CAPTURE
        lines += ["  capture    BROKEN: " + health.sentence()[len("Change capture is broken: "):]]  # type: ignore[index]
    with engine.connect() as conn:
        lines.append(f"  catalogue  version {held_version(conn, head_office=False)} received from the Head Office")
    kept = waiting_sentence(parked.waiting(engine))
    if kept:  # a newer Head Office's prices or answers, not applied here until this branch is upgraded
        worry = worry or ExitCode.NOT_HEALTHY
        lines.append(f"  parked     {kept}; `python -m sync parked` lists them")
    problem = outbox.history_problem()
    if problem:
        worry = worry or ExitCode.NOT_HEALTHY
        lines.append(f"  ALERT      {problem}")
    for sale_id, reason in outbox.refused()[:10]:
        lines.append(f"  refused    sale #{sale_id}: {reason} (edit the sale and save it again to send it corrected)")
    return worry, lines


def _head_office(engine: Engine) -> tuple[ExitCode | None, list[str]]:
    lines = [f"  {'branch':<8} {'name':<20} {'rows held':>10} {'last seq':>10}  last change applied"]
    worry: ExitCode | None = None
    for p in branch_progress(engine):
        lines.append(f"  {p.code:<8} {p.name[:20]:<20} {p.rows_held:>10} {p.last_seq:>10}  {when(p.last_applied_at)}")
        if p.alert:
            worry = ExitCode.NOT_HEALTHY
            lines.append(f"  {'':<8} ALERT: {p.alert}")
        lines.append(f"  {'':<8} {p.catalogue_words()}")
        if p.capture_ok is False:
            worry = ExitCode.NOT_HEALTHY
            lines.append(f"  {'':<8} capture broken at the branch (reported {when(p.reported_at)}): {p.capture_problem}")
        if p.days_different:
            worry = ExitCode.NOT_HEALTHY
            lines.append(f"  {'':<8} days differ (`python -m sync reconcile --branch {p.code}` lists them)")
    with engine.connect() as conn:
        parked = dead_letters.count_parked(conn)
        alerts = active_alerts(conn)
        owed = notices_owed(conn)
        version = held_version(conn, head_office=True)
        # The last 31 days only: status must cost what it shows, not the size of the table.
        off_price = off_price_sales(conn, 1000, since=dt.date.today() - dt.timedelta(days=OFF_PRICE_DAYS))
    lines.append(f"  catalogue version {version}; off-price sales of the last {OFF_PRICE_DAYS} days (cost not the "
                 f"catalogue's on their date): {len(off_price)}{'+' if len(off_price) >= 1000 else ''}")
    lines.append(f"  dead letters parked: {parked}")
    lines.append(f"  alerts active: {len(alerts)}" if alerts else "  alerts active: none")
    for alert in alerts:
        lines.append(f"    since {when(alert.raised_at)}: {alert.sentence}")
    if owed:
        lines.append("  alert notices not yet taken by their receiver (sent when it answers): "
                     + ", ".join(f"{n} by {channel}" for channel, n in sorted(owed.items())))
    return worry, lines

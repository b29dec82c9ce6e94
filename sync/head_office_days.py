"""Day close at the Head Office: the branch's totals, a day it sends again, its per-sale hashes, its asks.

Handlers of ``HeadOfficeWork`` (sync/intake_work.py), run in the group's transaction,
for messages already attributed to their real sender (a branch only speaks for
itself, as for changes):

- ``day-totals``: kept per branch-day (the state is derived when read,
  models/day_close.py), and the states of those days answered to the branch;
- ``day-resend``: the rows go through ``apply_changes`` (versions, tombstones and
  the ledger hold, so nothing deleted comes back and a repeat changes nothing); a
  row the Head Office holds at the same version with other values (edited by hand)
  is written back; and with the last part, the rows held for that day at or below
  the branch's high seq that the branch no longer has are removed, with a
  tombstone at their own version (a later change of the sale still applies);
- ``day-sales``: the branch's hash of each sale of a day, kept to list the sales
  that differ.

``due_requests`` turns the questions queued in ``sync_day_requests`` into messages.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Connection

from models.daily import refill_day
from models.day_close import branch_days
from models.day_totals import row_hash, row_hash_sql
from models.rows import tuples
from models.schema import ho_branches, ho_day_requests, ho_day_sales, ho_day_totals, ho_sales
from sync import events, protocol
from sync.apply import HEAD_OFFICE, apply_changes
from sync.broker import Names
from sync.protocol import ChangeBatch, DayResend, DaySales, DayTotalsReport

if TYPE_CHECKING:
    from sync.intake_work import GroupOutcome, Publication

_t, _s, _b = ho_day_totals.c, ho_sales.c, ho_branches.c
_TOTALS = mysql_insert(ho_day_totals)
_RECORD = _TOTALS.on_duplicate_key_update(**{n: _TOTALS.inserted[n] for n in (
    "sale_count", "qty", "amt", "tax", "total", "digest", "in_flight", "branch_at_ms", "reported_at")})
_SALES_AT = _TOTALS.on_duplicate_key_update(sales_at=_TOTALS.inserted.sales_at)


class HeadOfficeDays:
    """The Head Office's day-close handlers; ``publication`` builds what the session publishes."""

    def __init__(self, names: Names, log: logging.Logger, publication: Callable[[str, str, bytes], Publication]):
        self.names, self.log, self.publication = names, log, publication

    def handlers(self) -> dict[type, Callable[[Connection, object, GroupOutcome], None]]:
        return {DayTotalsReport: self.record_totals, DayResend: self.apply_resend, DaySales: self.record_sales}

    def _same_history(self, conn: Connection, branch: str, origin: str) -> bool:
        """Whether ``origin`` is the history held of ``branch``: figures of another are set aside, not parked
        (they hold nothing to keep, and its changes are already parked with the branch's alert)."""
        held = conn.execute(select(_b.origin).where(_b.code == branch)).scalar()
        if held is not None and held != origin:
            self.log.warning("branch %s sent day-close figures of database %s, but the Head Office holds its history "
                             "from database %s; they are set aside", branch, origin, held)
            return False
        return True

    # ------------------------------------------------------------ totals
    def record_totals(self, conn: Connection, message: object, outcome: GroupOutcome) -> None:
        assert isinstance(message, DayTotalsReport)
        if not self._same_history(conn, message.branch, message.origin):
            return
        now = dt.datetime.now()
        told = int(conn.execute(select(_b.totals_through).where(_b.code == message.branch)).scalar() or 0)
        if message.since > told:
            # The branch told us more than we hold: this database was restored from an older backup (or
            # replaced). Ask for the totals of every day, so that every day lost shows as different.
            self.log.warning("branch %s had reported day totals through change %d, the Head Office holds them through "
                             "%d only (restored?); asking for the totals of every day", message.branch, message.since, told)
            outcome.publications.append(self.publication(protocol.DAY_REQUEST, message.branch, protocol.encode_day_request(
                message.branch, dt.date.today(), protocol.TOTALS)))
        if message.days:
            conn.execute(_RECORD, [
                {"branch": message.branch, "sale_date": d.totals.day, "sale_count": d.totals.rows, "qty": d.totals.qty,
                 "amt": d.totals.amt, "tax": d.totals.tax, "total": d.totals.total, "digest": d.totals.digest,
                 "in_flight": d.in_flight, "branch_at_ms": message.at_ms, "reported_at": now} for d in message.days])
        conn.execute(update(ho_branches).where(_b.code == message.branch).values(
            totals_through=func.greatest(_b.totals_through, message.through)))
        if message.days:
            self._answer_states(conn, message.branch, [r.totals.day for r in message.days], outcome)
            outcome.events.append(events.DaysReported(message.branch, len(message.days)))

    def _answer_states(self, conn: Connection, branch: str, days: list[dt.date], outcome: GroupOutcome) -> None:
        """The states of ``days`` as they stand in this transaction, to the branch (for its window)."""
        states = {d.day: d.state.value for d in branch_days(conn, branch, days=days)}
        if states:
            outcome.publications.append(self.publication(protocol.DAY_STATES, branch,
                                                         protocol.encode_day_states(branch, states)))

    # ------------------------------------------------------------ a day sent again
    def apply_resend(self, conn: Connection, message: object, outcome: GroupOutcome) -> None:
        assert isinstance(message, DayResend)
        if not self._same_history(conn, message.branch, message.origin):
            raise ValueError(f"branch {message.branch} sent {message.day} again from database {message.origin}, "
                             "another history than the one the Head Office holds; nothing of it was applied")
        if message.changes:
            batch = ChangeBatch(message.branch, message.origin, message.high_water, message.at_ms, message.changes, [])
            applied = apply_changes(conn, [batch])
            if applied.refused:
                raise ValueError(f"the day {message.day} sent again was refused: {applied.refused[0]}")
            self._write_back(conn, message)
        removed = self._remove_gone(conn, message) if message.ids is not None else 0
        # A day sent again repairs what was done here by hand (edits, deletes and inserts that
        # bypassed the apply, so the sums never saw them): its sums are summed again from what is held.
        refill_day(conn, message.branch, message.day)
        if message.ids is not None:  # the whole day is in: tell the branch how it stands now
            self._answer_states(conn, message.branch, [message.day], outcome)
        self.log.info("branch %s sent %s again: %d row(s)%s", message.branch, message.day, len(message.changes),
                      f", {removed} row(s) it no longer has removed" if removed else "")
        outcome.events.append(events.DayResent(message.branch, message.day, len(message.changes), removed))

    def _write_back(self, conn: Connection, message: DayResend) -> int:
        """Rows held at the very version sent but with other values (a hand edit here) get the branch's values."""
        ids = [c.sale_id for c in message.changes]
        held = {int(i): (int(v), int(h)) for i, v, h in tuples(conn.execute(
            select(_s.branch_sale_id, _s.version, row_hash_sql(ho_sales, "branch_sale_id"))
            .where(_s.branch == message.branch, _s.branch_sale_id.in_(bindparam("ids", expanding=True))), {"ids": ids}))}
        fixes = [c for c in message.changes if c.sale_id in held and held[c.sale_id][0] == c.seq
                 and c.values is not None and held[c.sale_id][1] != row_hash(c.sale_id, c.values)]
        if fixes:
            conn.exec_driver_sql(HEAD_OFFICE.driver_sql(conn.dialect)[0], [
                {"branch": message.branch, "branch_sale_id": c.sale_id, "version": c.seq, **(c.values or {})}
                for c in fixes])
            self.log.warning("branch %s: %d row(s) of %s held here with other values than the branch's were written "
                             "back: %s", message.branch, len(fixes), message.day,
                             ", ".join(str(c.sale_id) for c in fixes[:20]))
        return len(fixes)

    def _remove_gone(self, conn: Connection, message: DayResend) -> int:
        assert message.ids is not None
        keep = set(message.ids)
        held = tuples(conn.execute(select(_s.branch_sale_id, _s.version).where(
            _s.branch == message.branch, _s.sale_date == message.day, _s.version <= message.high_water)))
        gone = [(int(i), int(v)) for i, v in held if int(i) not in keep]
        if not gone:
            return 0
        conn.execute(delete(ho_sales).where(_s.branch == message.branch, _s.branch_sale_id.in_(
            bindparam("ids", expanding=True))), {"ids": [i for i, _v in gone]})
        conn.execute(HEAD_OFFICE.tombstone, [{"branch": message.branch, "branch_sale_id": i, "version": v}
                                             for i, v in gone])
        self.log.warning("branch %s no longer has %d sale(s) of %s the Head Office held; removed: %s", message.branch,
                         len(gone), message.day, ", ".join(str(i) for i, _v in gone[:20]))
        return len(gone)

    # ------------------------------------------------------------ per-sale hashes
    def record_sales(self, conn: Connection, message: object, outcome: GroupOutcome) -> None:
        assert isinstance(message, DaySales)
        if not self._same_history(conn, message.branch, message.origin):
            return
        conn.execute(delete(ho_day_sales).where(ho_day_sales.c.branch == message.branch,
                                                ho_day_sales.c.sale_date == message.day))
        if message.hashes:
            conn.execute(ho_day_sales.insert(), [{"branch": message.branch, "sale_date": message.day, "sale_id": i,
                                                  "digest": h} for i, h in message.hashes.items()])
        conn.execute(update(ho_day_totals).where(_t.branch == message.branch, _t.sale_date == message.day)
                     .values(sales_at=dt.datetime.now()))
        outcome.events.append(events.DaySalesReceived(message.branch, message.day, len(message.hashes)))

    # ------------------------------------------------------------ questions to branches
    def due_requests(self, conn: Connection, branches: list[str]) -> list[Publication]:
        """The questions queued for branches (by a window or a command), as messages; marked sent."""
        r = ho_day_requests.c
        due = list(tuples(conn.execute(select(r.id, r.branch, r.sale_date, r.kind).where(r.sent_at.is_(None))
                                       .order_by(r.id).limit(100).with_for_update())))
        if not due:
            return []
        conn.execute(update(ho_day_requests).where(r.id.in_([row[0] for row in due])).values(sent_at=dt.datetime.now()))
        out = []
        for _id, branch, day, kind in due:
            if branch in branches and kind in (protocol.RESEND, protocol.SALES):
                out.append(self.publication(protocol.DAY_REQUEST, branch, protocol.encode_day_request(branch, day, kind)))
                self.log.info("asked branch %s for %s of %s", branch, "a resend" if kind == protocol.RESEND else
                              "the sales", day)
        return out




"""The state of each branch-day at the Head Office, derived when it is read.

The Head Office keeps what each branch last reported of each day (``sync_day_totals``)
and compares it, at the moment it is read, with the totals of the rows it holds now
(``models.day_totals``): so a change applied later, or a hand edit at the Head Office,
shows at once.  A day is

- **certified** when both sides' totals are equal (since the report arrived);
- **in flight** when they differ but the branch said it still had changes of the day
  on their way, or the Head Office has applied changes of the branch that its totals
  do not account for yet (``sync_branches.totals_through``);
- **different** when they differ and everything is settled;
- **unknown** when the branch has reported nothing of that day.

``day_close`` is what ``reconcile``, the Day close view and the replies to branches
read; ``ask_branch`` queues a question for a branch (send a day again, or its
per-sale hashes), which the consumer sends; ``sale_differences`` lists the sales
that differ once the branch has answered.
"""
from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from models.day_totals import DayTotals, head_office_totals, sale_hashes
from models.rows import first as first_row
from models.rows import tuples
from models.schema import ho_branches, ho_day_requests, ho_day_sales, ho_day_totals, ho_sales


class DayState(enum.StrEnum):
    CERTIFIED = "certified"
    IN_FLIGHT = "in flight"
    DIFFERENT = "different"
    UNKNOWN = "unknown"


class Ask(enum.StrEnum):
    """What the Head Office may ask a branch about a day."""

    RESEND = "resend"  # send the day again
    SALES = "sales"    # send the hash of each sale of the day


def derive_state(reported: DayTotals | None, in_flight: bool, held: DayTotals, unaccounted: bool) -> DayState:
    """The rule: equal is certified; unequal is in flight while something is on its way, else different."""
    if reported is None:
        return DayState.UNKNOWN
    if reported.same_as(held):
        return DayState.CERTIFIED
    if in_flight or unaccounted:
        return DayState.IN_FLIGHT
    return DayState.DIFFERENT


@dataclass(frozen=True)
class BranchDay:
    """One branch's day as the Head Office sees it now."""

    branch: str
    day: dt.date
    state: DayState
    reported: DayTotals | None  # what the branch last reported
    held: DayTotals  # what the Head Office holds now
    reported_at: dt.datetime | None
    in_flight: bool  # the branch said it still had changes of the day on their way

    @property
    def certified_at(self) -> dt.datetime | None:
        return self.reported_at if self.state is DayState.CERTIFIED else None


def _reported(conn: Connection, branch: str, first: dt.date | None, last: dt.date | None,
              days: Iterable[dt.date] | None) -> dict[dt.date, tuple[DayTotals, bool, dt.datetime]]:
    t = ho_day_totals.c
    query = select(t.sale_date, t.sale_count, t.qty, t.amt, t.tax, t.total, t.digest, t.in_flight, t.reported_at).where(
        t.branch == branch)
    if first is not None:
        query = query.where(t.sale_date >= first)
    if last is not None:
        query = query.where(t.sale_date <= last)
    if days is not None:
        query = query.where(t.sale_date.in_(sorted(set(days))))
    out = {}
    for day, rows, qty, amt, tax, total, digest, flight, at in tuples(conn.execute(query)):
        out[day] = (DayTotals(day, int(rows), int(qty), Decimal(amt), Decimal(tax), Decimal(total), int(digest)),
                    bool(flight), at)
    return out


def branch_days(conn: Connection, branch: str, first: dt.date | None = None, last: dt.date | None = None,
                days: Iterable[dt.date] | None = None) -> list[BranchDay]:
    """Every day of ``branch`` that either side has, in the range, with its state now (read in ``conn``)."""
    wanted = None if days is None else sorted(set(days))
    b = ho_branches.c
    progress = first_row(conn.execute(select(b.last_seq, b.totals_through).where(b.code == branch)))
    unaccounted = progress is not None and int(progress[0]) > int(progress[1])
    reported = _reported(conn, branch, first, last, wanted)
    held = head_office_totals(conn, ho_sales, branch, wanted, first, last)
    out = []
    for day in sorted(set(reported) | set(held)):
        totals, flight, at = reported.get(day, (None, False, None))
        mine = held.get(day, DayTotals.empty(day))
        out.append(BranchDay(branch, day, derive_state(totals, flight, mine, unaccounted), totals, mine, at, flight))
    return out


def day_close(engine: Engine, branches: Iterable[str], first: dt.date | None = None,
              last: dt.date | None = None) -> list[BranchDay]:
    """Every branch-day in the range with its state, compared in one consistent read."""
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        return [d for branch in branches for d in branch_days(conn, branch, first, last)]


def ask_branch(engine: Engine, branch: str, day: dt.date, what: Ask) -> None:
    """Queue a question to ``branch`` about ``day``; the consumer sends it (at once when it runs)."""
    with engine.begin() as conn:
        conn.execute(insert(ho_day_requests).values(branch=branch, sale_date=day, kind=what.value))


@dataclass(frozen=True)
class SaleDifferences:
    """The sales of a branch-day that differ, by sale number, from the branch's last per-sale answer."""

    answered_at: dt.datetime | None
    missing: list[int]  # the branch has them, the Head Office does not
    extra: list[int]    # the Head Office holds them, the branch does not
    changed: list[int]  # both have them, with other values

    @property
    def any(self) -> bool:
        return bool(self.missing or self.extra or self.changed)


def sale_differences(engine: Engine, branch: str, day: dt.date) -> SaleDifferences:
    """Compare the branch's per-sale hashes of ``day`` (when it has answered) with the rows held now."""
    s, t = ho_day_sales.c, ho_day_totals.c
    with engine.connect() as conn:
        answered = conn.execute(select(t.sales_at).where(t.branch == branch, t.sale_date == day)).scalar()
        theirs = {int(i): int(h) for i, h in tuples(conn.execute(
            select(s.sale_id, s.digest).where(s.branch == branch, s.sale_date == day)))}
        mine = sale_hashes(conn, ho_sales, "branch_sale_id", day, ho_sales.c.branch == branch)
    if answered is None:
        return SaleDifferences(None, [], [], [])
    return SaleDifferences(answered, sorted(set(theirs) - set(mine)), sorted(set(mine) - set(theirs)),
                           sorted(i for i in set(mine) & set(theirs) if mine[i] != theirs[i]))

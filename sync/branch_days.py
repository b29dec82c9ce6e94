"""Day close at a branch: which days' totals to send, a day sent again, per-sale hashes.

``BranchDays.report`` runs after each pass of the agent, over the same link as the
changes.  It sends the totals (models/day_totals.py) of every day changed since it
last sent them (the outbox says which: every sale a new change touched, on each
date it ever had), of the days it last sent while changes of them were on their
way (so the Head Office hears once they settled), of the last ``day_totals_days``
days every ``capture_check_minutes`` (a write capture missed shows there), and of
every day at least once a day, and at once when the capture self-check finds a
problem.  Each day says whether changes of it were still pending or unreceipted.  The
recent days' check sends a message even when nothing changed, so a Head Office
restored from an older backup hears the branch's ``since`` and asks for all.

``resend`` sends a day's current rows with the seq of the change that made each,
and every sale number of the day; ``send_sales`` the hash of each sale of a day.
Everything goes through ``send(kind, body, message_id)``, a confirmed publish on
the branch's own exchange (the agent's channel, or the ``resend`` command's).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Connection, Engine

from config import BranchConfig
from models.capture import CaptureHealth, check_capture
from models.day_totals import DayTotals, branch_totals, sale_hashes
from models.rows import tuples
from models.schema import bo_day_totals, bo_outbox, bo_sales, bo_state
from sync import protocol
from sync.outbox import Outbox, wire_columns
from sync.protocol.days import MAX_DAYS
from sync.protocol.limits import MAX_CHANGES

Send = Callable[[str, bytes, str], None]
FULL_EVERY = dt.timedelta(days=1)
_o, _d = bo_outbox.c, bo_day_totals.c
_STATE = mysql_insert(bo_state)
_SET_STATE = _STATE.on_duplicate_key_update(value=_STATE.inserted.value)
_SENT = mysql_insert(bo_day_totals)
_RECORD_SENT = _SENT.on_duplicate_key_update(**{n: _SENT.inserted[n] for n in (
    "sale_count", "qty", "amt", "tax", "total", "digest", "in_flight", "sent_at")})


class NotResent(ValueError):
    """A day cannot be sent again as it is; the text says why and what to do."""


def _dates_of(conn: Connection, sales_where: str, params: dict[str, Any]) -> set[dt.date]:
    """Every date the sales chosen by ``sales_where`` (over sync_outbox) ever had, as captured."""
    return set(conn.execute(text(
        "SELECT DISTINCT o.sale_date FROM sync_outbox o WHERE o.sale_date IS NOT NULL AND o.sale_id IN "
        f"(SELECT i.sale_id FROM sync_outbox i WHERE {sales_where})"), params).scalars())


def changed_days(conn: Connection, after_seq: int, through_seq: int) -> set[dt.date]:
    """The days that changes after ``after_seq`` (up to ``through_seq``) touched, on either side of a move."""
    return _dates_of(conn, "i.seq > :after AND i.seq <= :through", {"after": after_seq, "through": through_seq})


def days_on_their_way(conn: Connection) -> set[dt.date]:
    """The days with changes still pending or sent and not receipted."""
    return _dates_of(conn, "i.state IN (0, 1)", {})


class BranchDays:
    """The branch side of day close, for one branch database; used by the agent's thread only."""

    def __init__(self, cfg: BranchConfig, engine: Engine, outbox: Outbox, log: logging.Logger | None = None):
        self.cfg, self.engine, self.outbox = cfg, engine, outbox
        self.log = log or logging.getLogger(f"sync.{cfg.code}")
        self._next_recent = 0.0
        self._receipted = True  # days sent in flight are looked at again after receipts
        self._health: CaptureHealth | None = None
        self._told: tuple[int, float] | None = None  # (the high seq last told, when a full pass is due): the quick path
        self._ho_reads: bool | None = None  # whether the Head Office's receipts say it reads day close

    def receipted(self) -> None:
        self._receipted = True

    def head_office_reads(self, features: tuple[str, ...]) -> None:
        """Remember (in the database, for ``--once`` too) that the Head Office says it reads day close."""
        reads = protocol.DAY_CLOSE_FEATURE in features
        if reads != self._ho_reads:
            with self.engine.begin() as conn:
                conn.execute(_SET_STATE, {"name": "ho_day_close", "value": "1" if reads else ""})
            self._ho_reads = reads

    def _fact(self, conn: Connection, name: str) -> str | None:
        return conn.execute(select(bo_state.c.value).where(bo_state.c.name == name)).scalar()

    # ------------------------------------------------------------ totals
    def report(self, send: Send, health: CaptureHealth | None = None, force_all: bool = False) -> int:
        """Send the totals of the days that are due (see the module); returns how many days were sent."""
        recent = time.monotonic() >= self._next_recent
        broken = health is not None and not health.ok and health != self._health
        if self._told is not None and not (recent or broken or force_all or self._receipted) \
                and time.monotonic() < self._told[1] and self.outbox.high_water() == self._told[0]:
            return 0  # nothing new since the last pass: one index probe
        if self.outbox.fact("ho_day_close") != "1" and not force_all:
            return 0  # a Head Office of an older release, or one that has not answered yet, would park them
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            mark = int(self._fact(conn, "day_totals_seq") or 0)
            full_at = self._fact(conn, "day_totals_full_at")
            full = force_all or broken or full_at is None or \
                dt.datetime.now() - dt.datetime.fromisoformat(full_at) >= FULL_EVERY
            high = int(conn.execute(select(func.coalesce(func.max(_o.seq), 0))).scalar_one())
            if high < mark:  # a new outbox (a database re-created): everything again, from nothing told
                mark, full = 0, True
            if not (full or recent or self._receipted or high != mark):
                return 0
            changed = changed_days(conn, mark, high) if high != mark else set()
            wanted: set[dt.date] | None
            if full:
                wanted = None
            else:
                wanted = changed | set(conn.execute(select(_d.sale_date).where(_d.in_flight.is_(True))).scalars())
                if recent:
                    today = dt.date.today()
                    wanted |= {today - dt.timedelta(days=n) for n in range(self.cfg.day_totals_days)}
            told = select(_d.sale_date, _d.sale_count, _d.qty, _d.amt, _d.tax, _d.total, _d.digest, _d.in_flight)
            if wanted is not None:
                told = told.where(_d.sale_date.in_(sorted(wanted)))
            sent_before = {d: (DayTotals(d, int(r), int(q), a, t, tot, int(g)), bool(f))
                           for d, r, q, a, t, tot, g, f in tuples(conn.execute(told))}
            now_totals = branch_totals(conn, bo_sales, wanted)
            days = set(now_totals) | (set(sent_before) if full else set()) | (wanted or set())
            flying = days_on_their_way(conn)
        out: list[protocol.ReportedDay] = []
        for day in sorted(days):
            if wanted is not None and day not in now_totals and day not in sent_before and day not in changed:
                continue  # a recent day without a sale, never reported: nothing to say
            reported = protocol.ReportedDay(now_totals.get(day, DayTotals.empty(day)), day in flying)
            previous = sent_before.get(day)
            if full or day in changed or previous is None or previous != (reported.totals, reported.in_flight):
                out.append(reported)
        self._publish_totals(send, out, mark, high, always=recent)
        with self.engine.begin() as conn:
            now = dt.datetime.now()
            if out:
                conn.execute(_RECORD_SENT, [
                    {"sale_date": d.totals.day, "sale_count": d.totals.rows, "qty": d.totals.qty, "amt": d.totals.amt,
                     "tax": d.totals.tax, "total": d.totals.total, "digest": d.totals.digest, "in_flight": d.in_flight,
                     "sent_at": now} for d in out])
            conn.execute(_SET_STATE, {"name": "day_totals_seq", "value": str(high)})
            if full:
                conn.execute(_SET_STATE, {"name": "day_totals_full_at", "value": now.isoformat(sep=" ")})
                full_at = now.isoformat(sep=" ")
        assert full_at is not None
        due = dt.datetime.fromisoformat(full_at) + FULL_EVERY - dt.datetime.now()
        self._told = (high, time.monotonic() + due.total_seconds())
        if recent:
            self._next_recent = time.monotonic() + self.cfg.capture_check_minutes * 60
        self._receipted = False
        self._health = health if full else self._health
        if out:
            self.log.info("sent the totals of %d day(s)%s", len(out), " (all days)" if full else "")
        return len(out)

    def _publish_totals(self, send: Send, days: list[protocol.ReportedDay], mark: int, high: int,
                        always: bool = False) -> None:
        """Days in messages of at most MAX_DAYS; only the last says that every changed day up to ``high`` is told.

        With ``always`` (the recent days' check) a message goes even with no day in it: its ``since`` lets
        a Head Office restored from an older backup notice within ``capture_check_minutes``.
        """
        if not days and high == mark and not always:
            return
        chunks = [days[i:i + MAX_DAYS] for i in range(0, len(days), MAX_DAYS)] or [[]]
        origin = self.outbox.origin()
        for number, chunk in enumerate(chunks, start=1):
            at = int(time.time() * 1000)
            through = high if number == len(chunks) else mark
            body = protocol.encode_day_totals(protocol.DayTotalsReport(self.cfg.code, origin, at, through, chunk, mark))
            send(protocol.DAY_TOTALS, body, f"{self.cfg.code}/{origin}/day-totals/{at}/{number}")

    # ------------------------------------------------------------ the Head Office's answers
    def record_states(self, states: protocol.DayStates) -> None:
        """Keep what the Head Office said of each day, for the branch window."""
        if not states.states:
            return
        now = dt.datetime.now()
        with self.engine.begin() as conn:
            for day, state in states.states.items():
                conn.execute(bo_day_totals.update().where(_d.sale_date == day).values(ho_state=state, ho_state_at=now))

    # ------------------------------------------------------------ a day sent again
    def resend(self, days: Iterable[dt.date], send: Send) -> dict[dt.date, int]:
        """Send each day again: its rows, each with the seq of its newest change, then every sale number of it.

        Raises NotResent (nothing sent) when capture is broken: rows written while it
        was off have no change to carry them; ``init-db`` queues them first.
        """
        health = check_capture(self.engine)
        if not health.ok:
            raise NotResent(f"{health.sentence()} Nothing was sent again.")
        origin = self.outbox.origin()
        sent = {}
        for day in sorted(set(days)):
            rows, ids, kept, high = self._day_rows(day)
            if len(ids) + len(kept) > MAX_CHANGES:
                raise NotResent(f"{day} holds {len(ids):,} sales, more than one message can list "
                                f"({MAX_CHANGES:,}); nothing more was sent again")
            parts = [rows[i:i + protocol.RESEND_ROWS] for i in range(0, len(rows), protocol.RESEND_ROWS)]
            for number, part in enumerate([*parts, []], start=1):
                last = number == len(parts) + 1
                at = int(time.time() * 1000)
                body = protocol.encode_day_resend(self.cfg.code, origin, at, day, high, part,
                                                  sorted(ids + kept) if last else None)
                send(protocol.DAY_RESEND, body, f"{self.cfg.code}/{origin}/day-resend/{day}/{at}/{number}")
            sent[day] = len(rows)
            self.log.info("sent %s again: %d sale(s)", day, len(rows))
        return sent

    def _day_rows(self, day: dt.date) -> tuple[list[Any], list[int], list[int], int]:
        """(rows as changes with their newest seq, the day's sale numbers, sales the Head Office keeps, high seq)."""
        newest = (select(_o.sale_id, func.max(_o.seq).label("seq")).where(_o.sale_id.in_(
            select(bo_sales.c.id).where(bo_sales.c.sale_date == day))).group_by(_o.sale_id).subquery())
        columns = wire_columns(bo_outbox)
        query = (select(*columns).join(newest, newest.c.seq == _o.seq)
                 .join(bo_sales, bo_sales.c.id == _o.sale_id).where(_o.op == "u").order_by(_o.sale_id))
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            high = int(conn.execute(select(func.coalesce(func.max(_o.seq), 0))).scalar_one())
            rows = list(conn.execute(query).all())
            ids = [int(i) for (i,) in tuples(conn.execute(select(bo_sales.c.id).where(bo_sales.c.sale_date == day)))]
            # Sales removed here without capture that the operator chose to keep at the Head Office ('x').
            kept = [int(i) for (i,) in tuples(conn.execute(text(
                "SELECT l.sale_id FROM sync_outbox l JOIN (SELECT sale_id, MAX(seq) AS seq FROM sync_outbox "
                "GROUP BY sale_id) m ON m.seq = l.seq WHERE l.op = 'x' AND l.sale_id IN "
                "(SELECT sale_id FROM sync_outbox WHERE op = 'u' AND sale_date = :day)"), {"day": day}))]
        if len(rows) != len(ids):
            raise NotResent(f"{len(ids) - len(rows)} sale(s) of {day} have no captured change; run "
                            "`python -m sync init-db` to queue them, then send the day again")
        return rows, ids, kept, high

    # ------------------------------------------------------------ per-sale hashes
    def send_sales(self, day: dt.date, send: Send) -> int:
        """Send the hash of each sale of ``day``, so the Head Office can name the sales that differ."""
        with self.engine.connect() as conn:
            hashes = sale_hashes(conn, bo_sales, "id", day)
        origin, at = self.outbox.origin(), int(time.time() * 1000)
        send(protocol.DAY_SALES, protocol.encode_day_sales(self.cfg.code, origin, at, day, hashes),
             f"{self.cfg.code}/{origin}/day-sales/{day}/{at}")
        return len(hashes)


def parse_days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from ``first`` to ``last`` included."""
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


"""The Head Office's alerts: evaluated every ``alert_check_seconds``, raised once, cleared once.

``AlertMonitor`` is one thread.  Each check evaluates every registered condition
(sync/alert_conditions.py) and compares what holds now with the alerts that are
open: a condition that starts raises one alert, one that ends clears it, and
nothing is said while it lasts.  Alerts live in ``sync_alerts`` (one open row per
kind and branch, enforced by a unique key, so a restart or a second Head Office
process never raises one again); the couriers (sync/alert_delivery.py) send each
raise and clear to the webhook and by e-mail on their own threads.  What each
channel is owed is written in ``sync_alert_notices`` in the transaction that records
the raise or clear, and marked sent when the courier says the receiver took it; at
its first check a monitor hands its couriers what an earlier process still owed, so
a Head Office stopped or killed before sending sends it once it runs again.

The consumer's own state comes from its events (``on_event``).  When the database
does not answer, the conditions that need it are left as they are, the others
(the consumer waiting for its database) are still raised and sent, and what
happened is written to the history once the database answers again (those notices
live in memory only: a Head Office killed before it sends them does not owe them).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, insert, inspect, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from config import HeadOfficeConfig
from models.rows import tuples
from models.schema import ho_alert_notices, ho_alerts, make_engine
from sync import events
from sync.alert_conditions import CONDITIONS, ConsumerFact, Facts, Finding, Registered
from sync.alert_delivery import CLEARED, QUEUE_LIMIT, RAISED, Courier, Notice, couriers_for

_a, _n = ho_alerts.c, ho_alert_notices.c
Key = tuple[str, str]  # (kind, branch)
KEEP_SENT = dt.timedelta(days=90)  # sent notices are kept this long, then deleted


@dataclass
class _Open:
    id: int | None  # None until written (the database did not answer when it was raised)
    sentence: str
    raised_at: dt.datetime


@dataclass(frozen=True)
class _Change:
    key: Key
    state: str  # RAISED or CLEARED
    sentence: str
    at: dt.datetime


def open_key(kind: str, branch: str) -> str:
    return f"{kind}/{branch}"


class AlertMonitor(threading.Thread):
    """Evaluates the alert conditions at least every minute; raises, clears, records and sends."""

    def __init__(self, cfg: HeadOfficeConfig, engine: Engine | None = None, couriers: Iterable[Courier] | None = None):
        super().__init__(name=f"alerts-{cfg.code}", daemon=True)
        self.cfg = cfg
        self._own_engine = engine is None
        self.engine = engine or make_engine(cfg.db_url, isolation_level="READ COMMITTED")
        self.couriers = list(couriers_for(cfg) if couriers is None else couriers)
        for courier in self.couriers:
            courier.on_sent = self._sent
        self.log = logging.getLogger(f"sync.{cfg.code}.alerts")
        self.started = dt.datetime.now()
        self._stopping = threading.Event()
        self._consumer: ConsumerFact | None = None
        self._open: dict[Key, _Open] | None = None  # loaded from the database at the first check
        self._unwritten: list[_Change] = []  # raised or cleared while the database did not answer
        self._unmarked: list[int] = []  # notices sent while the database did not answer, to mark sent
        self._marks = threading.Lock()
        self.checks = 0
        self._judged: dict[str, float] = {}  # kind -> when it was last judged thoroughly (time.monotonic)
        self._judged_at: dict[str, dt.datetime] = {}  # kind -> the time of its last judgement, thorough or not

    # ------------------------------------------------------------ any thread
    def on_event(self, event: events.Event) -> None:
        """Hand the monitor the consumer's events (it keeps only its state)."""
        if isinstance(event, events.ConsumerStatus):
            last = self._consumer
            if last is None or last.state is not event.state:
                self._consumer = ConsumerFact(event.state, event.failure, event.at)
            else:
                self._consumer = ConsumerFact(event.state, event.failure, last.since)

    def stop(self, timeout: float | None = 10) -> None:
        self._stopping.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)
        for courier in self.couriers:
            courier.stop(timeout)
        if self._own_engine and not self.is_alive():
            self.engine.dispose()

    def start(self) -> None:
        for courier in self.couriers:
            courier.start()
        super().start()

    # ------------------------------------------------------------ the thread
    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.check()
            except Exception:  # noqa: BLE001 - a check that fails must not end the monitor
                self.log.exception("could not evaluate the alerts; trying again at the next check")
            self._stopping.wait(self.cfg.alert_check_seconds)

    def check(self, now: dt.datetime | None = None) -> list[Notice]:
        """Evaluate every condition once; raise and clear; returns the notices sent."""
        now = now or dt.datetime.now()
        changes: list[_Change] | None = None
        unwritten, self._unwritten = self._unwritten, []
        owed: list[Notice] = []
        try:
            with self.engine.begin() as conn:
                self._mark(conn)
                for change in unwritten:  # raised or cleared while the database did not answer: sent already
                    self._record(conn, change)
                if self._open is None:
                    self._open = self._load(conn)
                    owed = self._owed(conn, now)
                tables = frozenset(inspect(conn).get_table_names())
                changes = self._compare(self._evaluate(Facts(conn, self.cfg, now, self.started, self._consumer,
                                                             tables), database=True), now)
                notices = owed + self._write(conn, changes)
        except DBAPIError as exc:
            if self._open is None:
                self.log.debug("alerts wait for the database: %s", exc)
                return []
            if changes is None:  # judge what can be judged without it
                changes = self._compare(self._evaluate(Facts(None, self.cfg, now, self.started, self._consumer),
                                                       database=False), now)
            self._unwritten = unwritten + changes
            notices = [self._notice(c, courier.channel) for c in changes for courier in self.couriers]
        self.checks += 1
        return self._send(notices)

    def _evaluate(self, facts: Facts, database: bool) -> dict[str, dict[str, Finding]]:
        """For each kind that could be judged now, its findings by branch."""
        judged: dict[str, dict[str, Finding]] = {}
        for registered in CONDITIONS.values():
            if registered.needs_database and not database:
                continue
            thorough = self._due(registered)
            found = registered.read(dataclasses.replace(facts, thorough=thorough,
                                                        since=self._judged_at.get(registered.kind)))
            self._judged_at[registered.kind] = facts.now
            if thorough:
                self._judged[registered.kind] = time.monotonic()
            if found is not None:
                judged[registered.kind] = {f.branch: f for f in found}
        return judged

    def _due(self, registered: Registered) -> bool:
        """Whether a spaced condition's thorough judgement is due (half a check early: its spacing is kept,
        not exceeded)."""
        last = self._judged.get(registered.kind)
        if registered.spacing is None or last is None:
            return True
        return time.monotonic() - last >= registered.spacing(self.cfg) - self.cfg.alert_check_seconds / 2

    def _compare(self, judged: dict[str, dict[str, Finding]], now: dt.datetime) -> list[_Change]:
        assert self._open is not None
        changes = []
        for kind, findings in judged.items():
            for branch, finding in findings.items():
                if (kind, branch) not in self._open:
                    changes.append(_Change((kind, branch), RAISED, finding.sentence[:1000], now))
            for key, alert in self._open.items():
                if key[0] == kind and key[1] not in findings:
                    changes.append(_Change(key, CLEARED, alert.sentence, now))
        for change in changes:
            if change.state == RAISED:
                self._open[change.key] = _Open(None, change.sentence, change.at)
            else:
                self._open.pop(change.key, None)
        return changes

    # ------------------------------------------------------------ the record
    def _load(self, conn: Connection) -> dict[Key, _Open]:
        rows = tuples(conn.execute(select(_a.id, _a.kind, _a.branch, _a.sentence, _a.raised_at)
                                   .where(_a.open_key.is_not(None))))
        return {(kind, branch): _Open(i, sentence, raised) for i, kind, branch, sentence, raised in rows}

    def _write(self, conn: Connection, changes: list[_Change]) -> list[Notice]:
        """Record the changes and what each channel is owed of those this process made (another may have
        raised or cleared one first)."""
        notices = []
        for change in changes:
            if self._record(conn, change):
                for courier in self.couriers:
                    notice = self._notice(change, courier.channel)
                    new_id = conn.execute(insert(ho_alert_notices).values(
                        channel=courier.channel, kind=notice.kind, branch=notice.branch, state=notice.state,
                        sentence=notice.sentence, at=notice.at)).inserted_primary_key
                    notices.append(dataclasses.replace(notice, id=int(new_id[0]) if new_id else None))
        return notices

    def _record(self, conn: Connection, change: _Change) -> bool:
        assert self._open is not None
        kind, branch = change.key
        if change.state == RAISED:
            try:
                with conn.begin_nested():
                    new_id = conn.execute(insert(ho_alerts).values(
                        kind=kind, branch=branch, sentence=change.sentence, raised_at=change.at,
                        open_key=open_key(kind, branch))).inserted_primary_key
            except IntegrityError:
                # Another Head Office process raised it first: take its record, say nothing again.
                self._open.pop(change.key, None)
                self._open.update({k: v for k, v in self._load(conn).items() if k == change.key})
                return False
            if change.key in self._open:
                self._open[change.key].id = int(new_id[0]) if new_id else None
            self.log.warning("alert raised: %s", change.sentence)
            return True
        done = conn.execute(update(ho_alerts).where(_a.open_key == open_key(kind, branch))
                            .values(open_key=None, cleared_at=change.at)).rowcount
        if done:
            self.log.info("alert cleared: %s", change.sentence)
        return bool(done)

    # ------------------------------------------------------------ the notices
    @staticmethod
    def _notice(change: _Change, channel: str) -> Notice:
        return Notice(change.key[0], change.key[1], change.state, change.sentence, change.at, channel=channel)

    def _owed(self, conn: Connection, now: dt.datetime) -> list[Notice]:
        """What an earlier process recorded for this process's channels and never sent, oldest first (at most
        a courier's queue of each: older ones are given up with a log line, as a full queue gives them up)."""
        conn.execute(delete(ho_alert_notices).where(_n.sent_at < now - KEEP_SENT))
        owed: list[Notice] = []
        for channel in (courier.channel for courier in self.couriers):
            rows = list(tuples(conn.execute(
                select(_n.id, _n.kind, _n.branch, _n.state, _n.sentence, _n.at)
                .where(_n.channel == channel, _n.sent_at.is_(None)).order_by(_n.id.desc()).limit(QUEUE_LIMIT + 1))))
            if len(rows) > QUEUE_LIMIT:
                oldest = rows.pop()[0]
                given_up = conn.execute(delete(ho_alert_notices).where(
                    _n.channel == channel, _n.sent_at.is_(None), _n.id <= oldest)).rowcount
                self.log.error("gave up %d %s alert notice(s) owed since an earlier start: %d newer ones wait already",
                               given_up, channel, QUEUE_LIMIT)
            owed.extend(Notice(kind, branch, state, sentence, at, id=i, channel=channel)
                        for i, kind, branch, state, sentence, at in reversed(rows))
        if owed:
            self.log.info("%d alert notice(s) owed since an earlier start are sent again", len(owed))
        return owed

    def _sent(self, notice: Notice) -> None:
        """A courier's receiver took ``notice`` (on the courier's thread): mark it sent, or do so at the next check."""
        if notice.id is None:
            return
        with self._marks:
            self._unmarked.append(notice.id)
        try:
            with self.engine.begin() as conn:
                self._mark(conn)
        except DBAPIError as exc:
            self.log.debug("will mark the sent notice at the next check: %s", exc)

    def _mark(self, conn: Connection) -> None:
        with self._marks:
            ids, self._unmarked = self._unmarked, []
        try:
            if ids:
                conn.execute(update(ho_alert_notices).where(_n.id.in_(ids)).values(sent_at=dt.datetime.now()))
        except BaseException:
            with self._marks:
                self._unmarked = ids + self._unmarked
            raise

    def _send(self, notices: list[Notice]) -> list[Notice]:
        channels = {courier.channel: courier for courier in self.couriers}
        for notice in notices:
            channels[notice.channel].put(notice)
        return notices

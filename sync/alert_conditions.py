"""The conditions the Head Office raises alerts for, each one function and one registration.

A condition reads what it needs (``Facts``) and returns a ``Finding`` for each
branch (or for the Head Office itself, branch '') where it holds now, or None when
it cannot judge at this moment (its alerts then stay as they are).  ``sync/alerts.py``
raises an alert when a finding appears and clears it when it goes.  A new condition
is a function and a ``register_condition`` call; a condition that reads a table of
another feature checks ``facts.tables`` first, so it is silent where that table is
not (yet) there.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from config import HeadOfficeConfig
from models.alerts import DAY_DIFFERENT, open_of_kind
from models.day_close import DayState, branch_days
from models.rows import tuples
from models.schema import LetterState, ho_branches, ho_day_totals, ho_dead_letters
from sync.failures import Failure
from sync.states import ConsumerState

HEAD_OFFICE = ""  # the branch of an alert about the Head Office itself
# How far back a different day raises an alert: two months covers a month's close and the
# one before it.  A thorough judgement (every `day_sweep_seconds`) hashes the Head Office's rows
# of all these days (an index range per branch); older days are still compared by `reconcile`
# and the Day close tab on demand.  Every check in between hashes only the days that can have
# moved: the last DAY_ALERT_RECENT days, the days a branch reported since the last judgement,
# and every day of a branch whose days already differ (so its alert clears as soon as they match).
DAY_ALERT_DAYS = 62
DAY_ALERT_RECENT = 3
REPORT_MARGIN = dt.timedelta(minutes=1)  # a report written this long before it committed is still seen


@dataclass(frozen=True)
class ConsumerFact:
    """The consumer's last reported state, and since when it has been in it."""

    state: ConsumerState
    failure: Failure | None
    since: dt.datetime


@dataclass(frozen=True)
class Facts:
    """What a condition may read: the database (None when it does not answer), the settings, the time."""

    conn: Connection | None
    cfg: HeadOfficeConfig
    now: dt.datetime
    started: dt.datetime  # when the monitor started: a branch never heard from is silent since then
    consumer: ConsumerFact | None
    tables: frozenset[str] = frozenset()
    # For a condition registered with a spacing: whether this judgement is a thorough one (its
    # spacing has passed), and when it was last judged at all (None: never, in this process).
    thorough: bool = True
    since: dt.datetime | None = None


@dataclass(frozen=True)
class Finding:
    kind: str
    branch: str
    sentence: str


Condition = Callable[[Facts], "Iterable[Finding] | None"]


@dataclass(frozen=True)
class Registered:
    kind: str
    read: Condition
    needs_database: bool
    # A costly condition: the seconds (from the settings) between two thorough judgements; on the checks
    # in between it is judged with ``facts.thorough`` False and may look only at what changed.
    spacing: Callable[[HeadOfficeConfig], float] | None = None


CONDITIONS: dict[str, Registered] = {}


def register_condition(kind: str, read: Condition, needs_database: bool = True,
                       spacing: Callable[[HeadOfficeConfig], float] | None = None) -> None:
    """Evaluate ``read`` for alerts of ``kind`` (at most 32 characters) on every check; with ``spacing``,
    thoroughly once ``spacing(cfg)`` seconds have passed since the last thorough judgement, lightly between."""
    if len(kind) > 32:
        raise ValueError(f"alert kind {kind!r} is longer than 32 characters")
    CONDITIONS[kind] = Registered(kind, read, needs_database, spacing)


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes:,} minutes"


# ---------------------------------------------------------------- the conditions
def silent(facts: Facts) -> Iterable[Finding] | None:
    """A branch from which nothing (no change, no report) arrived for longer than silent_after_minutes."""
    if facts.conn is None or facts.consumer is None or facts.consumer.state is not ConsumerState.ONLINE:
        return None  # a consumer that cannot listen hears nobody: its own alert says so
    b = ho_branches.c
    heard: dict[str, dt.datetime | None] = dict(tuples(facts.conn.execute(select(b.code, func.greatest(
        func.coalesce(b.last_applied_at, b.reported_at), func.coalesce(b.reported_at, b.last_applied_at))))))
    limit = dt.timedelta(minutes=facts.cfg.silent_after_minutes)
    found = []
    for code in facts.cfg.branches:
        last = heard.get(code)
        if facts.now - (last or facts.started) > limit:
            since = "has not been heard from" if last is None else f"has not been heard from since {last:%Y-%m-%d %H:%M}"
            found.append(Finding("silent", code, f"Branch {code} {since}, longer than "
                                                  f"{_minutes(limit.total_seconds())}."))
    return found


def capture_broken(facts: Facts) -> Iterable[Finding] | None:
    """A branch whose last report says its change capture is broken."""
    assert facts.conn is not None
    b = ho_branches.c
    rows = tuples(facts.conn.execute(select(b.code, b.capture_problem).where(b.capture_ok.is_(False))))
    return [Finding("capture_broken", code, f"Branch {code}: "
                    f"{problem or 'change capture is broken (the branch did not say why).'}")
            for code, problem in rows]


def dead_letters_waiting(facts: Facts) -> Iterable[Finding] | None:
    """Parked dead letters, per branch they are attributed to (the Head Office's for the unattributed)."""
    assert facts.conn is not None
    d = ho_dead_letters.c
    counts = tuples(facts.conn.execute(select(d.branch, func.count()).where(d.state == LetterState.PARKED)
                                       .group_by(d.branch)))
    found = []
    for branch, n in counts:
        whose = f"from branch {branch}" if branch else "from an unknown sender"
        found.append(Finding("dead_letters", branch or HEAD_OFFICE,
                             f"{n:,} message(s) {whose} could not be applied and wait for a person "
                             "(Dead letters in the Head Office window: retry or discard)."))
    return found


def backlog_too_long(facts: Facts) -> Iterable[Finding] | None:
    """A branch whose reported backlog, at its measured pace, will not fit its next sync window."""
    assert facts.conn is not None
    b = ho_branches.c
    rows = tuples(facts.conn.execute(select(b.code, b.pending_reported, b.drain_per_minute, b.window_seconds)
                                     .where(b.pending_reported > 0, b.drain_per_minute > 0, b.window_seconds.is_not(None))))
    return [Finding("backlog", code, sentence) for code, pending, per_minute, window in rows
            if (sentence := backlog_sentence(code, pending, per_minute, window)) is not None]


def backlog_sentence(code: str, pending: int, per_minute: int, window_seconds: int) -> str | None:
    """Why ``pending`` changes at ``per_minute`` will not fit a window of ``window_seconds``, or None when they fit."""
    needs = pending * 60 / per_minute
    if needs <= window_seconds:
        return None
    return (f"Branch {code} has {pending:,} change(s) waiting; at its measured {per_minute:,} a minute they need "
            f"about {_minutes(needs)}, more than its next sync window of {_minutes(window_seconds)}.")


def day_different(facts: Facts) -> Iterable[Finding] | None:
    """A branch with days, in the last DAY_ALERT_DAYS, whose totals do not match the Head Office's rows."""
    if facts.conn is None or "sync_day_totals" not in facts.tables:
        return None
    conn, today = facts.conn, facts.now.date()
    first = today - dt.timedelta(days=DAY_ALERT_DAYS)
    differing = {branch for branch, _sentence in tuples(conn.execute(open_of_kind(DAY_DIFFERENT)))}
    moved = {} if facts.thorough or facts.since is None else _days_reported_since(conn, facts.cfg.branches, first,
                                                                                    facts.since)
    recent = {today - dt.timedelta(days=n) for n in range(DAY_ALERT_RECENT)}
    found = []
    for code in facts.cfg.branches:
        if facts.thorough or facts.since is None or code in differing:
            judged = branch_days(conn, code, first)
        else:
            judged = branch_days(conn, code, days=recent | moved.get(code, set()))
        days = [d.day for d in judged if d.state is DayState.DIFFERENT and d.day >= first]
        if days:
            listed = ", ".join(f"{d:%Y-%m-%d}" for d in days[:5]) + (f" and {len(days) - 5} more" if len(days) > 5 else "")
            found.append(Finding(DAY_DIFFERENT, code, f"Branch {code}: the sales of {listed} do not match the Head "
                                 "Office's. In the Day close tab, 'Which sales differ?' names them and 'Resend' puts "
                                 "the day right (or `python -m sync reconcile`)."))
    return found


def _days_reported_since(conn: Connection, branches: Iterable[str], first: dt.date,
                         since: dt.datetime) -> dict[str, set[dt.date]]:
    """branch -> the days from ``first`` whose totals it reported since ``since`` (less a margin for slow commits)."""
    t = ho_day_totals.c
    out: dict[str, set[dt.date]] = {}
    # One range of the (branch, sale_date) key per branch: its reported days of two months, a few dozen rows.
    for branch, day in tuples(conn.execute(select(t.branch, t.sale_date).where(
            t.branch.in_(sorted(branches)), t.sale_date >= first, t.reported_at >= since - REPORT_MARGIN))):
        out.setdefault(branch, set()).add(day)
    return out


def _consumer_in(state: ConsumerState, kind: str, words: str) -> Condition:
    def read(facts: Facts) -> Iterable[Finding] | None:
        c = facts.consumer
        if c is None:
            return None  # no consumer in this process: nothing to say about it
        if c.state is not state or (facts.now - c.since).total_seconds() < facts.cfg.alert_check_seconds:
            return []  # a reconnect that lasts less than a check is not worth a person's time
        cause = f" ({c.failure.detail})" if c.failure else ""
        return [Finding(kind, HEAD_OFFICE, f"The Head Office consumer {words} since {c.since:%H:%M:%S}{cause}.")]
    return read


register_condition("silent", silent)
register_condition("capture_broken", capture_broken)
register_condition("dead_letters", dead_letters_waiting)
register_condition("backlog", backlog_too_long)
# All the last DAY_ALERT_DAYS days every `day_sweep_seconds`; between, on every check, the days that can have moved.
register_condition(DAY_DIFFERENT, day_different, spacing=lambda cfg: cfg.day_sweep_seconds)
register_condition("consumer_offline", _consumer_in(ConsumerState.OFFLINE, "consumer_offline",
                                                    "cannot reach the broker"), needs_database=False)
register_condition("database_waiting", _consumer_in(ConsumerState.WAITING_FOR_DATABASE, "database_waiting",
                                                    "is waiting for its database"), needs_database=False)

"""Day close on the wire: control totals, a day sent again, per-sale hashes, and the Head Office's asks.

  day-totals    branch -> HO  v2  {"v": 2, "type": "day-totals", "branch", "origin", "at",
                                   "through": every day changed by the branch's changes up to this seq is reported,
                                   "since": the "through" the branch last told (a Head Office that holds less lost some),
                                   "days": [["2026-11-29", rows, qty, "amt", "tax", "total", "<digest, 16 hex>",
                                             in_flight], ...]}
  day-resend    branch -> HO  v2  {"v": 2, "type": "day-resend", "branch", "origin", "at", "day", "hw",
                                   "rows": [[seq, sale_id, "u", <the row, in models.shape order>], ...],
                                   "ids": null, or in the last part every sale number the branch holds that day}
  day-sales     branch -> HO  v2  {"v": 2, "type": "day-sales", "branch", "origin", "at", "day",
                                   "sales": [[sale_id, "<row hash, 16 hex>"], ...]}
  day-request   HO -> branch  v2  {"v": 2, "type": "day-request", "branch", "day", "what": "resend" | "sales" | "totals"}
                                  ("totals": send the totals of every day now; the day is not read)
  day-states    HO -> branch  v2  {"v": 2, "type": "day-states", "branch", "states": [["2026-11-29", "certified"], ...]}

The totals are defined in models/day_totals.py.  ``in_flight`` is the branch's word
that it still had changes of that day pending or sent and not receipted when it
computed them.  A resend's rows carry the seq of the change that produced each row,
so the Head Office applies them with its usual rule (versions and tombstones hold);
``hw`` is the branch's highest seq then, and only rows the Head Office holds at or
below it can be found gone.  Every check failure is a ``Poison`` with a sentence.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from models.day_totals import DayTotals
from models.shape import SALE_SHAPE, RowShape
from sync.protocol.control import register_to_branch
from sync.protocol.limits import MAX_CHANGES
from sync.protocol.messages import (
    LATEST_MS,
    Change,
    Poison,
    _decode_change,
    _is_int,
    pack,
    register_from_branch,
    register_type,
)

DAY_TOTALS, DAY_RESEND, DAY_SALES = "day-totals", "day-resend", "day-sales"
DAY_REQUEST, DAY_STATES = "day-request", "day-states"
DAYS_VERSION = 2
MAX_DAYS = 2000  # days in one day-totals message
RESEND_ROWS = 5000  # rows in one part of a day sent again
RESEND, SALES, TOTALS = "resend", "sales", "totals"
STATES = ("certified", "in flight", "different", "unknown")
_HEX = re.compile(r"[0-9a-f]{16}")

register_type(DAY_TOTALS, DAYS_VERSION, {"branch", "origin", "at", "through", "since", "days"})
register_type(DAY_RESEND, DAYS_VERSION, {"branch", "origin", "at", "day", "hw", "rows", "ids"})
register_type(DAY_SALES, DAYS_VERSION, {"branch", "origin", "at", "day", "sales"})
register_type(DAY_REQUEST, DAYS_VERSION, {"branch", "day", "what"})
register_type(DAY_STATES, DAYS_VERSION, {"branch", "states"})


@dataclass(frozen=True)
class ReportedDay:
    totals: DayTotals
    in_flight: bool


@dataclass(frozen=True)
class DayTotalsReport:
    """A branch's totals of some days, and the seq through which every changed day is reported."""

    branch: str
    origin: str
    at_ms: int
    through: int
    days: list[ReportedDay]
    since: int = 0  # the through this branch told before: a Head Office holding less has lost reports


@dataclass(frozen=True)
class DayResend:
    """One part of a day sent again: rows as changes (their own seqs), and in the last part every sale number."""

    branch: str
    origin: str
    at_ms: int
    day: dt.date
    high_water: int
    changes: list[Change]
    ids: list[int] | None


@dataclass(frozen=True)
class DaySales:
    """A branch's hash of each of its sales of a day."""

    branch: str
    origin: str
    at_ms: int
    day: dt.date
    hashes: dict[int, int]


@dataclass(frozen=True)
class DayRequest:
    """The Head Office asks the branch to send a day again, or its per-sale hashes."""

    branch: str
    day: dt.date
    what: str


@dataclass(frozen=True)
class DayStates:
    """The Head Office's states of some of the branch's days."""

    branch: str
    states: dict[dt.date, str]


# ---------------------------------------------------------------- encoding
def encode_day_totals(report: DayTotalsReport) -> bytes:
    return pack({"v": DAYS_VERSION, "type": DAY_TOTALS, "branch": report.branch, "origin": report.origin,
                 "at": report.at_ms, "through": report.through, "since": report.since,
                 "days": [[d.totals.day.isoformat(), d.totals.rows, d.totals.qty, str(d.totals.amt), str(d.totals.tax),
                           str(d.totals.total), f"{d.totals.digest:016x}", d.in_flight] for d in report.days]})


def encode_day_resend(branch: str, origin: str, at_ms: int, day: dt.date, high_water: int,
                      rows: Sequence[Sequence[Any]], ids: list[int] | None, shape: RowShape = SALE_SHAPE) -> bytes:
    """``rows`` as the outbox reads them: (seq, sale_id, 'u', *values in wire form)."""
    return pack({"v": DAYS_VERSION, "type": DAY_RESEND, "branch": branch, "origin": origin, "at": at_ms,
                 "day": day.isoformat(), "hw": high_water,
                 "rows": [[r[0], r[1], "u", *r[3:3 + shape.width]] for r in rows], "ids": ids})


def encode_day_sales(branch: str, origin: str, at_ms: int, day: dt.date, hashes: dict[int, int]) -> bytes:
    return pack({"v": DAYS_VERSION, "type": DAY_SALES, "branch": branch, "origin": origin, "at": at_ms,
                 "day": day.isoformat(), "sales": [[i, f"{h:016x}"] for i, h in sorted(hashes.items())]})


def encode_day_request(branch: str, day: dt.date, what: str) -> bytes:
    return pack({"v": DAYS_VERSION, "type": DAY_REQUEST, "branch": branch, "day": day.isoformat(), "what": what})


def encode_day_states(branch: str, states: dict[dt.date, str]) -> bytes:
    return pack({"v": DAYS_VERSION, "type": DAY_STATES, "branch": branch,
                 "states": [[d.isoformat(), s] for d, s in sorted(states.items())]})


# ---------------------------------------------------------------- decoding
def _day(value: object, what: str = "day") -> dt.date:
    if not isinstance(value, str) or len(value) != 10:
        raise Poison(f"{what} {str(value)[:30]!r} is not a date written YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Poison(f"{what} {value[:30]!r} is not a real day") from None


def _money(value: object) -> Decimal:
    if not isinstance(value, str) or not re.fullmatch(r"-?[0-9]{1,18}\.[0-9]{2}", value):
        raise Poison(f"amount {str(value)[:30]!r} is not a sum in cents written as text")
    return Decimal(value)


def _hex(value: object) -> int:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise Poison(f"digest {str(value)[:30]!r} is not 16 hexadecimal digits")
    return int(value, 16)


def _sender(obj: dict[str, Any], known: set[str]) -> tuple[str, str, int]:
    branch, origin, at = obj.get("branch"), obj.get("origin"), obj.get("at")
    if not isinstance(branch, str) or branch not in known:
        raise Poison(f"branch {str(branch)[:40]!r} is not one this Head Office knows")
    if not isinstance(origin, str) or not 1 <= len(origin) <= 36 or not origin.isprintable() or not origin.isascii():
        raise Poison(f"origin {str(origin)[:40]!r} is not a database id")
    if not _is_int(at, 1, LATEST_MS):
        raise Poison(f"at {str(at)[:30]} is not a time in milliseconds before the year 10000")
    return branch, origin, at


def _day_totals(obj: dict[str, Any], known: set[str], _shape: RowShape) -> DayTotalsReport:
    branch, origin, at = _sender(obj, known)
    through, since, days = obj.get("through"), obj.get("since"), obj.get("days")
    if not _is_int(through, 0) or not _is_int(since, 0) or since > through:
        raise Poison("day-totals 'through' and 'since' are not seqs, the first at least the second")
    if not isinstance(days, list) or len(days) > MAX_DAYS:
        raise Poison(f"day-totals 'days' is not a list of at most {MAX_DAYS} days")
    reported, seen = [], set()
    for item in days:
        if not isinstance(item, list) or len(item) != 8:
            raise Poison("a day's totals are not [day, rows, qty, amt, tax, total, digest, in_flight]")
        day = _day(item[0])
        rows, qty, flight = item[1], item[2], item[7]
        if day in seen or not _is_int(rows, 0) or not _is_int(qty, 0) or not isinstance(flight, bool):
            raise Poison(f"the totals of {day} are repeated, or their rows, qty or in_flight are not what a branch writes")
        seen.add(day)
        totals = DayTotals(day, rows, qty, _money(item[3]), _money(item[4]), _money(item[5]), _hex(item[6]))
        reported.append(ReportedDay(totals, flight))
    return DayTotalsReport(branch, origin, at, through, reported, since)


def _day_resend(obj: dict[str, Any], known: set[str], shape: RowShape) -> DayResend:
    branch, origin, at = _sender(obj, known)
    day, high_water, rows, ids = _day(obj.get("day")), obj.get("hw"), obj.get("rows"), obj.get("ids")
    if not _is_int(high_water, 0):
        raise Poison("day-resend 'hw' is not a seq")
    if not isinstance(rows, list) or len(rows) > RESEND_ROWS:
        raise Poison(f"day-resend 'rows' is not a list of at most {RESEND_ROWS} rows")
    if ids is not None and (not isinstance(ids, list) or len(ids) > MAX_CHANGES or not all(_is_int(i) for i in ids)):
        raise Poison(f"day-resend 'ids' is neither null nor a list of at most {MAX_CHANGES} sale numbers")
    changes = []
    for item in rows:
        try:
            change = _decode_change(item, shape)
        except ValueError as exc:
            raise Poison(f"a row sent again is refused: {exc}") from None
        if change.values is None or change.values["sale_date"] != day or change.seq > high_water:
            raise Poison(f"row {change.sale_id} sent again is not a sale of {day} at or below seq {high_water}")
        changes.append(change)
    return DayResend(branch, origin, at, day, high_water, changes, ids)


def _day_sales(obj: dict[str, Any], known: set[str], _shape: RowShape) -> DaySales:
    branch, origin, at = _sender(obj, known)
    day, sales = _day(obj.get("day")), obj.get("sales")
    if not isinstance(sales, list) or len(sales) > MAX_CHANGES:
        raise Poison(f"day-sales 'sales' is not a list of at most {MAX_CHANGES} sales")
    hashes = {}
    for item in sales:
        if not isinstance(item, list) or len(item) != 2 or not _is_int(item[0]):
            raise Poison("a sale's hash is not [sale_id, digest]")
        hashes[item[0]] = _hex(item[1])
    return DaySales(branch, origin, at, day, hashes)


def _addressed(obj: dict[str, Any], branch: str | None) -> str:
    if branch is not None and obj.get("branch") != branch:
        raise Poison(f"{obj.get('type')} is addressed to branch {str(obj.get('branch'))[:40]!r}, not to {branch}")
    return str(obj.get("branch"))


def _day_request(obj: dict[str, Any], branch: str | None) -> DayRequest:
    to, what = _addressed(obj, branch), obj.get("what")
    if what not in (RESEND, SALES, TOTALS):
        raise Poison(f"day-request asks for {str(what)[:20]!r}, not {RESEND!r}, {SALES!r} or {TOTALS!r}")
    return DayRequest(to, _day(obj.get("day")), str(what))


def _day_states(obj: dict[str, Any], branch: str | None) -> DayStates:
    to, states = _addressed(obj, branch), obj.get("states")
    if not isinstance(states, list) or len(states) > MAX_DAYS:
        raise Poison(f"day-states 'states' is not a list of at most {MAX_DAYS} days")
    out = {}
    for item in states:
        if not isinstance(item, list) or len(item) != 2 or item[1] not in STATES:
            raise Poison("a day's state is not [day, one of " + ", ".join(STATES) + "]")
        out[_day(item[0])] = str(item[1])
    return DayStates(to, out)


register_from_branch(DAY_TOTALS, _day_totals)
register_from_branch(DAY_RESEND, _day_resend)
register_from_branch(DAY_SALES, _day_sales)
register_to_branch(DAY_REQUEST, _day_request)
register_to_branch(DAY_STATES, _day_states)

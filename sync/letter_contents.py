"""What a parked message held, read back from its stored body, and what kind of trouble keeps it parked.

A dead letter's reason is the engine's own text; a person needs what the message
held (which branch, how many sales, their total, their numbers) and what to do.
``summarise`` reads the stored body and runs the consumer's own checks again, with
the Head Office's configuration as it is now, so the kind of trouble comes from
what the checks find, never from the reason's wording.  It never raises: a body
that cannot be read is said to be unreadable, with its size.  Decoding is bounded
by the protocol's limits (``sync.protocol.limits``), but a window still calls it
from a worker thread: a full message is megabytes of JSON.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from config import HeadOfficeConfig
from models.schema import ho_branches
from models.shape import SALE_SHAPE, RowShape
from sync import protocol
from sync.broker import Names
from sync.dead_letters import Attempt, StoredLetter, attempts_of, stored_letter
from sync.senders import impostor, sender_of

SHOWN_SALE_NUMBERS = 6   # sale numbers listed; the rest are counted


class Trouble(Enum):
    """What keeps a letter parked, as the checks find it now."""

    PARKED_BY_BROKER = "parked by the broker"     # failed too many deliveries, or its queue was full
    TOO_LARGE = "too large"                       # more than any real message
    MALFORMED = "malformed"                       # not what Branch Sync writes
    NOT_SUPPORTED = "not supported"               # a newer version or type than this Head Office reads
    UNKNOWN_BRANCH = "unknown branch"             # a branch the Head Office config does not name
    ANOTHER_BRANCH = "another branch's name"      # sent in the name of a branch other than its sender
    REFUSED_SALES = "refused sales"               # sales holding values no sale may have
    OTHER_HISTORY = "another history"             # the branch's database is not the one the Head Office knows
    PASSES_NOW = "passes now"                     # the checks pass now: a retry may apply it


_REFUSALS = {protocol.Refusal.MALFORMED: Trouble.MALFORMED, protocol.Refusal.TOO_LARGE: Trouble.TOO_LARGE,
             protocol.Refusal.NOT_SUPPORTED: Trouble.NOT_SUPPORTED, protocol.Refusal.UNKNOWN_BRANCH: Trouble.UNKNOWN_BRANCH}


@dataclass(frozen=True)
class LetterContents:
    """What a stored message held, as far as it can be read, and its trouble."""

    trouble: Trouble
    size: int                          # bytes of the body as it arrived
    readable: bool                     # whether the body could be read at all
    kind: str | None = None            # the message's type ("changes", "report", ...)
    branch: str | None = None          # the branch it speaks for (its body's word), else the one it is put down to
    sales: int = 0                     # distinct sales it changes
    deletes: int = 0                   # of which deleted
    total: Decimal = Decimal("0.00")   # the sum of Total of the sales it saves
    unread_totals: int = 0             # saved sales whose Total could not be read (not in ``total``)
    sale_numbers: tuple[int, ...] = ()  # the first SHOWN_SALE_NUMBERS, ascending
    more_sale_numbers: int = 0         # how many more there are
    broker_reason: str | None = None   # x-death reason when the broker parked it (delivery_limit, maxlen, ...)


@dataclass(frozen=True)
class LetterDetails:
    """A letter as a window shows it: what it held, and every attempt so far."""

    letter_id: int
    contents: LetterContents
    reason: str
    attempts: list[Attempt] = field(default_factory=list)


@dataclass(frozen=True)
class BranchRecord:
    """What the Head Office holds of the branch a message speaks for (for the history check)."""

    origin: str | None
    alert: str | None


def summarise(letter: StoredLetter, cfg: HeadOfficeConfig, branch_record: BranchRecord | None = None,
              shape: RowShape = SALE_SHAPE) -> LetterContents:
    """What ``letter`` held and why it stays parked, by the checks the consumer runs, with ``cfg`` as it is now."""
    try:
        return _summarise(letter, cfg, branch_record, shape)
    except Exception:  # noqa: BLE001 - whatever a hostile body makes a check raise, it is only unreadable
        return LetterContents(Trouble.MALFORMED, letter.body_bytes, readable=False, branch=letter.branch)


def _summarise(letter: StoredLetter, cfg: HeadOfficeConfig, record: BranchRecord | None, shape: RowShape) -> LetterContents:
    size = max(letter.body_bytes, len(letter.body))
    properties = _properties(letter.properties)
    encoding = properties.get("content_encoding")
    encoding = encoding if isinstance(encoding, str) else None
    names = Names(cfg.topology_prefix)
    by_broker = letter.queue is not None and (letter.queue == names.dead_queue
                                              or letter.queue.startswith(names.held_queue("")))
    if len(letter.body) < letter.body_bytes:   # only the start of a body larger than any message was kept
        return LetterContents(Trouble.TOO_LARGE, size, readable=False, branch=letter.branch)
    try:
        obj = protocol.unpack(letter.body, encoding)
    except protocol.Poison as exc:
        trouble = Trouble.PARKED_BY_BROKER if by_broker else _REFUSALS[exc.kind]
        reason = _death_reason(properties) if by_broker else None
        return LetterContents(trouble, size, readable=False, branch=letter.branch, broker_reason=reason)
    contents = _held(obj, letter, size, shape)
    if by_broker:
        return _with(contents, Trouble.PARKED_BY_BROKER, broker_reason=_death_reason(properties))
    try:
        message = protocol.decode_from_branch(letter.body, encoding, cfg.branches, shape)
    except protocol.Poison as exc:
        return _with(contents, _REFUSALS[exc.kind])
    sender = sender_of(names, letter.queue or "", letter.publisher)
    if impostor(sender, cfg, message.branch) is not None:
        return _with(contents, Trouble.ANOTHER_BRANCH)
    if isinstance(message, protocol.ChangeBatch):
        # The consumer refuses a batch of another history whole, before it looks at its single changes.
        if record is not None and (record.alert or (record.origin and record.origin != message.origin)):
            return _with(contents, Trouble.OTHER_HISTORY)
        if message.rejected:
            return _with(contents, Trouble.REFUSED_SALES)
    return _with(contents, Trouble.PASSES_NOW)


def _with(contents: LetterContents, trouble: Trouble, broker_reason: str | None = None) -> LetterContents:
    return LetterContents(trouble, contents.size, contents.readable, contents.kind, contents.branch, contents.sales,
                          contents.deletes, contents.total, contents.unread_totals, contents.sale_numbers,
                          contents.more_sale_numbers, broker_reason)


def _held(obj: dict[str, Any], letter: StoredLetter, size: int, shape: RowShape) -> LetterContents:
    """The sales a decoded body names, read leniently: a change the checks refuse still has a number."""
    kind = obj.get("type") if isinstance(obj.get("type"), str) else None
    claimed = obj.get("branch")
    branch = claimed[:64] if isinstance(claimed, str) and claimed else letter.branch
    items = obj.get("changes") if kind == protocol.CHANGES else None
    numbers: set[int] = set()
    deleted: set[int] = set()
    total, unread = Decimal("0.00"), 0
    at_total = 3 + shape.names.index("total")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, list) or len(item) < 3 or not _whole(item[1]):
            continue
        numbers.add(item[1])
        if item[2] == "d":
            deleted.add(item[1])
            continue
        value = _money(item[at_total]) if len(item) > at_total else None
        if value is None:
            unread += 1
        else:
            total += value
    ordered = sorted(numbers)
    return LetterContents(Trouble.MALFORMED, size, True, kind, branch, len(numbers), len(deleted), total, unread,
                          tuple(ordered[:SHOWN_SALE_NUMBERS]), max(0, len(ordered) - SHOWN_SALE_NUMBERS))


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _money(value: object) -> Decimal | None:
    """A Total as the wire carries it (text of a decimal with at most two places), or None."""
    if not isinstance(value, str) or len(value) > 20:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount.as_tuple().exponent not in (0, -1, -2):
        return None
    return amount


def _properties(record: str) -> dict[str, Any]:
    try:
        value = json.loads(record)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _death_reason(properties: dict[str, Any]) -> str | None:
    headers = properties.get("headers")
    deaths = headers.get("x-death") if isinstance(headers, dict) else None
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):   # the newest entry is the broker's
        reason = deaths[0].get("reason")
        return str(reason)[:40] if reason is not None else None
    return None


def branch_record(engine: Engine, codes: Iterable[str | None]) -> BranchRecord | None:
    """The Head Office's origin and alert for the first of ``codes`` it holds a row for."""
    wanted = [c for c in codes if c]
    if not wanted:
        return None
    b = ho_branches.c
    with engine.connect() as conn:
        rows = {row.code: row for row in conn.execute(select(b.code, b.origin, b.alert).where(b.code.in_(wanted)))}
    for code in wanted:
        if code in rows:
            return BranchRecord(rows[code].origin, rows[code].alert)
    return None


def read_letter(engine: Engine, letter_id: int, cfg: HeadOfficeConfig) -> LetterDetails | None:
    """A parked letter's contents, trouble and attempts (None when it is gone); reads the database: call off the Tk thread."""
    letter = stored_letter(engine, letter_id)
    if letter is None:
        return None
    record = branch_record(engine, [letter.claimed_branch, letter.branch])
    return LetterDetails(letter.id, summarise(letter, cfg, record), letter.reason, attempts_of(engine, letter_id))

"""The message bodies between offices, and how they are checked.

A body is JSON, compressed with zlib (``content_encoding = "zlib"``):

  changes       branch -> HO   v1  {"v": 1, "type": "changes", "branch": "bo1", "origin": "<uuid>",
                                    "hw": highest seq at the branch when built, "at": built, ms since epoch,
                                    "changes": [[seq, sale_id, "u", <the row, in models.shape order>],
                                                [seq, sale_id, "d"], ...]}
  report        branch -> HO   v2  {"v": 2, "type": "report", "branch", "origin", "at",
                                    "capture": {"ok": true|false, "problem": text|null},
                                    "pending": changes waiting, "max_seq": highest seq}
                               v3  the same, and "rate": changes it measured sending per minute
                                    (or null), "window": seconds of its next sync window (null:
                                    always connected); sent only to a Head Office that reads v3
  receipt       HO -> branch   v1  {"v": 1, "type": "receipt", "branch", "applied": [[first, last], ...],
                                    "rejected": [[seq, "reason"], ...]}
                               v2  the same, and "origin": the database whose changes these were,
                                    "held": the highest seq the HO holds from this branch (or null),
                                    "alert": the HO's alert on the branch (or null)
                               v3  as v2 (a receipt of v3 tells the branch the HO reads reports of v3)
  sync-request  HO -> branch   v1  {"v": 1, "type": "sync-request"}

(receipts and sync requests, the messages on a branch's own queue, are in control.py.)
Money and dates travel as strings so that no float ever holds them.  A reader
refuses unknown keys, versions it does not read, and any body that would cost
more than the largest real message (``sync.protocol.limits``); every failure,
whatever raised it, is a ``Poison`` with a sentence.
"""
from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, NoReturn, Protocol, TypeGuard

from models.sale import Sale
from models.shape import SALE_SHAPE, RowShape
from sync.protocol.limits import MAX_CHANGES, MAX_INFLATED_BYTES, MAX_WIRE_BYTES, TooMuchWork, check_work, compact

VERSION = 3  # the newest version this code reads and writes
CHANGES_VERSION = 1  # changes carry nothing new, so an older Head Office still reads them
CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "zlib"
CHANGES, REPORT = "changes", "report"
LATEST_MS = 253_402_300_799_999  # 9999-12-31 23:59:59.999: the last moment a date can show
# The keys of each (type, version) this office reads; a message module registers its own.
_KEYS: dict[tuple[str, int], frozenset[str]] = {}


def register_type(kind: str, version: int, keys: set[str]) -> None:
    """Declare that this office reads ``kind`` messages of ``version``, with exactly these keys."""
    _KEYS[(kind, version)] = frozenset(keys | {"v", "type"})


register_type(CHANGES, 1, {"branch", "origin", "hw", "at", "changes"})
register_type(REPORT, 2, {"branch", "origin", "at", "capture", "pending", "max_seq"})
register_type(REPORT, 3, {"branch", "origin", "at", "capture", "pending", "max_seq", "rate", "window"})


class Refusal(Enum):
    """Why a message cannot be read, as a kind a window chooses its words from (never from the text)."""

    MALFORMED = "malformed"              # not the JSON, values or keys this protocol writes
    TOO_LARGE = "too large"              # more than any real message: refused unread
    NOT_SUPPORTED = "not supported"      # a version or type of message this office does not read
    UNKNOWN_BRANCH = "unknown branch"    # a branch this Head Office does not know


class Poison(ValueError):
    """A message that can never be applied; the text is the reason recorded with it, ``kind`` what kind of refusal."""

    def __init__(self, reason: str, kind: Refusal = Refusal.MALFORMED):
        super().__init__(reason)
        self.kind = kind


class Unsupported(Poison):
    """A message of a version (or a type of a version) this code does not read: a newer office wrote it.

    It is parked like any poison, and marked, so that the release that reads it applies
    it (``python -m sync migrate`` queues such letters again once they can be read).
    """

    def __init__(self, reason: str, version: int, message_type: str | None = None):
        super().__init__(reason, Refusal.NOT_SUPPORTED)
        self.version = version
        self.message_type = message_type  # its type, when the body names one


class TooLarge(ValueError):
    """These rows make a message larger than any reader accepts: send them in smaller ones."""


@dataclass(frozen=True)
class Change:
    """One captured change: an upsert carries the row's values by name, a delete none."""

    seq: int
    sale_id: int
    values: dict[str, Any] | None

    @property
    def is_delete(self) -> bool:
        return self.values is None

    @property
    def sale(self) -> Sale | None:
        return None if self.values is None else Sale.from_values(self.values)


@dataclass(frozen=True)
class ChangeBatch:
    """A decoded ``changes`` message: the good changes and the refused ones."""

    branch: str
    origin: str
    high_water: int  # the branch's highest seq when it built the message
    built_at_ms: int  # the branch's clock when it built the message (shown, never trusted)
    changes: list[Change]
    rejected: list[tuple[int | None, str, Any]]  # (seq, reason, the change as received)
    version: int = CHANGES_VERSION


@dataclass(frozen=True)
class Report:
    """A branch's own account of itself, sent with its changes."""

    branch: str
    origin: str
    at_ms: int
    capture_ok: bool
    capture_problem: str | None
    pending: int
    max_seq: int
    rate_per_minute: int | None = None  # changes the branch measured sending per minute (None: not measured)
    window_seconds: int | None = None  # seconds of its next sync window (None: always connected)
    version: int = 2


# ---------------------------------------------------------------- bodies
def pack(obj: dict[str, Any]) -> bytes:
    return zlib.compress(compact(obj), 6)


def unpack(body: bytes, content_encoding: str | None, expected: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON object of a body, within the limits, of one of the ``expected`` types (any, if none).

    Raises Poison with a sentence otherwise.
    """
    try:
        raw = _inflate(body, content_encoding)
        check_work(raw)
        obj = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constants)
    except Poison:
        raise
    except TooMuchWork as exc:
        raise Poison(f"body is refused unread: {exc}", Refusal.TOO_LARGE) from None
    except Exception as exc:  # noqa: BLE001 - whatever the decoders raise, the body is at fault
        raise Poison(f"body is not UTF-8 JSON that this protocol accepts ({exc.__class__.__name__}: {str(exc)[:120]})") from None
    if not isinstance(obj, dict):
        raise Poison("body is not a JSON object")
    kind, version = obj.get("type"), obj.get("v")
    if not _is_int(version, 0, 1000):
        raise Poison(f"message version {str(version)[:20]!r} is not a version any office writes", Refusal.MALFORMED)
    named = kind[:40] if isinstance(kind, str) else None
    if not any(v == version for (_k, v) in _KEYS):  # first: a newer office's new types come with a new version
        raise Unsupported(f"message version {version} is not supported here (this office reads versions 1 to {VERSION})",
                          version, named)
    if expected and kind not in expected:
        raise Poison(f"message type {str(kind)[:40]!r} is not {' or '.join(repr(e) for e in expected)}",
                     Refusal.NOT_SUPPORTED)
    allowed = _KEYS.get((kind, version)) if isinstance(kind, str) else None
    if allowed is None:
        raise Unsupported(f"message type {str(kind)[:40]!r} of version {version} is not supported here", version, named)
    unknown = sorted(str(k)[:40] for k in obj if k not in allowed)
    if unknown:
        raise Poison(f"{kind} message has keys this protocol does not know: {', '.join(unknown[:5])}")
    return obj


def reads(body: bytes, content_encoding: str | None) -> bool:
    """Whether this code reads the version and type of ``body`` (False only for an Unsupported one)."""
    try:
        unpack(body, content_encoding)
    except Unsupported:
        return False
    except Poison:
        return True  # readable, if wrong: trying it again says what is wrong with it now
    return True


def reads_type(kind: str | None, version: int) -> bool:
    """Whether this code reads messages of type ``kind`` and ``version`` (what an ``Unsupported`` named), unread."""
    return kind is not None and (kind, version) in _KEYS


def _inflate(body: bytes, content_encoding: str | None) -> bytes:
    if not isinstance(body, (bytes, bytearray)):
        raise Poison("body is not bytes")
    if len(body) > MAX_WIRE_BYTES:
        raise Poison(f"body of {len(body):,} bytes is larger than any real message ({MAX_WIRE_BYTES:,}); refused unread",
                     Refusal.TOO_LARGE)
    if content_encoding in (None, "", "identity"):
        raw = bytes(body)
    elif content_encoding == CONTENT_ENCODING:
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(body, MAX_INFLATED_BYTES + 1)
        except zlib.error as exc:
            raise Poison(f"body is not valid zlib data ({exc})") from None
        if len(raw) > MAX_INFLATED_BYTES or inflater.unconsumed_tail:
            raise Poison(f"body inflates to more than {MAX_INFLATED_BYTES:,} bytes, more than any real message",
                         Refusal.TOO_LARGE)
        if not inflater.eof:
            raise Poison("body is truncated zlib data")
    else:
        raise Poison(f"unknown content_encoding {str(content_encoding)[:40]!r}")
    if len(raw) > MAX_INFLATED_BYTES:
        raise Poison(f"body is larger than {MAX_INFLATED_BYTES:,} bytes, more than any real message", Refusal.TOO_LARGE)
    return raw


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number this protocol accepts")


def _is_int(value: object, low: int = 1, high: int = 2**63 - 1) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def to_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """Sorted seqs as [first, last] runs of consecutive numbers.

    A run only ever covers numbers that were all present, so marking a run as
    applied can never touch a change that was not in the message.
    """
    ranges: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


# ---------------------------------------------------------------- changes
def encode_changes(branch: str, origin: str, rows: Iterable[Sequence[Any]], high_water: int, built_at_ms: int,
                   shape: RowShape = SALE_SHAPE) -> tuple[bytes, list[int]]:
    """Encode outbox rows, as ``Outbox`` reads them, as one message.

    Each row is ``(seq, sale_id, op, *values)`` with the values in shape order and in
    their wire form (dates and money as the server's text; ``RowShape.to_wire``
    makes that form from Python values).  ``high_water`` is the branch's highest seq
    now and ``built_at_ms`` its clock.  Returns the compressed body and its seqs;
    raises TooLarge when the message would be larger than a reader accepts.
    """
    changes, seqs = [], []
    for r in rows:
        seqs.append(r[0])
        changes.append([r[0], r[1], "d"] if r[2] == "d" else [r[0], r[1], "u", *r[3:3 + shape.width]])
    raw = compact({"v": CHANGES_VERSION, "type": CHANGES, "branch": branch, "origin": origin,
                   "hw": max(high_water, *seqs) if seqs else high_water, "at": built_at_ms, "changes": changes})
    if len(raw) > MAX_INFLATED_BYTES or len(changes) > MAX_CHANGES:
        raise TooLarge(f"{len(changes)} changes make {len(raw):,} bytes, more than one message may hold")
    return zlib.compress(raw, 6), seqs


def _decode_change(item: Any, shape: RowShape) -> Change:
    if not isinstance(item, list) or len(item) < 3:
        raise ValueError("change is not a list of at least [seq, sale_id, op]")
    seq, sale_id, op = item[0], item[1], item[2]
    if not _is_int(seq):
        raise ValueError(f"seq {str(seq)[:30]!r} is not a positive whole number")
    if not _is_int(sale_id):
        raise ValueError(f"sale id {str(sale_id)[:30]!r} is not a positive whole number")
    if op == "d":
        if len(item) != 3:
            raise ValueError("a delete carries no values")
        return Change(seq, sale_id, None)
    if op != "u":
        raise ValueError(f"op {str(op)[:10]!r} is neither 'u' nor 'd'")
    return Change(seq, sale_id, shape.from_wire(item[3:]))


def decode_changes(body: bytes, content_encoding: str | None, known_branches: Iterable[str],
                   shape: RowShape = SALE_SHAPE) -> ChangeBatch:
    """Decode and check a ``changes`` message.

    Raises Poison when the message as a whole is unusable (undecodable, a version or
    keys this office does not read, an unknown branch).  A single bad change does not
    spoil its batch: it is returned in ``rejected`` with its reason.
    """
    return _changes(unpack(body, content_encoding, (CHANGES,)), set(known_branches), shape)


def _changes(obj: dict[str, Any], known: set[str], shape: RowShape) -> ChangeBatch:
    branch, origin, items = obj.get("branch"), obj.get("origin"), obj.get("changes")
    if not isinstance(branch, str) or branch not in known:
        raise Poison(f"branch {str(branch)[:40]!r} is not one this Head Office knows", Refusal.UNKNOWN_BRANCH)
    if not isinstance(origin, str) or not 1 <= len(origin) <= 36 or not origin.isprintable() or not origin.isascii():
        raise Poison(f"origin {str(origin)[:40]!r} is not a database id")
    high_water, built_at = obj.get("hw"), obj.get("at")
    if not _is_int(high_water):
        raise Poison(f"hw {str(high_water)[:30]} is not a positive whole number")
    if not _is_int(built_at, 1, LATEST_MS):
        raise Poison(f"at {str(built_at)[:30]} is not a time in milliseconds before the year 10000")
    if not isinstance(items, list) or not items:
        raise Poison("changes is not a non-empty list")
    if len(items) > MAX_CHANGES:
        raise Poison(f"message holds {len(items):,} changes, more than {MAX_CHANGES:,}", Refusal.TOO_LARGE)
    good: list[Change] = []
    bad: list[tuple[int | None, str, Any]] = []
    seen: set[int] = set()
    for item in items:
        try:
            change = _decode_change(item, shape)
        except Exception as exc:  # noqa: BLE001 - whatever a check raises, this change alone is refused
            seq = item[0] if isinstance(item, list) and item and _is_int(item[0]) else None
            bad.append((seq, str(exc) if isinstance(exc, ValueError) else f"{exc.__class__.__name__}: {exc}", item))
            continue
        if change.seq in seen:
            bad.append((change.seq, f"seq {change.seq} appears twice in one message", item))
        elif change.seq > high_water:
            bad.append((change.seq, f"seq {change.seq} is above the message's own high-water mark {high_water}", item))
        else:
            seen.add(change.seq)
            good.append(change)
    return ChangeBatch(branch, origin, high_water, built_at, good, bad, obj["v"])


def encode_rejected(batch: ChangeBatch) -> bytes:
    """The refused changes of a batch as a message of their own, to be kept as a dead letter."""
    return pack({"v": CHANGES_VERSION, "type": CHANGES, "branch": batch.branch, "origin": batch.origin,
                 "hw": batch.high_water, "at": batch.built_at_ms, "changes": [raw for _s, _r, raw in batch.rejected]})


# ---------------------------------------------------------------- reports
def encode_report(report: Report) -> bytes:
    """A report in ``report.version``: 2 for a Head Office of the previous release, 3 with the backlog's pace."""
    body: dict[str, Any] = {"v": report.version, "type": REPORT, "branch": report.branch, "origin": report.origin,
                            "at": report.at_ms, "capture": {"ok": report.capture_ok, "problem": report.capture_problem},
                            "pending": report.pending, "max_seq": report.max_seq}
    if report.version >= 3:
        body.update(rate=report.rate_per_minute, window=report.window_seconds)
    return pack(body)


def _report(obj: dict[str, Any], known: set[str]) -> Report:
    branch, capture = obj.get("branch"), obj.get("capture")
    if not isinstance(branch, str) or branch not in known:
        raise Poison(f"branch {str(branch)[:40]!r} is not one this Head Office knows", Refusal.UNKNOWN_BRANCH)
    if not isinstance(capture, dict) or set(capture) != {"ok", "problem"} or not isinstance(capture["ok"], bool) \
            or not (capture["problem"] is None or isinstance(capture["problem"], str)):
        raise Poison("report's capture is not {ok, problem}")
    origin, at, pending, max_seq = obj.get("origin"), obj.get("at"), obj.get("pending"), obj.get("max_seq")
    if not isinstance(origin, str) or not 1 <= len(origin) <= 36 or not _is_int(at, 1, LATEST_MS) \
            or not _is_int(pending, 0) or not _is_int(max_seq, 0):
        raise Poison("report's origin, at, pending or max_seq is not what a branch writes")
    problem = capture["problem"][:1000] if capture["problem"] else None
    rate, window = obj.get("rate"), obj.get("window")
    if not (rate is None or _is_int(rate, 0)) or not (window is None or _is_int(window, 0, 86_400)):
        raise Poison("report's rate or window is not a whole number of changes per minute or of seconds")
    return Report(branch, origin, at, capture["ok"], problem, pending, max_seq, rate, window, obj["v"])


# How each type of message a branch sends is read: (its JSON object, the branches known, the row shape).
class FromBranchMessage(Protocol):
    """What every message a branch sends says: which branch wrote it."""
    @property
    def branch(self) -> str: ...


FromBranch = Callable[[dict[str, Any], set[str], RowShape], FromBranchMessage]
_FROM_BRANCH: dict[str, FromBranch] = {CHANGES: _changes, REPORT: lambda obj, known, _shape: _report(obj, known)}


def register_from_branch(kind: str, read: FromBranch) -> None:
    """Declare how a message type a branch sends is read at the Head Office."""
    _FROM_BRANCH[kind] = read


def decode_from_branch(body: bytes, content_encoding: str | None, known_branches: Iterable[str],
                       shape: RowShape = SALE_SHAPE) -> FromBranchMessage:
    """A message a branch sent the Head Office: its ChangeBatch, its Report, or another registered type."""
    obj = unpack(body, content_encoding, tuple(_FROM_BRANCH))
    return _FROM_BRANCH[obj["type"]](obj, set(known_branches), shape)

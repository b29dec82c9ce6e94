"""The wire format between offices, version 1.  Everything that crosses RabbitMQ is
encoded and checked here, and nowhere else.

A message body is JSON, compressed with zlib (``content_encoding = "zlib"``):

  changes       branch -> HO   {"v": 1, "type": "changes", "branch": "bo1", "origin": "<uuid>",
                                "hw": highest seq at the branch when built, "at": built, ms since epoch,
                                "changes": [[seq, sale_id, "u", "2021-04-29", "East", "Paper",
                                             73, "12.95", "945.35", "66.17", "1011.52"],
                                            [seq, sale_id, "d"], ...]}
  receipt       HO -> branch   {"v": 1, "type": "receipt", "branch": "bo1",
                                "applied": [[first_seq, last_seq], ...],
                                "rejected": [[seq, "reason"], ...]}
  sync-request  HO -> branch   {"v": 1, "type": "sync-request"}

Money travels as strings so that no float ever holds it.  ``seq`` is the branch's
outbox sequence: the version of the row it carries.  The AMQP ``type`` property
repeats the body's type, ``message_id`` names the branch, origin and seq range.
"""
from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from models.sale import Sale, check_received

VERSION = 1
CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "zlib"
APP_ID = "branch-sync"
MAX_BODY_BYTES = 64 * 1024 * 1024  # after decompression; larger is refused, never inflated
MAX_CHANGES = 100_000

CHANGES, RECEIPT, SYNC_REQUEST = "changes", "receipt", "sync-request"


class Poison(ValueError):
    """A message that can never be applied; the text is the reason recorded with it."""


@dataclass(frozen=True)
class Change:
    """One captured change: an upsert carries the sale, a delete carries none."""

    seq: int
    sale_id: int
    sale: Sale | None

    @property
    def is_delete(self) -> bool:
        return self.sale is None


@dataclass(frozen=True)
class ChangeBatch:
    """A decoded ``changes`` message: the good changes and the refused ones."""

    branch: str
    origin: str
    high_water: int  # the branch's highest seq when it built the message
    built_at_ms: int  # the branch's clock when it built the message
    changes: list[Change]
    rejected: list[tuple[int, str, list]]  # (seq, reason, the change as received)
    replayed: bool = False  # re-published by the Head Office itself (a retried dead letter)

    @property
    def seqs(self) -> list[int]:
        return [c.seq for c in self.changes]


@dataclass(frozen=True)
class Receipt:
    branch: str
    applied: list[tuple[int, int]]
    rejected: list[tuple[int, str]]


# ---------------------------------------------------------------- helpers
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


def _pack(obj: dict) -> bytes:
    return zlib.compress(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), 6)


def _unpack(body: bytes, content_encoding: str | None) -> dict:
    if not isinstance(body, (bytes, bytearray)):
        raise Poison("body is not bytes")
    if content_encoding in (None, "", "identity"):
        raw = bytes(body)
    elif content_encoding == CONTENT_ENCODING:
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(body, MAX_BODY_BYTES + 1)
        except zlib.error as exc:
            raise Poison(f"body is not valid zlib data ({exc})") from None
        if len(raw) > MAX_BODY_BYTES or inflater.unconsumed_tail:
            raise Poison(f"body inflates to more than {MAX_BODY_BYTES} bytes")
        if not inflater.eof:
            raise Poison("body is truncated zlib data")
    else:
        raise Poison(f"unknown content_encoding {content_encoding!r}")
    if len(raw) > MAX_BODY_BYTES:
        raise Poison(f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        obj = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise Poison(f"body is not UTF-8 JSON that this protocol accepts ({str(exc)[:120]})") from None
    if not isinstance(obj, dict):
        raise Poison("body is not a JSON object")
    if obj.get("v") != VERSION:
        raise Poison(f"message version {obj.get('v')!r} is not supported (this Head Office reads version {VERSION})")
    return obj


def _no_constants(name: str):
    raise ValueError(f"{name} is not a number this protocol accepts")


# ---------------------------------------------------------------- changes
def encode_changes(branch: str, origin: str, rows: Iterable, high_water: int, built_at_ms: int) -> tuple[bytes, list[int]]:
    """Encode outbox rows as one message.

    Each row is a sequence in the outbox's column order: seq, sale_id, op, sale_date,
    region, product, qty, cost, amt, tax, total (anything after is ignored).  The
    date and the amounts may be text, as ``Outbox.pending_batch`` reads them, or
    ``date`` and ``Decimal`` objects.  ``high_water`` is the branch's highest seq now
    and ``built_at_ms`` its clock: the Head Office uses them to notice a branch
    database whose sequence went backwards.  Returns the compressed body and the
    seqs it carries, in order.
    """
    changes, seqs = [], []
    for r in rows:
        seq = r[0]
        seqs.append(seq)
        if r[2] == "d":
            changes.append([seq, r[1], "d"])
            continue
        date, cost, amt, tax, total = r[3], r[7], r[8], r[9], r[10]
        if type(cost) is not str:  # built in Python rather than read from the outbox
            date, cost, amt, tax, total = date.isoformat(), str(cost), str(amt), str(tax), str(total)
        changes.append([seq, r[1], "u", date, r[4], r[5], r[6], cost, amt, tax, total])
    body = {"v": VERSION, "type": CHANGES, "branch": branch, "origin": origin,
            "hw": max(high_water, *seqs) if seqs else high_water, "at": built_at_ms, "changes": changes}
    return _pack(body), seqs


def _is_int(value, low=1, high=2**63 - 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _decode_change(item) -> Change:
    if not isinstance(item, list) or len(item) < 3:
        raise ValueError("change is not a list of at least [seq, sale_id, op]")
    seq, sale_id, op = item[0], item[1], item[2]
    if not _is_int(seq):
        raise ValueError(f"seq {seq!r} is not a positive whole number")
    if not _is_int(sale_id):
        raise ValueError(f"sale id {sale_id!r} is not a positive whole number")
    if op == "d":
        if len(item) != 3:
            raise ValueError("a delete carries no values")
        return Change(seq, sale_id, None)
    if op != "u":
        raise ValueError(f"op {op!r} is neither 'u' nor 'd'")
    if len(item) != 11:
        raise ValueError(f"an upsert carries 11 fields, this one {len(item)}")
    date, region, product, qty, cost, amt, tax, total = item[3:]
    for name, value in (("sale_date", date), ("cost", cost), ("amt", amt), ("tax", tax), ("total", total)):
        if not isinstance(value, str):
            raise ValueError(f"{name} must be sent as a string, got {type(value).__name__}")
    if not _is_int(qty, low=-(2**63), high=2**63):
        raise ValueError(f"qty {qty!r} is not a whole number")
    sale = check_received({
        "sale_date": date, "region": region, "product": product, "qty": qty,
        "cost": cost, "amt": amt, "tax": tax, "total": total,
    })
    return Change(seq, sale_id, sale)


def decode_changes(body: bytes, content_encoding: str | None, known_branches: Iterable[str]) -> ChangeBatch:
    """Decode and check a ``changes`` message.

    Raises Poison when the message as a whole is unusable (undecodable, wrong
    version, unknown branch).  A single bad change does not spoil its batch: it is
    returned in ``rejected`` with its reason, and the good ones are applied.
    """
    obj = _unpack(body, content_encoding)
    if obj.get("type") != CHANGES:
        raise Poison(f"message type {obj.get('type')!r} is not {CHANGES!r}")
    branch, origin, items = obj.get("branch"), obj.get("origin"), obj.get("changes")
    if not isinstance(branch, str) or branch not in set(known_branches):
        raise Poison(f"branch {branch!r} is not one this Head Office knows")
    if not isinstance(origin, str) or not 1 <= len(origin) <= 36:
        raise Poison(f"origin {origin!r} is not a database id")
    high_water, built_at = obj.get("hw"), obj.get("at")
    if not _is_int(high_water):
        raise Poison(f"hw {high_water!r} is not a positive whole number")
    if not _is_int(built_at):
        raise Poison(f"at {built_at!r} is not a time in milliseconds")
    if not isinstance(items, list) or not items:
        raise Poison("changes is not a non-empty list")
    if len(items) > MAX_CHANGES:
        raise Poison(f"message holds {len(items)} changes, more than {MAX_CHANGES}")
    good, bad, seen = [], [], set()
    for item in items:
        try:
            change = _decode_change(item)
        except (ValueError, TypeError, KeyError) as exc:
            seq = item[0] if isinstance(item, list) and item and _is_int(item[0]) else None
            bad.append((seq, str(exc), item))
            continue
        if change.seq in seen:
            bad.append((change.seq, f"seq {change.seq} appears twice in one message", item))
            continue
        if change.seq > high_water:
            bad.append((change.seq, f"seq {change.seq} is above the message's own high-water mark {high_water}", item))
            continue
        seen.add(change.seq)
        good.append(change)
    return ChangeBatch(branch=branch, origin=origin, high_water=high_water, built_at_ms=built_at, changes=good, rejected=bad)


def encode_rejected(batch: ChangeBatch) -> bytes:
    """The refused changes of a batch as a message of their own, for the dead-letter queue."""
    items = [raw for _seq, _reason, raw in batch.rejected]
    return _pack({"v": VERSION, "type": CHANGES, "branch": batch.branch, "origin": batch.origin,
                  "hw": batch.high_water, "at": batch.built_at_ms, "changes": items})


# ---------------------------------------------------------------- receipts
def encode_receipt(branch: str, applied_seqs: Iterable[int], rejected: Iterable[tuple[int, str]]) -> bytes:
    return _pack({
        "v": VERSION, "type": RECEIPT, "branch": branch,
        "applied": to_ranges(applied_seqs),
        "rejected": [[seq, reason[:250]] for seq, reason in rejected if seq is not None],
    })


def encode_sync_request() -> bytes:
    return _pack({"v": VERSION, "type": SYNC_REQUEST})


def decode_control(body: bytes, content_encoding: str | None) -> Receipt | str:
    """A message on a branch's own queue: a Receipt, or the string ``sync-request``."""
    obj = _unpack(body, content_encoding)
    kind = obj.get("type")
    if kind == SYNC_REQUEST:
        return SYNC_REQUEST
    if kind != RECEIPT:
        raise Poison(f"message type {kind!r} is not a receipt")
    applied, rejected = obj.get("applied", []), obj.get("rejected", [])
    if not isinstance(applied, list) or not all(
        isinstance(r, list) and len(r) == 2 and _is_int(r[0]) and _is_int(r[1]) and r[0] <= r[1] for r in applied
    ):
        raise Poison("receipt 'applied' is not a list of [first, last] ranges")
    if not isinstance(rejected, list) or not all(
        isinstance(r, list) and len(r) == 2 and _is_int(r[0]) and isinstance(r[1], str) for r in rejected
    ):
        raise Poison("receipt 'rejected' is not a list of [seq, reason]")
    return Receipt(branch=str(obj.get("branch")), applied=[tuple(r) for r in applied], rejected=[tuple(r) for r in rejected])

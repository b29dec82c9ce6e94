"""The messages on a branch's own queue, from the Head Office: receipts and sync requests.

See messages.py for the bodies; a receipt of version 2 also says whose changes it
answers (``origin``), the highest seq the Head Office holds from the branch
(``held``) and the Head Office's alert on it (``alert``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sync.protocol.messages import VERSION, Poison, _is_int, pack, register_type, to_ranges, unpack

RECEIPT, SYNC_REQUEST = "receipt", "sync-request"
register_type(RECEIPT, 1, {"branch", "applied", "rejected"})
register_type(RECEIPT, 2, {"branch", "origin", "applied", "rejected", "held", "alert"})
register_type(RECEIPT, 3, {"branch", "origin", "applied", "rejected", "held", "alert"})  # as 2; says the HO reads v3
register_type(SYNC_REQUEST, 1, set())
register_type(SYNC_REQUEST, 2, set())


@dataclass(frozen=True)
class Receipt:
    """What the Head Office applied and refused of a branch's changes, and what it holds."""

    branch: str
    applied: list[tuple[int, int]]
    rejected: list[tuple[int, str]]
    held: int | None = None
    alert: str | None = None
    version: int = 1
    origin: str | None = None  # whose changes: a receipt for another history is not this database's


@dataclass(frozen=True)
class SyncRequest:
    """The Head Office asks a connected branch to send what it has now."""


def encode_receipt(branch: str, applied_seqs: Iterable[int], rejected: Iterable[tuple[int | None, str]],
                   held: int | None = None, alert: str | None = None, version: int = VERSION,
                   origin: str | None = None) -> bytes:
    """A receipt in ``version`` (1 for a branch of the previous release, which reads no other)."""
    body: dict[str, Any] = {"v": version, "type": RECEIPT, "branch": branch, "applied": to_ranges(applied_seqs),
                            "rejected": [[seq, reason[:250]] for seq, reason in rejected if seq is not None]}
    if version >= 2:
        body.update(origin=origin, held=held, alert=alert[:1000] if alert else None)
    return pack(body)


def encode_sync_request() -> bytes:
    return pack({"v": 1, "type": SYNC_REQUEST})


# How each type of message on a branch's queue is read: (its JSON object, the branch it is for).
ToBranch = Callable[[dict[str, Any], "str | None"], object]


def _receipt(obj: dict[str, Any], branch: str | None) -> Receipt:
    if branch is not None and obj.get("branch") != branch:
        raise Poison(f"receipt is addressed to branch {str(obj.get('branch'))[:40]!r}, not to {branch}")
    applied, rejected = obj.get("applied"), obj.get("rejected")
    if not isinstance(applied, list) or not all(_is_range(r) for r in applied):
        raise Poison("receipt 'applied' is not a list of [first, last] ranges")
    if not isinstance(rejected, list) or not all(_is_refusal(r) for r in rejected):
        raise Poison("receipt 'rejected' is not a list of [seq, reason]")
    held, alert, origin = obj.get("held"), obj.get("alert"), obj.get("origin")
    if held is not None and not _is_int(held, 0):
        raise Poison("receipt 'held' is not a seq")
    if not all(value is None or isinstance(value, str) for value in (alert, origin)):
        raise Poison("receipt 'alert' or 'origin' is not text")
    return Receipt(str(obj.get("branch")), [(a, b) for a, b in applied], [(s, w) for s, w in rejected], held, alert,
                   obj["v"], origin)


def _is_range(item: object) -> bool:
    return isinstance(item, list) and len(item) == 2 and _is_int(item[0]) and _is_int(item[1]) and item[0] <= item[1]


def _is_refusal(item: object) -> bool:
    return isinstance(item, list) and len(item) == 2 and _is_int(item[0]) and isinstance(item[1], str)


_TO_BRANCH: dict[str, ToBranch] = {RECEIPT: _receipt, SYNC_REQUEST: lambda _obj, _branch: SyncRequest()}


def register_to_branch(kind: str, read: ToBranch) -> None:
    """Declare how a message type the Head Office sends to a branch is read there."""
    _TO_BRANCH[kind] = read


def decode_control(body: bytes, content_encoding: str | None, branch: str | None = None) -> object:
    """A message on a branch's own queue: a Receipt (addressed to ``branch``), a SyncRequest, or a registered type."""
    obj = unpack(body, content_encoding, tuple(_TO_BRANCH))
    return _TO_BRANCH[obj["type"]](obj, branch)

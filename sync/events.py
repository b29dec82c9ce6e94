"""What the engine tells a window or a log, as plain immutable dataclasses.

The engine's threads hand these to an ``on_event`` callable (a window passes
``queue.Queue.put`` and drains the queue with ``after``); nothing here touches Tk.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# Link states a branch can be in, as shown in its status bar.
ONLINE, OFFLINE, CONNECTING, OUTSIDE_WINDOW, STOPPED = "online", "offline", "connecting", "outside window", "stopped"


def _now() -> dt.datetime:
    return dt.datetime.now()


@dataclass(frozen=True)
class LinkStatus:
    """The branch agent's connection state, with a sentence about the last error."""

    office: str
    state: str
    error: str | None = None
    at: dt.datetime = field(default_factory=_now)


@dataclass(frozen=True)
class SyncProgress:
    """Changes confirmed by the broker so far in this pass, out of those pending when it began."""

    office: str
    sent: int
    total: int


@dataclass(frozen=True)
class SyncFinished:
    """A "sync now" request ended; ``message`` says how, in words."""

    office: str
    ok: bool
    message: str
    at: dt.datetime = field(default_factory=_now)


@dataclass(frozen=True)
class ReceiptsRecorded:
    """The Head Office confirmed it applied (or refused) some of this branch's changes."""

    office: str
    applied: int
    rejected: int


@dataclass(frozen=True)
class RowsApplied:
    """The Head Office committed changes from one branch."""

    branch: str
    upserts: int
    deletes: int
    stale: int
    at: dt.datetime = field(default_factory=_now)


@dataclass(frozen=True)
class DeadLettered:
    """A message (or part of one) was refused and parked with its reason."""

    branch: str | None
    reason: str
    at: dt.datetime = field(default_factory=_now)


@dataclass(frozen=True)
class DeadLetterRecorded:
    """A dead letter is now in ``sync_dead_letters``, where a person can see it."""

    branch: str | None
    at: dt.datetime = field(default_factory=_now)


@dataclass(frozen=True)
class ConsumerStatus:
    """The Head Office consumer's state: online, offline, or waiting for its database."""

    office: str
    state: str
    error: str | None = None
    at: dt.datetime = field(default_factory=_now)

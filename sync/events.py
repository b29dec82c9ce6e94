"""What the engine tells a window or a log: a closed union of immutable dataclasses.

The engine's threads hand these to an ``on_event`` callable (a window passes
``queue.Queue.put`` and drains the queue with ``after``); nothing here touches Tk.
A window ``match``es on ``Event`` and picks its words from states and failure kinds.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from models.capture import CaptureHealth
from sync.failures import Failure
from sync.states import ConsumerState, LinkState

# The states by their old names, for callers that compare with them.
ONLINE, OFFLINE, CONNECTING, OUTSIDE_WINDOW, STOPPED = (
    LinkState.ONLINE, LinkState.OFFLINE, LinkState.CONNECTING, LinkState.OUTSIDE_WINDOW, LinkState.STOPPED)
WAITING_FOR_DATABASE = ConsumerState.WAITING_FOR_DATABASE


def _now() -> dt.datetime:
    return dt.datetime.now()


@dataclass(frozen=True)
class LinkStatus:
    """The branch agent's connection state, with the failure that put it there."""

    office: str
    state: LinkState
    failure: Failure | None = None
    at: dt.datetime = field(default_factory=_now)

    @property
    def error(self) -> str | None:
        return self.failure.detail if self.failure else None


@dataclass(frozen=True)
class SyncProgress:
    """Changes confirmed by the broker so far in this pass, out of those pending when it began."""

    office: str
    sent: int
    total: int


@dataclass(frozen=True)
class SyncFinished:
    """A sync a person asked for ended: how much went, or the failure that stopped it."""

    office: str
    sent: int = 0
    resent: int = 0
    failure: Failure | None = None
    at: dt.datetime = field(default_factory=_now)

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def message(self) -> str:
        """Plain words for a log; a window chooses its own from ``failure.kind``."""
        if self.failure:
            return f"Could not sync: {self.failure.detail}."
        again = f", {self.resent} sent again" if self.resent else ""
        return f"Sync finished: {self.sent} change(s) sent{again}."


@dataclass(frozen=True)
class ReceiptsRecorded:
    """The Head Office confirmed it applied (or refused) some of this branch's changes."""

    office: str
    applied: int
    rejected: int


@dataclass(frozen=True)
class HeadOfficeAlert:
    """What the Head Office said about this branch in its last receipt (None: nothing wrong)."""

    office: str
    alert: str | None


@dataclass(frozen=True)
class CaptureChecked:
    """The branch agent checked change capture; ``health`` says whether it works."""

    office: str
    health: CaptureHealth


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
    """A message (or part of one) was refused and is on record as a dead letter."""

    branch: str | None
    reason: str
    at: dt.datetime = field(default_factory=_now)


@dataclass(frozen=True)
class BranchReported:
    """A branch's report reached the Head Office (its capture health, its backlog)."""

    branch: str
    capture_ok: bool


@dataclass(frozen=True)
class CatalogueReceived:
    """A branch applied a catalogue message from the Head Office and now holds ``version``."""

    branch: str
    version: int
    items: int


@dataclass(frozen=True)
class ConsumerStatus:
    """The Head Office consumer's state, with the failure that put it there."""

    office: str
    state: ConsumerState
    failure: Failure | None = None
    at: dt.datetime = field(default_factory=_now)

    @property
    def error(self) -> str | None:
        return self.failure.detail if self.failure else None


@dataclass(frozen=True)
class DaysReported:
    """A branch's control totals of some days reached the Head Office (sync/head_office_days.py)."""

    branch: str
    days: int


@dataclass(frozen=True)
class DayResent:
    """A branch sent a day again: rows applied, and rows it no longer has removed."""

    branch: str
    day: dt.date
    rows: int
    removed: int


@dataclass(frozen=True)
class DaySalesReceived:
    """A branch answered with the hash of each of its sales of a day."""

    branch: str
    day: dt.date
    sales: int


Event = (LinkStatus | SyncProgress | SyncFinished | ReceiptsRecorded | HeadOfficeAlert | CaptureChecked
         | RowsApplied | DeadLettered | BranchReported | ConsumerStatus | DaysReported | DayResent | DaySalesReceived
         | CatalogueReceived)
OnEvent = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """An on_event for a thread nobody listens to."""

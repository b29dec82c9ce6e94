"""Every way the engine can fail, as values: classified once, where they happen.

A window, ``--once`` and ``status`` choose their words from a ``Failure``'s kind;
the ``detail`` is the technical cause, shown behind a details toggle or in a log,
never parsed.  Database errors are classified here from the driver's codes, and
nowhere else.  Exit codes are one enum for every program.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, OperationalError


class ExitCode(enum.IntEnum):
    """What every program returns."""

    OK = 0
    NOT_HEALTHY = 1        # status: something needs a person; reconcile: a day differs
    CONFIG = 2             # a configuration problem, said in one sentence
    BROKER = 3             # the broker could not be reached, or refused
    DATABASE = 4           # the office database did not answer
    CAPTURE = 5            # change capture at the branch is broken (see status)
    SCHEMA = 6             # the database is older or newer than this program


class Kind(enum.Enum):
    """What went wrong, for a person to be told in the right words."""

    BROKER_UNREACHABLE = "broker unreachable"
    BROKER_LOGIN_REFUSED = "broker login refused"
    BROKER_VHOST_DENIED = "broker virtual host denied"
    BROKER_CERTIFICATE_UNTRUSTED = "broker certificate untrusted"
    BROKER_WANTS_CLIENT_CERTIFICATE = "broker wants a client certificate"
    BROKER_LINK_LOST = "broker link lost"
    BROKER_REFUSED_MESSAGE = "broker refused a message"
    BROKER_HAS_NO_QUEUE = "broker has no queue"
    BROKER_FORBIDS_DECLARE = "broker forbids declaring"
    DATABASE_UNAVAILABLE = "database unavailable"
    DATABASE_ERROR = "database error"
    CAPTURE_BROKEN = "capture broken"
    SCHEMA_MISMATCH = "schema mismatch"
    UNEXPECTED = "unexpected"

    @property
    def is_link(self) -> bool:
        return self.name.startswith("BROKER_")

    @property
    def recovers_by_itself(self) -> bool:
        """Whether waiting and trying again can mend it without a person."""
        return self in (Kind.BROKER_UNREACHABLE, Kind.BROKER_LINK_LOST, Kind.BROKER_REFUSED_MESSAGE,
                        Kind.DATABASE_UNAVAILABLE)


@dataclass(frozen=True)
class Failure:
    """One failure: its kind and the technical detail (passwords never included)."""

    kind: Kind
    detail: str

    def __str__(self) -> str:
        return self.detail


class SyncError(Exception):
    """An engine failure raised as an exception; carries its ``Failure``."""

    def __init__(self, failure: Failure):
        super().__init__(failure.detail)
        self.failure = failure


class LinkDown(SyncError):
    """The broker could not be reached, or refused this office; the detail names each URL tried."""

    def __init__(self, detail: str, kind: Kind = Kind.BROKER_UNREACHABLE):
        super().__init__(Failure(kind, detail))


class DatabaseUnavailable(SyncError):
    """The office database did not answer for a while; nothing was lost, the work waits."""


# ---------------------------------------------------------------- database errors
class DbCode(enum.IntEnum):
    """MySQL/MariaDB error codes the engine treats by name."""

    TOO_MANY_CONNECTIONS = 1040
    SERVER_SHUTDOWN = 1053
    LOCK_WAIT_TIMEOUT = 1205
    DEADLOCK = 1213
    CANT_CONNECT = 2003
    SERVER_GONE = 2006
    LOST_CONNECTION = 2013
    CHECK_CONSTRAINT = 4025
    CHECK_CONSTRAINT_MYSQL = 3819
    SIGNALLED = 1644  # a trigger's SIGNAL: capture refusing a reused sale number


_PASSING = {DbCode.TOO_MANY_CONNECTIONS, DbCode.SERVER_SHUTDOWN, DbCode.LOCK_WAIT_TIMEOUT, DbCode.DEADLOCK,
            DbCode.CANT_CONNECT, DbCode.SERVER_GONE, DbCode.LOST_CONNECTION}


def db_code(exc: BaseException) -> int | None:
    """The server's error number of a database error, if it has one."""
    args = getattr(getattr(exc, "orig", None), "args", None)
    return args[0] if args and isinstance(args[0], int) else None


def db_is_temporary(exc: DBAPIError) -> bool:
    """A lost connection, a lock wait or a deadlock passes; anything else is a real fault."""
    return isinstance(exc, OperationalError) or bool(exc.connection_invalidated) or db_code(exc) in _PASSING


def db_words(exc: BaseException) -> str:
    """The server's own words for a database error, without SQLAlchemy's wrapping."""
    orig = getattr(exc, "orig", None)
    if orig is not None and getattr(orig, "args", None):
        return str(orig.args[-1])[:200]
    return (str(exc).splitlines() or [exc.__class__.__name__])[0][:200]


def db_failure(exc: DBAPIError) -> Failure:
    kind = Kind.DATABASE_UNAVAILABLE if db_is_temporary(exc) else Kind.DATABASE_ERROR
    return Failure(kind, db_words(exc))


def unexpected(exc: BaseException) -> Failure:
    return Failure(Kind.UNEXPECTED, f"{exc.__class__.__name__}: {str(exc)[:300]}")

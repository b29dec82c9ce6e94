"""Running database work through an outage: wait, never lose, never blame the work for it.

Both engine threads use ``run_waiting``: a lost connection, a lock wait or a deadlock
(``failures.db_is_temporary``) is waited out with backoff, for as long as it takes,
unless the thread is asked to stop; any other database error is the work's own and
is raised at once.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from sync.backoff import Backoff
from sync.failures import DatabaseUnavailable, DbCode, Failure, db_code, db_failure, db_is_temporary

T = TypeVar("T")


class Stopping(Exception):
    """The thread was asked to stop while its database was down; nothing was done."""


def database_answers(engine: Engine) -> bool:
    """Whether a fresh connection can run ``SELECT 1``."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except DBAPIError:
        return False


def run_waiting(engine: Engine, work: Callable[[Connection], T], *, stopping: threading.Event, backoff: Backoff,
                on_wait: Callable[[Failure], None], on_recover: Callable[[], None] | None = None) -> T:
    """Run ``work(conn)`` in one transaction and return its result, waiting out outages.

    A lost connection is only an outage if the database is really down: when a fresh
    connection answers but the work keeps losing its own (a statement larger than the
    server accepts, say), the work is at fault and DatabaseUnavailable is raised after
    three tries, so that the caller can set that work aside instead of waiting for ever.
    """
    failures_while_up = 0
    waited = False
    while True:
        try:
            with engine.begin() as conn:
                result = work(conn)
            if waited and on_recover:
                on_recover()
            backoff.reset()
            return result
        except DBAPIError as exc:
            if not db_is_temporary(exc):
                raise
            lost_its_own = db_code(exc) in (DbCode.SERVER_GONE, DbCode.LOST_CONNECTION)
            if lost_its_own and database_answers(engine):
                failures_while_up += 1
                if failures_while_up >= 3:
                    raise DatabaseUnavailable(db_failure(exc)) from exc
            waited = True
            on_wait(db_failure(exc))
            if stopping.wait(backoff.next_delay()):
                raise Stopping() from exc

"""OutboxRelay: the branch agent thread.

It only loops: check capture when due -> wait for the sync window (or a person) ->
connect -> ``BranchSession`` -> back off.  The session owns one connection's channel,
lanes and receipts (sync/agent_session.py).  Other threads use ``sync_now`` and
``notify``, which return at once, and ``stop``, which asks the thread to finish and
joins it for at most ``timeout`` seconds.

Rules it keeps:
- a change is marked sent only after the broker confirmed its message; anything
  unconfirmed stays pending and is sent again (the Head Office ignores repeats);
- capture is checked at start and every ``capture_check_minutes``, online or not;
  a counter that would reuse sale numbers is moved on at once, anything else is
  reported (the window, ``status``, the Head Office) for ``init-db`` to repair;
- its pika connections are opened and used by its own threads only.
"""
from __future__ import annotations

import logging
import threading
import time

import pika
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from config import BranchConfig
from models.capture import CaptureHealth, Problem, check_capture, move_numbering_on
from models.schema import make_engine
from sync import events
from sync.agent_session import CATALOGUE_WAIT_SECONDS, BranchSession, PassResult, Wakeup
from sync.backoff import Backoff
from sync.branch_days import BranchDays
from sync.broker import close_quietly, connect, login_of, session_failure
from sync.failures import Failure, LinkDown, db_failure, unexpected
from sync.metrics import BranchMetrics, MetricsServer
from sync.outbox import Outbox
from sync.states import LinkState

__all__ = ["OutboxRelay", "PassResult"]


class OutboxRelay(threading.Thread):
    """Sends a branch's pending changes, in seq order, many per message, with confirms."""

    def __init__(self, cfg: BranchConfig, on_event: events.OnEvent | None = None, engine: Engine | None = None):
        super().__init__(name=f"relay-{cfg.code}", daemon=True)
        self.cfg = cfg
        self.log = logging.getLogger(f"sync.{cfg.code}")
        self.engine = engine or make_engine(cfg.db_url)
        self.outbox = Outbox(self.engine)
        self.days = BranchDays(cfg, self.engine, self.outbox, self.log)
        self.wakeup = Wakeup()
        self._emit = on_event or events.ignore
        self._stopping = threading.Event()
        self._state: tuple[LinkState, Failure | None] | None = None
        self._logged: LinkState | None = None
        self._backoff = Backoff(cfg.backoff_initial_seconds, cfg.backoff_max_seconds)
        self.health: CaptureHealth | None = None
        self._next_check = 0.0

    # ------------------------------------------------------------ called from any thread
    @property
    def state(self) -> LinkState | None:
        """The last state reported (online, offline, ...), or None before the first."""
        return self._state[0] if self._state else None

    def sync_now(self) -> None:
        """Ask for an immediate sync, even outside the sync windows.  Returns at once."""
        self.wakeup.ask()

    def notify(self) -> None:
        """Hint that new changes were just committed (saves a poll interval)."""
        self.wakeup.poke()

    def stop(self, timeout: float | None = 10) -> None:
        """Ask the agent to stop and wait up to ``timeout`` seconds for its thread to end."""
        self._stopping.set()
        self.wakeup.poke()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    # ------------------------------------------------------------ the thread
    def _set_state(self, state: LinkState, failure: Failure | None = None) -> None:
        if (state, failure) == self._state:
            return
        self._state = (state, failure)
        self._emit(events.LinkStatus(self.cfg.code, state, failure))
        # One log line per real change: retrying against a dead link flips between
        # connecting and offline on every attempt, and that is not news.
        if state == LinkState.CONNECTING:
            return
        if state == self._logged:
            self.log.debug("still %s: %s", state, failure)
        else:
            self._logged = state
            if failure:
                self.log.warning("link %s: %s; retrying with backoff", state, failure)
            else:
                self.log.info("link %s", state)

    def run(self) -> None:
        metrics = self._serve_metrics()
        try:
            self._run()
        finally:
            if metrics is not None:
                metrics.close()

    def _serve_metrics(self) -> MetricsServer | None:
        """The agent's metrics page when ``metrics_port`` is set; a port that cannot be had is said, never fatal."""
        if not self.cfg.metrics_port:
            return None
        try:
            return MetricsServer(BranchMetrics(self.cfg, self.outbox, lambda: None if self.health is None else self.health.ok,
                                               lambda: self.state), self.cfg.metrics_port)
        except OSError as exc:
            self.log.error("cannot serve metrics on port %d (%s); the agent runs without them", self.cfg.metrics_port,
                           exc.strerror or exc)
            return None

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.check_capture_if_due()
            asked = self.wakeup.take_asked()
            if not asked and not self.cfg.in_sync_window():
                self._set_state(LinkState.OUTSIDE_WINDOW)
                self.wakeup.wait(min(30.0, self._seconds_to_check()))
                continue
            self._set_state(LinkState.CONNECTING, self._state[1] if self._state else None)
            session = None
            try:
                connection, index = connect(self.cfg, log=self.log)
            except Exception as exc:  # noqa: BLE001 - a surprise while connecting must not end the agent either
                self._went_wrong(exc.failure if isinstance(exc, LinkDown) else unexpected(exc), asked)
                continue
            try:
                session = BranchSession(connection, index, login_of(self.cfg.amqp_urls[index]), self.cfg, self.outbox,
                                        self.wakeup, self._stopping, self._emit, self.check_capture_if_due, asked, self.days)
                session.run(self._set_state)
                self._backoff.reset()
            except (pika.exceptions.AMQPError, OSError) as exc:
                self._went_wrong(session_failure(exc).failure, session.asked if session else asked)
            except DBAPIError as exc:
                failure = db_failure(exc)
                self._went_wrong(Failure(failure.kind, f"the branch database is not answering ({failure.detail})"),
                                 session.asked if session else asked)
            except Exception as exc:  # noqa: BLE001 - nothing is lost: unconfirmed changes stay pending
                self.log.exception("agent hit an unexpected error; reconnecting")
                self._went_wrong(unexpected(exc), session.asked if session else asked)
            finally:
                close_quietly(connection)
        self._set_state(LinkState.STOPPED)

    def _went_wrong(self, failure: Failure, asked: bool) -> None:
        self._set_state(LinkState.OFFLINE, failure)
        if asked:
            self._emit(events.SyncFinished(self.cfg.code, failure=failure))
        delay = self._backoff.next_delay()
        self.log.debug("retrying in %.1fs", delay)
        self.wakeup.wait(delay)

    # ------------------------------------------------------------ capture
    def _seconds_to_check(self) -> float:
        return max(0.05, self._next_check - time.monotonic())

    def check_capture_if_due(self) -> CaptureHealth | None:
        """Check capture when due; move numbering on if that is all that is wrong.  Never raises."""
        if time.monotonic() < self._next_check:
            return self.health
        self._next_check = time.monotonic() + self.cfg.capture_check_minutes * 60
        try:
            health = check_capture(self.engine)
            if health.has(Problem.NUMBERING):
                moved = move_numbering_on(self.engine)
                self.log.warning("the sales table's numbering had fallen back; new sales are numbered from %s", moved)
                health = check_capture(self.engine)
        except DBAPIError as exc:
            self.log.debug("could not check capture: %s", db_failure(exc))
            self._next_check = time.monotonic() + 30  # try again soon
            return self.health
        if health != self.health:
            if not health.ok:
                self.log.error("%s", health.sentence())
            self.health = health
            self._emit(events.CaptureChecked(self.cfg.code, health))
        return health

    # ------------------------------------------------------------ --once
    def run_once(self, receipt_wait: float = 5.0, catalogue_wait: float = CATALOGUE_WAIT_SECONDS) -> PassResult:
        """Connect, send everything pending, wait for the confirms, then return.

        Raises LinkDown when the broker cannot be reached or the session fails.
        Receipts that arrive within ``receipt_wait`` seconds are recorded too (the Head
        Office may be offline; the changes then stay "sent" until a later run hears back).
        When a receipt says the Head Office holds a newer catalogue than the branch, the
        run waits up to ``catalogue_wait`` seconds for it (``PassResult`` says where it ended).
        """
        self.check_capture_if_due()
        connection, index = connect(self.cfg, log=self.log)
        try:
            session = BranchSession(connection, index, login_of(self.cfg.amqp_urls[index]), self.cfg, self.outbox,
                                    self.wakeup, self._stopping, self._emit, self.check_capture_if_due, days=self.days)
            try:
                return session.run_once(receipt_wait, catalogue_wait)
            except (pika.exceptions.AMQPError, OSError) as exc:
                raise session_failure(exc) from exc
        finally:
            close_quietly(connection)


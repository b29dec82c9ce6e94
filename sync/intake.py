"""IntakeConsumer: the Head Office consumer thread.

It only loops connect -> session -> backoff; a ``HeadOfficeSession`` owns one
connection's channels and consumers, and a ``HeadOfficeWork`` on a worker thread
does the database side (sync/intake_work.py).  Other threads talk to it through
``request_sync``, ``retry_dead_letter`` and ``stop``, which return at once (``stop``
then joins the thread, for at most ``timeout`` seconds).
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pika
from sqlalchemy.engine import Engine

from config import HeadOfficeConfig
from models.schema import make_engine
from sync import events
from sync.backoff import Backoff
from sync.broker import close_quietly, connect, session_failure
from sync.database import Stopping
from sync.failures import Failure, LinkDown, unexpected
from sync.intake_session import HeadOfficeSession, Requests
from sync.intake_work import HeadOfficeWork
from sync.states import ConsumerState


class IntakeConsumer(threading.Thread):
    """Consumes every branch's queues for the Head Office, applies, parks and answers."""

    def __init__(self, cfg: HeadOfficeConfig, on_event: events.OnEvent | None = None, engine: Engine | None = None):
        super().__init__(name=f"intake-{cfg.code}", daemon=True)
        self.cfg = cfg
        self.log = logging.getLogger(f"sync.{cfg.code}")
        self.engine = engine or make_engine(cfg.db_url, isolation_level="READ COMMITTED")
        self._emit = on_event or events.ignore
        self._requests = Requests()
        self._state: tuple[ConsumerState, Failure | None] | None = None
        self._state_lock = threading.Lock()
        self._backoff = Backoff(cfg.backoff_initial_seconds, cfg.backoff_max_seconds)
        self._work = HeadOfficeWork(cfg, self.engine, self._requests.stopping, on_wait=self._database_down,
                                    on_recover=lambda: self._set_state(ConsumerState.ONLINE))

    # ------------------------------------------------------------ any thread
    @property
    def state(self) -> ConsumerState | None:
        """The last state reported (online, offline, ...), or None before the first."""
        return self._state[0] if self._state else None

    def request_sync(self) -> None:
        """Ask every branch that is connected to send what it has now.  Returns at once."""
        self._requests.sync_now.set()

    def retry_dead_letter(self, dead_letter_id: int) -> None:
        """Try a parked message again, as the sender it came from (done by the consumer).  Returns at once."""
        self._requests.retries.append(dead_letter_id)

    def stop(self, timeout: float | None = 10) -> None:
        """Ask the consumer to stop, and wait up to ``timeout`` seconds for it to finish what it is doing."""
        self._requests.stopping.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def _set_state(self, state: ConsumerState, failure: Failure | None = None) -> None:
        with self._state_lock:
            if (state, failure) == self._state:
                return
            self._state = (state, failure)
        (self.log.warning if failure else self.log.info)("consumer %s%s", state, f": {failure}" if failure else "")
        self._emit(events.ConsumerStatus(self.cfg.code, state, failure))

    def _database_down(self, failure: Failure) -> None:
        self._set_state(ConsumerState.WAITING_FOR_DATABASE,
                        Failure(failure.kind, f"the Head Office database is not answering ({failure.detail})"))

    # ------------------------------------------------------------ the thread
    def run(self) -> None:
        stopping = self._requests.stopping
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"intake-{self.cfg.code}-db") as worker:
            while not stopping.is_set():
                try:
                    connection, _index = connect(self.cfg, log=self.log)
                except Exception as exc:  # noqa: BLE001 - whatever happens while connecting, try again later
                    failure = exc.failure if isinstance(exc, LinkDown) else unexpected(exc)
                    self._set_state(ConsumerState.OFFLINE, failure)
                    stopping.wait(self._backoff.next_delay())
                    continue
                try:
                    HeadOfficeSession(connection, self.cfg, self._work, worker, self._requests, self._emit,
                                      self._set_state).run()
                    self._backoff.reset()
                except Stopping:
                    pass
                except Exception as exc:  # noqa: BLE001 - nothing unacked is lost: the broker redelivers it
                    if isinstance(exc, (pika.exceptions.AMQPError, OSError)):
                        failure = session_failure(exc).failure
                    else:
                        self.log.exception("consumer hit an unexpected error; reconnecting")
                        failure = unexpected(exc)
                    self._set_state(ConsumerState.OFFLINE, failure)
                    stopping.wait(self._backoff.next_delay())
                finally:
                    close_quietly(connection)
        self._set_state(ConsumerState.STOPPED)


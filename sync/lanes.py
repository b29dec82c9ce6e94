"""Publishing lanes: several messages in flight while a branch drains a backlog.

pika's blocking channel waits for each confirm before it returns, so one connection
has one message in flight; on a link with a long round trip the link then idles
while the confirm travels back.  A ``Lanes`` pool keeps up to ``publish_window``
messages in flight: each lane is a thread with a connection of its own, opened and
used in that thread only.  A lane only publishes and reports; the drain (in the
session's thread) alone reads the outbox and marks changes sent, and only for
messages the broker confirmed.  Where the broker refuses the extra connections, the
pool says so once and publishes on the session's own channel, one message at a time.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

import pika

from config import OfficeConfig
from sync.broker import close_quietly, connect, session_failure


@dataclass(frozen=True)
class Message:
    """One message to publish: its body, its properties and the seqs it carries."""

    exchange: str
    routing_key: str
    body: bytes
    properties: pika.BasicProperties
    seqs: list[int]


@dataclass(frozen=True)
class Confirmed:
    """A lane's report: the message's seqs, or the error that stopped it."""

    seqs: list[int]
    error: BaseException | None = None


class LaneUnavailable(Exception):
    """A lane could not open its connection."""


class _Lane(threading.Thread):
    def __init__(self, cfg: OfficeConfig, start: int, number: int, results: queue.Queue[tuple[_Lane, Confirmed]],
                 log: logging.Logger):
        super().__init__(name=f"relay-{cfg.code}-lane{number}", daemon=True)
        self.cfg, self.start_index, self.log = cfg, start, log
        self._results = results  # this pool's; a lane never reports into a later one
        self._jobs: queue.Queue[Message | None] = queue.Queue()
        self._closing = threading.Event()

    def give(self, message: Message) -> None:
        self._jobs.put(message)

    def close(self) -> None:
        self._closing.set()
        self._jobs.put(None)

    def run(self) -> None:
        connection = None
        failure: BaseException | None = None
        try:
            connection, _index = connect(self.cfg, start=self.start_index, log=self.log)
            channel = connection.channel()
            channel.confirm_delivery()
        except Exception as exc:  # noqa: BLE001 - reported with the first message it is given
            failure = LaneUnavailable(str(session_failure(exc)))
        try:
            while not self._closing.is_set():
                try:
                    job = self._jobs.get(timeout=1.0)
                except queue.Empty:
                    if failure is None and connection is not None:
                        connection.process_data_events(time_limit=0)  # heartbeats
                    continue
                if job is None or self._closing.is_set():
                    self._jobs.put(job)  # left for _hand_back
                    return
                if failure is None:
                    try:
                        channel.basic_publish(job.exchange, job.routing_key, job.body, job.properties, mandatory=True)
                    except Exception as exc:  # noqa: BLE001 - the drain decides what it means
                        failure = exc
                    else:
                        self._results.put((self, Confirmed(job.seqs)))
                        continue
                self._results.put((self, Confirmed(job.seqs, failure)))
        except Exception as exc:  # noqa: BLE001 - a lane must never die without a word
            self._results.put((self, Confirmed([], exc)))
        finally:
            self._hand_back()
            if connection is not None:
                close_quietly(connection)

    def _hand_back(self) -> None:
        """Report every message given and not sent, so that the pool never waits for it (its changes stay pending)."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                self._results.put((self, Confirmed(job.seqs, LaneUnavailable("the lane was closed before sending it"))))


class Lanes:
    """Up to ``width`` messages in flight on lanes of their own, or one at a time on ``channel``."""

    def __init__(self, cfg: OfficeConfig, start: int, width: int, channel: Any, log: logging.Logger):
        self.channel, self.log = channel, log
        self._results: queue.Queue[tuple[_Lane | None, Confirmed]] = queue.Queue()
        self._all = [_Lane(cfg, start, n, self._results, log) for n in range(width)] if width > 1 else []  # type: ignore[arg-type]
        self._lanes = list(self._all)
        self._free: list[_Lane] = list(self._lanes)
        self.in_flight = 0
        for lane in self._all:
            lane.start()

    def has_room(self) -> bool:
        return bool(self._free) or (not self._lanes and self.in_flight == 0)

    def publish(self, message: Message) -> None:
        """Send ``message`` on a free lane (or on the session's channel, which waits for its confirm)."""
        self.in_flight += 1
        if self._free:
            self._free.pop().give(message)
            return
        try:
            self.channel.basic_publish(message.exchange, message.routing_key, message.body, message.properties,
                                       mandatory=True)
        except Exception as exc:  # noqa: BLE001 - reported like a lane's
            self._results.put((None, Confirmed(message.seqs, exc)))
        else:
            self._results.put((None, Confirmed(message.seqs)))

    def confirmed(self, timeout: float) -> Confirmed | None:
        """The next report, or None when none came within ``timeout``; a failed lane is retired."""
        try:
            lane, report = self._results.get(timeout=timeout)
        except queue.Empty:
            return None
        self.in_flight -= 1
        if lane is not None and isinstance(report.error, LaneUnavailable):
            if self._lanes:  # the broker refuses extra connections: no lanes for the rest of the session
                self.log.warning("sending one message at a time this session: %s", report.error)
                for each in self._lanes:
                    each.close()
                self._lanes, self._free = [], []
            return Confirmed(report.seqs, NotSent())
        if lane is not None and lane in self._lanes:
            self._free.append(lane)
        return report

    def close(self) -> None:
        for lane in self._all:
            lane.close()
        for lane in self._all:
            lane.join(5)
        # A lane still stuck in a publish reports into this pool's queue, which nobody
        # reads any more: a confirm that comes after the session ended is not recorded,
        # so those changes stay pending and go again (the Head Office ignores repeats).


class NotSent(Exception):
    """The message was not sent (its lane had no connection); its changes are still pending."""

"""One connected period of the Head Office consumer: its channels, consumers, inbox and worker job.

The session's thread owns the connection and does only broker work: it keeps
talking to the broker (heartbeats, deliveries) while the database worker applies a
group, so a long apply or a database outage never drops the connection.  When a
group is committed it publishes the receipts (confirmed), then acks; a crash in
between redelivers, and applying again changes nothing.

Deliveries wait in one queue per broker queue and groups are taken from them in
turn, so one branch's backlog never holds back another branch's live sales.  A
branch whose dead letters reach its quota has its queues paused (the broker then
bounds them) until a person has dealt with them.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pika

from config import HeadOfficeConfig
from sync import events, protocol
from sync.broker import Names, declare_topology
from sync.intake_work import Delivery, GroupOutcome, HeadOfficeWork
from sync.states import ConsumerState

GROUP_LIMIT = 64                    # deliveries applied in one transaction at most
GROUP_BYTES = 1024 * 1024           # and their bodies' bytes (about 45,000 changes of typical sales)
QUOTA_CHECK_SECONDS = 30.0
QUEUED_CHECK_SECONDS = 3.0  # how often the database is asked for retries queued by another process
CATALOGUE_CHECK_SECONDS = 2.0  # how often the catalogue's version is compared with what each branch holds


@dataclass
class Requests:
    """What other threads ask of the consumer; read by the session's thread only."""

    stopping: threading.Event = field(default_factory=threading.Event)
    sync_now: threading.Event = field(default_factory=threading.Event)
    retries: collections.deque[int] = field(default_factory=collections.deque)


@dataclass
class _Raw:
    tag: int
    queue: str
    properties: pika.BasicProperties
    body: bytes


class HeadOfficeSession:
    """Consumes every branch's queues over one connection until stopped or the link fails."""

    def __init__(self, connection: pika.BlockingConnection, cfg: HeadOfficeConfig, work: HeadOfficeWork,
                 worker: ThreadPoolExecutor, requests: Requests, emit: Callable[[events.Event], None],
                 set_state: Callable[[ConsumerState], None]):
        self.connection, self.cfg, self.work, self.worker = connection, cfg, work, worker
        self.requests, self.emit, self.set_state = requests, emit, set_state
        self.names = Names(cfg.topology_prefix)
        self.log = logging.getLogger(f"sync.{cfg.code}")
        self.inbox: dict[str, collections.deque[_Raw]] = collections.defaultdict(collections.deque)
        self.job: Future[GroupOutcome] | None = None
        self.consumers: dict[str, list[str]] = {}  # branch -> its consumer tags
        self.paused: dict[str, float] = {}  # branch -> when its quota is checked again
        self.next_queued_check = 0.0
        self.next_catalogue_check = 0.0
        self.catalogue_confirmed: list[tuple[str, int, int]] = []  # sends confirmed, recorded by the next check

    # ------------------------------------------------------------ the loop
    def run(self) -> None:
        """Serve until asked to stop; raises the broker's exception when the link fails."""
        self.channel = self.connection.channel()
        declare_topology(self.channel, self.cfg, list(self.cfg.branches))
        self.publisher = self.connection.channel()
        self.publisher.confirm_delivery()
        # One unacked message at a time from the quiet queues (parked messages, branches not yet
        # upgraded): what they hold is rarely urgent and may be as large as a message can be.
        self.channel.basic_qos(prefetch_count=1)
        for queue in (self.names.intake_queue, self.names.dead_queue):
            self.channel.basic_consume(queue, on_message_callback=partial(self._collect, queue))
        for branch in self.cfg.branches:
            self._consume(branch)
        self.set_state(ConsumerState.ONLINE)
        try:
            while not self.requests.stopping.is_set():
                busy = self.job is not None
                self.connection.process_data_events(time_limit=0.05 if busy or not self._waiting() else 0.2)
                if self.job is not None and self.job.done():
                    self._finish(self.job)
                if self.job is None:
                    self._next()
        finally:
            self._drain_job()

    def _consume(self, branch: str) -> None:
        """Read a branch's own queue (``prefetch`` at a time) and its held queue (one at a time)."""
        self.channel.basic_qos(prefetch_count=1)
        held = self.names.held_queue(branch)
        tags = [self.channel.basic_consume(held, on_message_callback=partial(self._collect, held))]
        self.channel.basic_qos(prefetch_count=self.cfg.prefetch)
        own = self.names.branch_queue(branch)
        tags.append(self.channel.basic_consume(own, on_message_callback=partial(self._collect, own)))
        self.consumers[branch] = tags

    def _collect(self, queue: str, _channel: Any, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        # Called inside process_data_events; the work is done outside it.
        self.inbox[queue].append(_Raw(method.delivery_tag, queue, properties, body))

    def _waiting(self) -> bool:
        return any(self.inbox.values())

    # ------------------------------------------------------------ handing work to the worker
    def _next(self) -> None:
        if self.requests.sync_now.is_set():
            self.requests.sync_now.clear()
            self._broadcast_sync_request()
        if self.requests.retries:
            letter = self.requests.retries.popleft()
            self.job = self.worker.submit(self.work.retry, letter)
            return
        for branch, when in list(self.paused.items()):
            if time.monotonic() >= when:
                self.paused[branch] = time.monotonic() + QUOTA_CHECK_SECONDS
                self.job = self.worker.submit(self.work.quota_check, branch)
                return
        if time.monotonic() >= self.next_catalogue_check:  # cheap, and never held back by a backlog
            self.next_catalogue_check = time.monotonic() + CATALOGUE_CHECK_SECONDS
            confirmed, self.catalogue_confirmed = self.catalogue_confirmed, []
            self.job = self.worker.submit(self.work.catalogue_check, confirmed)
            return
        group = self._group()
        if group:
            self.job = self.worker.submit(self.work.process, group)
        elif time.monotonic() >= self.next_queued_check:
            self.next_queued_check = time.monotonic() + QUEUED_CHECK_SECONDS
            self.job = self.worker.submit(self.work.queued_retries)

    def _group(self) -> list[Delivery]:
        """Up to GROUP_LIMIT deliveries, one queue at a time in turn, so that no queue waits behind another."""
        group: list[Delivery] = []
        size = 0
        while len(group) < GROUP_LIMIT and size < GROUP_BYTES and self._waiting():
            for queue in [q for q, waiting in self.inbox.items() if waiting]:
                raw = self.inbox[queue].popleft()
                group.append(Delivery(raw.tag, raw.queue, protocol.read_envelope(raw.properties),
                                      protocol.record_of(raw.properties), raw.body))
                size += len(raw.body)
                if len(group) >= GROUP_LIMIT or size >= GROUP_BYTES:
                    break
        return group

    # ------------------------------------------------------------ when the worker is done
    def _finish(self, job: Future[GroupOutcome]) -> None:
        self.job = None
        try:
            outcome = job.result()
        except Exception:  # the worker could not even park: end the session; the broker redelivers
            self.log.exception("the consumer's database work failed")
            raise
        for publication in outcome.publications:
            self.publisher.basic_publish(publication.exchange, publication.routing_key, publication.body,
                                         publication.properties)
        self.catalogue_confirmed += outcome.catalogue_sent  # every publish above was confirmed
        if outcome.catalogue_heard or outcome.catalogue_sent:
            self.next_catalogue_check = 0.0
        for tag in outcome.acks:
            self.channel.basic_ack(tag)
        for event in outcome.events:
            self.emit(event)
        for branch in outcome.over_quota - set(self.paused):
            self._pause(branch)
        for branch in outcome.within_quota:
            self._resume(branch)
        self.requests.retries.extend(i for i in outcome.retries if i not in self.requests.retries)

    def _pause(self, branch: str) -> None:
        for tag in self.consumers.pop(branch, []):
            self.channel.basic_cancel(tag)
        self.paused[branch] = time.monotonic() + QUOTA_CHECK_SECONDS
        self.log.error("branch %s has %d dead letters or more; its queues are not read until a person has dealt "
                       "with them (the broker keeps what it sends, within its share)", branch, self.cfg.dead_letter_quota)

    def _resume(self, branch: str) -> None:
        if self.paused.pop(branch, None) is not None and branch not in self.consumers:
            self._consume(branch)
            self.log.info("branch %s is within its dead-letter quota again; reading its queues", branch)

    def _broadcast_sync_request(self) -> None:
        body = protocol.encode_sync_request()
        for branch in self.cfg.branches:
            self.publisher.basic_publish(self.names.receipts_exchange, branch, body, protocol.sync_request_properties())
        self.log.info("asked %d branch(es) to sync now", len(self.cfg.branches))

    def _drain_job(self) -> None:
        """At the end of a session, let a running job finish; its deliveries come again (nothing acked)."""
        if self.job is not None:
            try:
                self.job.result()
            except Exception:  # noqa: BLE001 - reported by the worker; the messages are redelivered
                pass
            self.job = None

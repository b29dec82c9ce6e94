"""One connected period of a branch agent: its channel, its lanes, its receipts and requests.

``BranchSession.run`` drains the outbox, listens for receipts and requests, sends
the branch's report, and returns when the agent is stopped or its sync window
ends; the broker's exception ends it when the link fails (the agent's thread then
backs off and connects again).  It is told once whether a person asked for this
sync (``asked``), and answers that person when the first pass is done.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pika

from config import BranchConfig
from models.capture import CaptureHealth
from sync import events, protocol
from sync.branch_days import BranchDays, NotResent
from sync.broker import Names, declare_topology
from sync.catalogue_link import CatalogueAtBranch
from sync.lanes import Lanes, Message, NotSent
from sync.outbox import Outbox
from sync.parked_at_branch import ParkedAtBranch
from sync.states import LinkState

RECEIPT_PREFETCH = 64
RECEIPT_LINGER_SECONDS = 15.0
# What a report would say is read again at least this often (and at once when capture health changes or
# a pass sent something); the report goes when it changed.
REPORT_EVERY_SECONDS = 30.0
# A pass shorter than this measures the link's round trip more than its pace: it is not kept.
MEASURE_AFTER_SECONDS = 1.0
# --once: how long to wait, after the receipts, for the catalogue the Head Office said it holds.
CATALOGUE_WAIT_SECONDS = 60.0


@dataclass
class PassResult:
    sent: int = 0
    resent: int = 0
    catalogue_held: int = 0  # the catalogue version held when --once ended
    catalogue_behind: int = 0  # versions the Head Office said it holds beyond that (0: none, or it said nothing)


class Wakeup:
    """The one signal other threads give the agent: changes were saved, or a person asked for a sync."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._asked = False

    def poke(self) -> None:
        self._event.set()

    def ask(self) -> None:
        with self._lock:
            self._asked = True
        self._event.set()

    def take_asked(self) -> bool:
        """Whether a person asked since the last time this was called."""
        with self._lock:
            asked, self._asked = self._asked, False
        return asked

    def wait(self, timeout: float) -> bool:
        fired = self._event.wait(timeout)
        self._event.clear()
        return fired


class BranchSession:
    """Sends a branch's pending changes over one connection, many per message, with confirms."""

    def __init__(self, connection: pika.BlockingConnection, url_index: int, user: str | None, cfg: BranchConfig,
                 outbox: Outbox, wakeup: Wakeup, stopping: threading.Event, emit: Callable[[events.Event], None],
                 health: Callable[[], CaptureHealth | None], asked: bool = False, days: BranchDays | None = None):
        self.connection, self.url_index, self.user, self.cfg = connection, url_index, user, cfg
        self.outbox, self.wakeup, self.stopping, self.emit, self.health = outbox, wakeup, stopping, emit, health
        self.asked = asked  # a person is waiting for this sync's answer
        self.names = Names(cfg.topology_prefix)
        self.log = logging.getLogger(f"sync.{cfg.code}")
        self._controls: list[tuple[int, pika.BasicProperties, bytes]] = []
        self._reported: tuple[Any, ...] | None = None  # what the last report said
        self._looked_at = 0.0  # when the facts of a report were last read
        self._sent_since_look = False
        self._alert: str | None = None
        self._lanes: Lanes | None = None
        # What to do with each type of message on the branch's queue (acked once its handler returns),
        # and what to tell the Head Office after each pass; a feature adds its own.
        self.handlers: dict[type, Callable[[Any], None]] = {protocol.SyncRequest: self._sync_requested,
                                                             protocol.Receipt: self._record_receipt}
        self.reporters: list[Callable[[], None]] = [self.send_report]
        self.days = days
        if days is not None:  # day close (sync/branch_days.py): totals after each pass, the Head Office's asks
            self.reporters.append(self._report_days)
            self.handlers[protocol.DayRequest] = self._day_requested
            self.handlers[protocol.DayStates] = days.record_states
        self.catalogue = CatalogueAtBranch(cfg.code, outbox.engine, outbox.origin, self._publish_own, user, emit,
                                           self.log)
        self.handlers[protocol.CatalogueMessage] = self.catalogue.receive
        self.reporters.append(self.catalogue.report)
        # What it cannot read yet is kept at the branch, and applied once it can (sync/parked_at_branch.py).
        self.parked = ParkedAtBranch(cfg.code, outbox.engine, self._handle, self.log)
        self.reporters.append(self.parked.look)

    # ------------------------------------------------------------ the session
    def open(self) -> None:
        """Lanes first when a backlog waits (their connections open while this one declares), then the channel."""
        if self.cfg.publish_window > 1 and self.outbox.pending_at_least(self.cfg.batch_rows):
            self._lanes = Lanes(self.cfg, self.url_index, self.cfg.publish_window, None, self.log)
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
        if self.cfg.declare_topology:
            declare_topology(self.channel, self.cfg, [self.cfg.code])
        self.channel.basic_qos(prefetch_count=RECEIPT_PREFETCH)
        self.channel.basic_consume(self.names.receipts_queue(self.cfg.code), on_message_callback=self._on_control)
        if self._lanes is not None:
            self._lanes.channel = self.channel
        self.parked.apply_readable()  # kept until this code could read them: an upgrade, or `migrate`, came since

    def run(self, set_state: Callable[[LinkState], None]) -> None:
        """Drain, listen and report until stopped or outside the sync window."""
        try:
            self.open()
            set_state(LinkState.ONLINE)
            self.send_report()  # the backlog as this window opens: the Head Office judges whether it fits
            while not self.stopping.is_set():
                result = self.drain(progress=self.asked)
                for report in self.reporters:
                    report()
                if self.asked:
                    self.emit(events.SyncFinished(self.cfg.code, result.sent, result.resent))
                    self.asked = False
                if not self.cfg.in_sync_window():
                    # A sync outside the window stays long enough to hear the receipts.
                    self.await_receipts(RECEIPT_LINGER_SECONDS)
                    self.log.info("outside the sync window; disconnecting")
                    return
                deadline = time.monotonic() + self.cfg.poll_seconds
                while not self.stopping.is_set() and time.monotonic() < deadline:
                    self.connection.process_data_events(time_limit=min(0.05, self.cfg.poll_seconds))
                    self.handle_controls()
                    if self.wakeup.wait(0):
                        break
                self.asked = self.wakeup.take_asked() or self.asked
        finally:
            self.close()

    def run_once(self, receipt_wait: float, catalogue_wait: float = CATALOGUE_WAIT_SECONDS) -> PassResult:
        """Send everything pending, wait up to ``receipt_wait`` for receipts, report, wait up to ``catalogue_wait``
        for the catalogue the Head Office said it holds, return."""
        try:
            self.open()
            self.send_report()
            result = self.drain(progress=False)
            for report in self.reporters:
                report()
            self.await_receipts(receipt_wait)
            self.take_waiting(catalogue_wait)
            self.await_catalogue(catalogue_wait)
            result.catalogue_behind = self.catalogue.behind()
            result.catalogue_held = self.catalogue.held or 0
            return result
        finally:
            self.close()

    def close(self) -> None:
        if self._lanes is not None:
            self._lanes.close()
            self._lanes = None

    # ------------------------------------------------------------ sending
    def drain(self, progress: bool) -> PassResult:
        """Send every pending change, up to ``publish_window`` messages in flight; mark each sent on its confirm."""
        result = PassResult()
        total = self.outbox.count_pending() if progress else None
        lanes = self._lanes or Lanes(self.cfg, self.url_index, 1, self.channel, self.log)
        began = time.monotonic()
        again = True
        while again and not self.stopping.is_set():
            again = False
            rows = self.outbox.pending_batch(self.cfg.batch_rows, 0)
            while not self.stopping.is_set():
                while rows and lanes.has_room() and not self.stopping.is_set():
                    for message in self._messages(rows):
                        lanes.publish(message)
                    rows = self.outbox.pending_batch(self.cfg.batch_rows, rows[-1][0])
                if lanes.in_flight == 0:
                    break
                report = lanes.confirmed(timeout=0.05)
                if report is not None and isinstance(report.error, NotSent):
                    again = True  # still pending: the next round sends it, one message at a time
                elif report is not None and report.error is not None:
                    raise report.error
                elif report is not None:
                    self.outbox.mark_sent(report.seqs)
                    result.sent += len(report.seqs)
                    if total is not None:
                        self.emit(events.SyncProgress(self.cfg.code, result.sent, max(total, result.sent)))
                self.connection.process_data_events(time_limit=0)  # heartbeats and receipts
                self.handle_controls()
        if result.sent:
            self.log.info("sent %d change(s)", result.sent)
            self._sent_since_look = True
            took = time.monotonic() - began
            if took >= MEASURE_AFTER_SECONDS:
                self.outbox.record_drain_rate(int(result.sent * 60 / took))
        result.resent = self._resend_unreceipted()
        return result

    def _messages(self, rows: Sequence[Sequence[Any]]) -> list[Message]:
        """``rows`` as one message, or several when one would be larger than any reader accepts."""
        try:
            body, seqs = protocol.encode_changes(self.cfg.code, self.outbox.origin(), rows, self.outbox.high_water(),
                                                 int(time.time() * 1000))
        except protocol.TooLarge:
            if len(rows) == 1:
                raise
            half = len(rows) // 2
            return self._messages(rows[:half]) + self._messages(rows[half:])
        properties = protocol.changes_properties(self.cfg.code, self.outbox.origin(), seqs, self.user)
        return [Message(self.names.branch_exchange(self.cfg.code), self.cfg.code, body, properties, seqs)]

    def _resend_unreceipted(self) -> int:
        """Send again what was confirmed long ago but never receipted (belt and braces)."""
        cutoff = dt.datetime.now() - dt.timedelta(seconds=self.cfg.resend_after_seconds)
        after, count = 0, 0
        while not self.stopping.is_set():
            rows = self.outbox.unconfirmed_batch(cutoff, self.cfg.batch_rows, after)
            if not rows:
                break
            for message in self._messages(rows):
                self.channel.basic_publish(message.exchange, message.routing_key, message.body, message.properties,
                                           mandatory=True)
                self.outbox.mark_sent(message.seqs)
                count += len(message.seqs)
            after = rows[-1][0]
            self.connection.process_data_events(time_limit=0)
        if count:
            self.log.warning("sent %d change(s) again: no receipt for them after %.0fs", count,
                             self.cfg.resend_after_seconds)
        return count

    def send_report(self) -> None:
        """Tell the Head Office how capture is, what waits and at what pace it goes, in the version it reads.

        Looked at when the session opens, when capture health changes, after a pass that
        sent something (a backlog may be gone, its pace measured) and every
        REPORT_EVERY_SECONDS; sent when what it says changed.
        """
        health = self.health()
        if health is None:
            return
        now = time.monotonic()
        if self._reported is not None and health == self._reported[0] and not self._sent_since_look \
                and now - self._looked_at < REPORT_EVERY_SECONDS:
            return
        self._looked_at, self._sent_since_look = now, False
        ho_version = self.outbox.fact("ho_version")
        if not ho_version or not ho_version.isdigit() or int(ho_version) < 2:
            return
        version = min(int(ho_version), protocol.VERSION)
        pending, rate, window = self.outbox.count_pending(), self.outbox.drain_rate(), self.cfg.next_window_seconds()
        said = (health, pending, rate, None if window is None else window // 600)
        if said == self._reported:
            return
        at = int(time.time() * 1000)
        report = protocol.Report(self.cfg.code, self.outbox.origin(), at, health.ok, health.sentence(), pending,
                                 self.outbox.high_water(), rate, window, version)
        self.channel.basic_publish(self.names.branch_exchange(self.cfg.code), self.cfg.code,
                                   protocol.encode_report(report),
                                   protocol.report_properties(self.cfg.code, report.origin, at, self.user, version),
                                   mandatory=True)
        self._reported = said

    def _report_days(self) -> None:
        if self.days is not None:
            self.days.report(self.publish_day, self.health())

    def publish_day(self, kind: str, body: bytes, message_id: str) -> None:
        """A day-close message on the branch's own exchange, confirmed (the channel waits for it)."""
        self.channel.basic_publish(self.names.branch_exchange(self.cfg.code), self.cfg.code, body,
                                   protocol.day_properties(kind, self.cfg.code, message_id, self.user), mandatory=True)

    def _day_requested(self, request: protocol.DayRequest) -> None:
        assert self.days is not None
        self.log.info("the Head Office asked for %s", "the totals of every day" if request.what == protocol.TOTALS else
                      f"{'the sales' if request.what == protocol.SALES else 'a resend'} of {request.day}")
        try:
            if request.what == protocol.TOTALS:
                self.days.report(self.publish_day, self.health(), force_all=True)
            elif request.what == protocol.RESEND:
                self.days.resend([request.day], self.publish_day)
            else:
                self.days.send_sales(request.day, self.publish_day)
        except NotResent as exc:
            self.log.error("could not send %s again: %s", request.day, exc)

    def _publish_own(self, body: bytes, properties: pika.BasicProperties) -> None:
        """A small message to the branch's own exchange, confirmed."""
        self.channel.basic_publish(self.names.branch_exchange(self.cfg.code), self.cfg.code, body, properties,
                                   mandatory=True)

    # ------------------------------------------------------------ receipts and requests
    def await_receipts(self, timeout: float) -> None:
        """Listen for receipts until nothing sent is unreceipted, or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping.is_set():
            self.connection.process_data_events(time_limit=0.1)
            self.handle_controls()
            if not self.outbox.awaiting_receipts():
                return

    def take_waiting(self, timeout: float) -> None:
        """Handle everything that waited on this branch's queue when the run began, up to ``timeout``.

        A run with nothing to send gets no receipt to say what the Head Office holds, and
        its queue can hold more than the prefetch (a catalogue sent while the branch was
        away, behind other messages): take them until the broker says none is ready.
        """
        deadline = time.monotonic() + timeout
        queue = self.names.receipts_queue(self.cfg.code)
        while not self.stopping.is_set() and time.monotonic() < deadline:
            ready = self.channel.queue_declare(queue, passive=True).method.message_count  # read permission is enough
            # What arrived before the answer (all of it, once none is ready), or a moment more while some are.
            self.connection.process_data_events(time_limit=0.05 if ready else 0)
            self.handle_controls()
            if not ready:
                return

    def await_catalogue(self, timeout: float) -> None:
        """Listen until the catalogue held is the version the Head Office said it holds, or ``timeout`` passes.

        Its receipts say that version (this run's catalogue-state asked it for what is missing); a Head
        Office of the previous release says none, and then nothing is waited for.
        """
        deadline = time.monotonic() + timeout
        while self.catalogue.behind() and time.monotonic() < deadline and not self.stopping.is_set():
            self.connection.process_data_events(time_limit=0.1)
            self.handle_controls()

    def _on_control(self, _channel: Any, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        # pika calls this from inside process_data_events; the work happens after.
        self._controls.append((method.delivery_tag, properties, body))

    def _sync_requested(self, _request: protocol.SyncRequest) -> None:
        self.log.info("the Head Office asked for a sync")
        self.wakeup.ask()

    def _record_receipt(self, receipt: protocol.Receipt) -> None:
        if receipt.origin is not None and receipt.origin != self.outbox.origin():
            # Another history's changes (a copy of this database, or this one before `rejoin`).
            self.log.warning("ignored a receipt for database %s, not this one", receipt.origin)
            return
        applied = self.outbox.record_receipt(receipt)
        if self.days is not None:
            self.days.receipted()
        for seq, reason in receipt.rejected:
            self.log.error("the Head Office refused change %d: %s", seq, reason)
        self.emit(events.ReceiptsRecorded(self.cfg.code, applied, len(receipt.rejected)))
        alert = self.outbox.history_problem()
        if alert != self._alert:
            self._alert = alert
            self.emit(events.HeadOfficeAlert(self.cfg.code, alert))

    def handle_controls(self) -> None:
        while self._controls:
            tag, properties, body = self._controls[0]
            try:
                envelope = protocol.read_envelope(properties)
                message = protocol.decode_control(body, envelope.content_encoding, self.cfg.code)
            except protocol.Unsupported as exc:  # a newer Head Office wrote it: kept here until this branch reads it
                self.parked.park(exc, properties, body)  # committed before the ack: never lost
                self.channel.basic_ack(tag)
                self._controls.pop(0)
                continue
            except Exception as exc:  # noqa: BLE001 - whatever it is, the Head Office records it, not us
                self.log.error("refused a message on the receipt queue: %s", exc)
                self.channel.basic_nack(tag, requeue=False)  # dead-lettered by the queue, recorded at the HO
                self._controls.pop(0)
                continue
            self._handle(envelope, message)
            self.channel.basic_ack(tag)
            self._controls.pop(0)

    def _handle(self, envelope: protocol.Envelope, message: object) -> None:
        """A message from the Head Office, live or kept until this code could read it, to its handler."""
        if self.days is not None and isinstance(message, protocol.Receipt):
            self.days.head_office_reads(envelope.features)
        if envelope.catalogue is not None:
            self.catalogue.head_office_holds(envelope.catalogue)
        self.handlers[type(message)](message)


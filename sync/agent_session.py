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
from sync.broker import Names, declare_topology
from sync.catalogue_link import CatalogueAtBranch
from sync.lanes import Lanes, Message, NotSent
from sync.outbox import Outbox
from sync.states import LinkState

RECEIPT_PREFETCH = 64
RECEIPT_LINGER_SECONDS = 15.0


@dataclass
class PassResult:
    sent: int = 0
    resent: int = 0


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
                 health: Callable[[], CaptureHealth | None], asked: bool = False):
        self.connection, self.url_index, self.user, self.cfg = connection, url_index, user, cfg
        self.outbox, self.wakeup, self.stopping, self.emit, self.health = outbox, wakeup, stopping, emit, health
        self.asked = asked  # a person is waiting for this sync's answer
        self.names = Names(cfg.topology_prefix)
        self.log = logging.getLogger(f"sync.{cfg.code}")
        self._controls: list[tuple[int, pika.BasicProperties, bytes]] = []
        self._reported: CaptureHealth | None = None
        self._alert: str | None = None
        self._lanes: Lanes | None = None
        # What to do with each type of message on the branch's queue (acked once its handler returns),
        # and what to tell the Head Office after each pass; a feature adds its own.
        self.handlers: dict[type, Callable[[Any], None]] = {protocol.SyncRequest: self._sync_requested,
                                                             protocol.Receipt: self._record_receipt}
        self.reporters: list[Callable[[], None]] = [self.send_report]
        self.catalogue = CatalogueAtBranch(cfg.code, outbox.engine, outbox.origin, self._publish_own, user, emit,
                                           self.log)
        self.handlers[protocol.CatalogueMessage] = self.catalogue.receive
        self.reporters.append(self.catalogue.report)

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

    def run(self, set_state: Callable[[LinkState], None]) -> None:
        """Drain, listen and report until stopped or outside the sync window."""
        try:
            self.open()
            set_state(LinkState.ONLINE)
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

    def run_once(self, receipt_wait: float) -> PassResult:
        """Send everything pending, wait up to ``receipt_wait`` for receipts, report, return."""
        try:
            self.open()
            result = self.drain(progress=False)
            for report in self.reporters:
                report()
            self.await_receipts(receipt_wait)
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
        """Tell the Head Office how capture is and what waits, when it reads reports and anything changed."""
        health = self.health()
        if health is None or health == self._reported or self.outbox.fact("ho_version") != str(protocol.VERSION):
            return
        at = int(time.time() * 1000)
        report = protocol.Report(self.cfg.code, self.outbox.origin(), at, health.ok, health.sentence(),
                                 self.outbox.count_pending(), self.outbox.high_water())
        self.channel.basic_publish(self.names.branch_exchange(self.cfg.code), self.cfg.code,
                                   protocol.encode_report(report),
                                   protocol.report_properties(self.cfg.code, report.origin, at, self.user), mandatory=True)
        self._reported = health

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
                message = protocol.decode_control(body, protocol.read_envelope(properties).content_encoding,
                                                  self.cfg.code)
            except Exception as exc:  # noqa: BLE001 - whatever it is, the Head Office records it, not us
                self.log.error("refused a message on the receipt queue: %s", exc)
                self.channel.basic_nack(tag, requeue=False)  # dead-lettered by the queue, recorded at the HO
                self._controls.pop(0)
                continue
            self.handlers[type(message)](message)
            self.channel.basic_ack(tag)
            self._controls.pop(0)


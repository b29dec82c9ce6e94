"""OutboxRelay: the branch agent.  A background thread that sends captured changes
to the Head Office whenever the link allows, and records the receipts that come back.

Rules it keeps:
- a change is marked sent only after the broker confirmed its message; anything
  unconfirmed stays pending and is sent again (the Head Office ignores repeats);
- it never blocks its caller: ``sync_now`` and ``stop`` only set flags;
- its pika connection is opened and used by its own thread only.
"""
from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pika
from sqlalchemy.exc import DBAPIError

from config import OfficeConfig
from models.schema import describe_db, make_engine
from sync import events, protocol
from sync.backoff import Backoff
from sync.broker import INTAKE_KEY, LinkDown, Names, close_quietly, connect, declare_topology, describe, login_of
from sync.outbox import Outbox

RECEIPT_PREFETCH = 64
RECEIPT_LINGER_SECONDS = 15.0


@dataclass
class PassResult:
    sent: int = 0
    resent: int = 0


class OutboxRelay(threading.Thread):
    """Sends a branch's pending changes, in seq order, many per message, with confirms."""

    def __init__(self, cfg: OfficeConfig, on_event: Callable[[object], None] | None = None, engine=None):
        super().__init__(name=f"relay-{cfg.code}", daemon=True)
        self.cfg = cfg
        self.log = logging.getLogger(f"sync.{cfg.code}")
        self.engine = engine or make_engine(cfg.db_url)
        self.outbox = Outbox(self.engine)
        self.names = Names(cfg.topology_prefix)
        self._emit = on_event or (lambda _e: None)
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._sync_requested = False
        self._lock = threading.Lock()
        self._controls: list = []
        self._state = None
        self._logged = None
        self._user: str | None = None
        self._url_index = 0
        self._lanes: list[_Lane] = []
        self._confirmed: queue.Queue = queue.Queue()  # (lane, seqs, error) from this session's lanes
        self._pipeline_off = False
        self._backoff = Backoff(cfg.backoff_initial_seconds, cfg.backoff_max_seconds)

    # ------------------------------------------------------------ called from any thread
    @property
    def state(self) -> str | None:
        """The last state reported (online, offline, ...), or None before the first."""
        return self._state[0] if self._state else None

    def sync_now(self) -> None:
        """Ask for an immediate sync, even outside the sync windows.  Returns at once."""
        with self._lock:
            self._sync_requested = True
        self._wake.set()

    def notify(self) -> None:
        """Hint that new changes were just committed (saves a poll interval)."""
        self._wake.set()

    def stop(self, timeout: float | None = 10) -> None:
        self._stopping.set()
        self._wake.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    # ------------------------------------------------------------ the thread
    def _take_sync_request(self) -> bool:
        with self._lock:
            requested, self._sync_requested = self._sync_requested, False
        return requested

    def _set_state(self, state: str, error: str | None = None) -> None:
        if (state, error) == self._state:
            return
        self._state = (state, error)
        self._emit(events.LinkStatus(self.cfg.code, state, error))
        # One log line per real change: retrying against a dead link flips between
        # connecting and offline on every attempt, and that is not news.
        if state == events.CONNECTING:
            return
        if state == self._logged:
            self.log.debug("still %s: %s", state, error)
        else:
            self._logged = state
            if error:
                self.log.warning("link %s: %s; retrying with backoff", state, error)
            else:
                self.log.info("link %s", state)

    def run(self) -> None:
        while not self._stopping.is_set():
            forced = self._take_sync_request()
            if not forced and not self.cfg.in_sync_window():
                self._set_state(events.OUTSIDE_WINDOW)
                self._wake.wait(30)
                self._wake.clear()
                continue
            self._set_state(events.CONNECTING, self._state[1] if self._state else None)
            try:
                connection, index = connect(self.cfg, log=self.log)
            except LinkDown as exc:
                self._went_wrong(str(exc), forced)
                continue
            except Exception as exc:  # noqa: BLE001 - a surprise while connecting must not end the agent either
                self.log.exception("agent hit an unexpected error while connecting")
                self._went_wrong(f"unexpected error while connecting: {exc.__class__.__name__}: {exc}", forced)
                continue
            self._user, self._url_index = login_of(self.cfg.amqp_urls[index]), index
            try:
                self._session(connection, forced)
            except (pika.exceptions.AMQPError, OSError) as exc:
                self._went_wrong(explain(exc), forced)
            except DBAPIError as exc:
                self._went_wrong(f"the branch database is not answering ({describe_db(exc)})", forced)
            except Exception as exc:  # noqa: BLE001 - a bug must not silently end the agent
                # Nothing is lost: unconfirmed changes stay pending and go next time.
                self.log.exception("agent hit an unexpected error; reconnecting")
                self._went_wrong(f"unexpected error: {exc.__class__.__name__}: {exc}", forced)
            finally:
                close_quietly(connection)
        self._set_state(events.STOPPED)

    def _went_wrong(self, message: str, forced: bool) -> None:
        self._set_state(events.OFFLINE, message)
        if forced:
            self._emit(events.SyncFinished(self.cfg.code, False, f"Could not sync: {message}."))
        delay = self._backoff.next_delay()
        self.log.debug("retrying in %.1fs", delay)
        self._wake.wait(delay)
        self._wake.clear()

    def _open(self, connection) -> pika.adapters.blocking_connection.BlockingChannel:
        self._controls.clear()  # delivery tags of a previous connection mean nothing now
        channel = connection.channel()
        channel.confirm_delivery()
        if self.cfg.declare_topology:
            declare_topology(channel, self.cfg, [self.cfg.code])
        channel.basic_qos(prefetch_count=RECEIPT_PREFETCH)
        channel.basic_consume(self.names.receipts_queue(self.cfg.code), on_message_callback=self._on_control)
        return channel

    def _session(self, connection, forced: bool) -> None:
        """One connected period: drain, listen for receipts, until stopped or the window ends."""
        try:
            self._connected_session(connection, forced)
        finally:
            self._close_lanes()

    def _connected_session(self, connection, forced: bool) -> None:
        self._start_lanes_for_a_backlog()
        channel = self._open(connection)
        self._set_state(events.ONLINE)
        while not self._stopping.is_set():
            result = self._drain(connection, channel, report=forced)
            # Only a pass that worked resets the backoff: a session that fails at
            # once, again and again, must not turn into a tight reconnect loop.
            self._backoff.reset()
            self._handle_controls(channel)
            if forced:
                again = f", {result.resent} sent again" if result.resent else ""
                self._emit(events.SyncFinished(self.cfg.code, True, f"Sync finished: {result.sent} change(s) sent{again}."))
                forced = False
            if not self.cfg.in_sync_window():
                # A sync outside the window stays long enough to hear the receipts.
                self._await_receipts(connection, channel, RECEIPT_LINGER_SECONDS)
                self.log.info("outside the sync window; disconnecting")
                return
            deadline = time.monotonic() + self.cfg.poll_seconds
            while not self._stopping.is_set() and time.monotonic() < deadline and not self._wake.is_set():
                connection.process_data_events(time_limit=min(0.05, self.cfg.poll_seconds))
                self._handle_controls(channel)
            self._wake.clear()
            forced = self._take_sync_request() or forced

    def run_once(self, receipt_wait: float = 5.0) -> PassResult:
        """Connect, send everything pending, wait for the confirms, then return.

        Raises LinkDown when the broker cannot be reached.  Receipts that arrive
        within ``receipt_wait`` seconds are recorded too (the Head Office may be
        offline; the changes then stay "sent" until a later run hears back).
        """
        connection, index = connect(self.cfg, log=self.log)
        self._user, self._url_index = login_of(self.cfg.amqp_urls[index]), index
        try:
            self._start_lanes_for_a_backlog()
            channel = self._open(connection)
            result = self._drain(connection, channel, report=False)
            self._await_receipts(connection, channel, receipt_wait)
            return result
        finally:
            self._close_lanes()
            close_quietly(connection)

    def _await_receipts(self, connection, channel, timeout: float) -> None:
        """Listen for receipts until nothing sent is unreceipted, or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stopping.is_set():
            connection.process_data_events(time_limit=0.1)
            self._handle_controls(channel)
            if not self.outbox.awaiting_receipts():
                return

    # ------------------------------------------------------------ sending
    def _encode(self, rows: list) -> tuple[bytes, list[int]]:
        return protocol.encode_changes(
            self.cfg.code, self.outbox.origin(), rows, self.outbox.high_water(), int(time.time() * 1000)
        )

    def _properties(self, seqs: list[int], user: str | None) -> pika.BasicProperties:
        return pika.BasicProperties(
            content_type=protocol.CONTENT_TYPE,
            content_encoding=protocol.CONTENT_ENCODING,
            delivery_mode=pika.DeliveryMode.Persistent,
            type=protocol.CHANGES,
            app_id=protocol.APP_ID,
            message_id=f"{self.cfg.code}/{self.outbox.origin()}/{seqs[0]}-{seqs[-1]}",
            timestamp=int(time.time()),
            headers={"x-sync-version": protocol.VERSION, "x-sync-branch": self.cfg.code},
            # RabbitMQ checks user_id against the login, so the HO can tell who sent it.
            user_id=user,
        )

    def _publish(self, channel, rows: list) -> list[int]:
        body, seqs = self._encode(rows)
        # With confirms on, basic_publish returns only once the broker has the
        # message on disk (or raises): only then may the changes be marked sent.
        channel.basic_publish(self.names.intake_exchange, INTAKE_KEY, body, self._properties(seqs, self._user), mandatory=True)
        return seqs

    def _drain(self, connection, channel, report: bool) -> PassResult:
        result = PassResult()
        total = self.outbox.count_pending() if report else None  # None: no progress events
        rows = self.outbox.pending_batch(self.cfg.batch_rows, 0)
        if rows and len(rows) == self.cfg.batch_rows and self.cfg.publish_window > 1 and not self._pipeline_off:
            # A backlog: keep several messages in flight (see _Lane).
            rows = self._drain_pipelined(connection, channel, rows, result, total)
        while rows and not self._stopping.is_set():
            seqs = self._publish(channel, rows)
            self.outbox.mark_sent(seqs)
            self._sent(result, seqs, total)
            connection.process_data_events(time_limit=0)
            self._handle_controls(channel)
            rows = self.outbox.pending_batch(self.cfg.batch_rows, seqs[-1])
        if result.sent:
            self.log.info("sent %d change(s)", result.sent)
        result.resent = self._resend_unreceipted(connection, channel)
        return result

    def _sent(self, result: PassResult, seqs: list[int], total: int | None) -> None:
        result.sent += len(seqs)
        if total is not None:
            self._emit(events.SyncProgress(self.cfg.code, result.sent, max(total, result.sent)))

    def _drain_pipelined(self, connection, channel, rows: list, result: PassResult, total: int | None) -> list:
        """Drain with up to ``publish_window`` messages in flight, each on a lane of its own.

        This thread reads and encodes the next batch while the lanes' messages travel
        and wait for their confirms; it marks a message's changes sent when its lane
        reports the confirm, in whatever order confirms come (the Head Office orders
        changes by seq, not by arrival).  Returns the batch it did not send (the
        last, short one, or none), which the ordinary way sends.
        """
        self._start_lanes()
        free, in_flight = list(self._lanes), 0
        while not self._stopping.is_set():
            while free and rows and len(rows) == self.cfg.batch_rows:
                body, seqs = self._encode(rows)
                free.pop().give(body, seqs)
                in_flight += 1
                rows = self.outbox.pending_batch(self.cfg.batch_rows, seqs[-1])
            if not in_flight:
                return rows
            try:
                lane, seqs, error = self._confirmed.get(timeout=0.05)
            except queue.Empty:
                connection.process_data_events(time_limit=0)  # heartbeats and receipts
                self._handle_controls(channel)
                continue
            in_flight -= 1
            if isinstance(error, _LaneUnavailable):
                # That message was not sent; it is still pending and goes in the next pass.
                self.log.warning("sending one message at a time this session: %s", error)
                self._lanes.remove(lane)
                lane.close()
                self._pipeline_off = True
                continue
            if error is not None:
                raise error
            free.append(lane)
            self.outbox.mark_sent(seqs)
            self._sent(result, seqs, total)
            connection.process_data_events(time_limit=0)
            self._handle_controls(channel)
        return []  # stopping: what was not sent stays pending

    def _start_lanes(self) -> None:
        if not self._lanes:
            self._lanes = [_Lane(self, n, self._confirmed) for n in range(self.cfg.publish_window)]
            for lane in self._lanes:
                lane.start()

    def _start_lanes_for_a_backlog(self) -> None:
        """Open the lanes at once when a backlog waits, so that their connections are
        made while this one declares the topology (round trips on a slow link)."""
        if self.cfg.publish_window > 1 and self.outbox.pending_at_least(self.cfg.batch_rows):
            self._start_lanes()

    def _close_lanes(self) -> None:
        lanes, self._lanes = self._lanes, []
        for lane in lanes:
            lane.close()
        for lane in lanes:
            lane.join(5)
        # A lane still stuck in a publish reports into the old queue, which nobody
        # reads: a confirm that comes after the session ended is not recorded, so
        # those changes stay pending and go again (the Head Office ignores repeats).
        self._confirmed = queue.Queue()
        self._pipeline_off = False

    def _resend_unreceipted(self, connection, channel) -> int:
        """Send again what was confirmed long ago but never receipted (belt and braces)."""
        cutoff = dt.datetime.now() - dt.timedelta(seconds=self.cfg.resend_after_seconds)
        after, count = 0, 0
        while not self._stopping.is_set():
            rows = self.outbox.unconfirmed_batch(cutoff, self.cfg.batch_rows, after)
            if not rows:
                break
            seqs = self._publish(channel, rows)
            self.outbox.mark_sent(seqs)
            after, count = seqs[-1], count + len(seqs)
            connection.process_data_events(time_limit=0)
        if count:
            self.log.warning("sent %d change(s) again: no receipt for them after %.0fs", count, self.cfg.resend_after_seconds)
        return count

    # ------------------------------------------------------------ receipts and requests
    def _on_control(self, _channel, method, properties, body) -> None:
        # pika calls this from inside process_data_events; the work happens after.
        self._controls.append((method.delivery_tag, properties, body))

    def _handle_controls(self, channel) -> None:
        while self._controls:
            tag, properties, body = self._controls[0]
            try:
                message = protocol.decode_control(body, properties.content_encoding)
            except protocol.Poison as exc:
                self.log.error("refused a message on the receipt queue: %s", exc)
                channel.basic_nack(tag, requeue=False)  # dead-lettered by the queue
                self._controls.pop(0)
                continue
            if message == protocol.SYNC_REQUEST:
                self.log.info("the Head Office asked for a sync")
                with self._lock:
                    self._sync_requested = True
                self._wake.set()
            else:
                applied = self.outbox.mark_applied(message.applied, message.rejected)
                for seq, reason in message.rejected:
                    self.log.error("the Head Office refused change %d: %s", seq, reason)
                self._emit(events.ReceiptsRecorded(self.cfg.code, applied, len(message.rejected)))
            channel.basic_ack(tag)
            self._controls.pop(0)


class _LaneUnavailable(Exception):
    """A lane could not open its connection; the relay then sends one message at a time."""


class _Lane(threading.Thread):
    """One publisher with a connection of its own, opened and used in this thread only.

    pika's blocking channel waits for each confirm before it returns, so one
    connection has one message in flight; on a link with a long round trip the link
    then idles while the confirm travels back.  The relay keeps ``publish_window``
    lanes busy instead.  A lane only publishes and reports: the relay alone reads
    the outbox and marks changes sent, and only for messages the broker confirmed.
    """

    def __init__(self, relay: OutboxRelay, number: int, results: queue.Queue):
        super().__init__(name=f"relay-{relay.cfg.code}-lane{number}", daemon=True)
        self.relay = relay
        self._results = results  # this session's; a lane never reports into a later one
        self._jobs: queue.Queue = queue.Queue()
        self._closing = threading.Event()

    def give(self, body: bytes, seqs: list[int]) -> None:
        """Hand this idle lane one message; it reports (lane, seqs, error) when done."""
        self._jobs.put((body, seqs))

    def close(self) -> None:
        self._closing.set()
        self._jobs.put(None)

    def run(self) -> None:
        relay, connection = self.relay, None
        try:
            connection, index = connect(relay.cfg, start=relay._url_index, log=relay.log)
            user = login_of(relay.cfg.amqp_urls[index])
            channel = connection.channel()
            channel.confirm_delivery()
        except Exception as exc:  # noqa: BLE001 - reported with the first message it is given
            failure: Exception | None = _LaneUnavailable(str(exc) if isinstance(exc, LinkDown) else explain(exc))
        else:
            failure = None
        try:
            while not self._closing.is_set():
                try:
                    job = self._jobs.get(timeout=1.0)
                except queue.Empty:
                    if failure is None:
                        connection.process_data_events(time_limit=0)  # heartbeats
                    continue
                if job is None or self._closing.is_set():
                    return
                body, seqs = job
                if failure is None:
                    try:
                        channel.basic_publish(relay.names.intake_exchange, INTAKE_KEY, body,
                                              relay._properties(seqs, user), mandatory=True)
                    except Exception as exc:  # noqa: BLE001 - the relay decides what it means
                        failure = exc
                    else:
                        self._results.put((self, seqs, None))
                        continue
                self._results.put((self, None, failure))
        except Exception as exc:  # noqa: BLE001 - a lane must never die without a word
            relay.log.debug("publishing lane ended: %s", exc)
            self._results.put((self, None, exc))
        finally:
            if connection is not None:
                close_quietly(connection)


def explain(exc: BaseException) -> str:
    """Why a session with the broker ended, in words, for the log, the window and --once."""
    if isinstance(exc, pika.exceptions.UnroutableError):
        return ("the broker has no intake queue for this branch's changes; start the Head Office once "
                "(it declares the queues) or set declare_topology = true")
    if isinstance(exc, pika.exceptions.NackError):
        return "the broker refused to take the changes (it may be out of disk or memory)"
    if isinstance(exc, pika.exceptions.ChannelClosedByBroker) and exc.reply_code == 403:
        # A login from `python -m sync provision` may publish and read its receipts, nothing more.
        return (f"the broker refused this branch's login ({exc.reply_text}); a branch login may not declare "
                "queues, so set declare_topology = false")
    if isinstance(exc, pika.exceptions.ChannelClosedByBroker) and exc.reply_code == 404:
        return f"the broker has no queue for this branch yet ({exc.reply_text}); start the Head Office once (it declares the queues)"
    return f"lost the link to the broker ({describe(exc)})"

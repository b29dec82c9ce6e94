"""IntakeConsumer: the Head Office consumer.  A background thread that applies
branch changes to the consolidated database and answers each branch with a receipt.

For every group of deliveries, in this order:
  1. decode and check each message; a message that can never be applied is
     published to the dead-letter exchange with its reason (confirmed), then acked;
  2. apply the good ones in one transaction and commit;
  3. publish receipts (confirmed) and dead letters for single refused changes;
  4. ack.
A crash anywhere before 4 redelivers the messages, and applying them again
changes nothing.  A database that does not answer is waited for, never a reason
to dead-letter.  The same thread records everything on the dead-letter queue in
``sync_dead_letters``, so the manager can see, retry or discard it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pika
from sqlalchemy import select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.exc import DBAPIError, OperationalError

from config import OfficeConfig
from models.schema import describe_db, ho_dead_letters, make_engine
from sync import events, protocol
from sync.apply import apply_changes
from sync.backoff import Backoff
from sync.broker import INTAKE_KEY, LinkDown, Names, close_quietly, connect, declare_topology, describe, login_of

SYNC_REQUEST_TTL_MS = "60000"
GROUP_LIMIT = 64  # deliveries applied in one transaction at most
# A dead letter's body is kept whole up to this size; every real batch is far
# smaller, and larger statements would exceed the server's max_allowed_packet.
MAX_RECORDED_BODY = 4 * 1024 * 1024


@dataclass
class Delivery:
    tag: int
    properties: pika.BasicProperties
    body: bytes
    dead: bool  # from the dead-letter queue, to be recorded


def _temporary(exc: DBAPIError) -> bool:
    """Connection loss, lock waits and deadlocks pass; anything else is a real fault."""
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return True
    code = getattr(getattr(exc, "orig", None), "args", [None])[0]
    return code in (1205, 1213, 2003, 2006, 2013)


class IntakeConsumer(threading.Thread):
    """Consumes ``<prefix>.intake`` and ``<prefix>.dead`` for the Head Office."""

    def __init__(self, cfg: OfficeConfig, on_event: Callable[[object], None] | None = None, engine=None):
        super().__init__(name=f"intake-{cfg.code}", daemon=True)
        self.cfg = cfg
        self.log = logging.getLogger(f"sync.{cfg.code}")
        self.engine = engine or make_engine(cfg.db_url, isolation_level="READ COMMITTED")
        self.names = Names(cfg.topology_prefix)
        self._emit = on_event or (lambda _e: None)
        self._stopping = threading.Event()
        self._sync_request = threading.Event()
        self._retries: list[int] = []
        self._retry_lock = threading.Lock()
        self._inbox: list[Delivery] = []
        self._login: str | None = None
        self._state = None
        self._backoff = Backoff(cfg.backoff_initial_seconds, cfg.backoff_max_seconds)

    # ------------------------------------------------------------ any thread
    @property
    def state(self) -> str | None:
        """The last state reported (online, offline, ...), or None before the first."""
        return self._state[0] if self._state else None

    def request_sync(self) -> None:
        """Ask every branch that is connected to send what it has now.  Returns at once."""
        self._sync_request.set()

    def retry_dead_letter(self, dead_letter_id: int) -> None:
        """Put a parked message back on the intake queue (done by the consumer thread)."""
        with self._retry_lock:
            self._retries.append(dead_letter_id)

    def stop(self, timeout: float | None = 10) -> None:
        self._stopping.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    # ------------------------------------------------------------ the thread
    def _set_state(self, state: str, error: str | None = None) -> None:
        if (state, error) != self._state:
            self._state = (state, error)
            (self.log.warning if error else self.log.info)("consumer %s%s", state, f": {error}" if error else "")
            self._emit(events.ConsumerStatus(self.cfg.code, state, error))

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, index = connect(self.cfg, log=self.log)
                self._login = login_of(self.cfg.amqp_urls[index])
            except LinkDown as exc:
                self._set_state(events.OFFLINE, str(exc))
                self._stopping.wait(self._backoff.next_delay())
                continue
            except Exception as exc:  # noqa: BLE001 - a surprise while connecting must not end the consumer either
                self.log.exception("consumer hit an unexpected error while connecting")
                self._set_state(events.OFFLINE, f"unexpected error while connecting: {exc.__class__.__name__}: {exc}")
                self._stopping.wait(self._backoff.next_delay())
                continue
            try:
                self._session(connection)
            except (pika.exceptions.AMQPError, OSError) as exc:
                self._set_state(events.OFFLINE, f"lost the link to the broker ({describe(exc)})")
                self._stopping.wait(self._backoff.next_delay())
            except Exception as exc:  # noqa: BLE001 - a bug must not silently end the consumer
                # Nothing unacked is lost: the broker redelivers it to the next session.
                self.log.exception("consumer hit an unexpected error; reconnecting")
                self._set_state(events.OFFLINE, f"unexpected error: {exc.__class__.__name__}: {exc}")
                self._stopping.wait(self._backoff.next_delay())
            finally:
                close_quietly(connection)
        self._set_state(events.STOPPED)

    def _session(self, connection) -> None:
        self._inbox.clear()
        channel = connection.channel()
        declare_topology(channel, self.cfg, list(self.cfg.branches))
        publisher = connection.channel()
        publisher.confirm_delivery()
        channel.basic_qos(prefetch_count=self.cfg.prefetch)
        channel.basic_consume(self.names.intake_queue, on_message_callback=self._collector(dead=False))
        channel.basic_consume(self.names.dead_queue, on_message_callback=self._collector(dead=True))
        self._set_state(events.ONLINE)
        self._backoff.reset()
        while not self._stopping.is_set():
            connection.process_data_events(time_limit=0 if self._inbox else 0.2)
            if self._sync_request.is_set():
                self._sync_request.clear()
                self._broadcast_sync_request(publisher)
            with self._retry_lock:
                retries, self._retries = self._retries, []
            for dead_letter_id in retries:
                self._retry(publisher, dead_letter_id)
            if self._inbox:
                group, self._inbox = self._inbox[:GROUP_LIMIT], self._inbox[GROUP_LIMIT:]
                self._process(connection, channel, publisher, group)

    def _collector(self, dead: bool):
        def collect(_channel, method, properties, body):
            # Called inside process_data_events; the work is done outside it.
            self._inbox.append(Delivery(method.delivery_tag, properties, body, dead))
        return collect

    # ------------------------------------------------------------ processing
    def _process(self, connection, channel, publisher, group: list[Delivery]) -> None:
        decoded = []
        dead = [d for d in group if d.dead]
        for delivery in group:
            if delivery.dead:
                continue
            try:
                batch = protocol.decode_changes(
                    delivery.body, delivery.properties.content_encoding, self.cfg.branches
                )
            except protocol.Poison as exc:
                self._dead_letter(publisher, delivery.properties, delivery.body, str(exc), _branch_hint(delivery))
                channel.basic_ack(delivery.tag)
                continue
            if (delivery.properties.headers or {}).get("x-sync-retry-of") and delivery.properties.user_id == self._login:
                batch = dataclasses.replace(batch, replayed=True)  # a person chose to retry it
            impostor = self._impostor(delivery.properties, batch.branch)
            if impostor:
                self._dead_letter(publisher, delivery.properties, delivery.body, impostor, batch.branch)
                channel.basic_ack(delivery.tag)
                continue
            decoded.append((delivery, batch))
        if decoded:
            self._apply_group(connection, channel, publisher, decoded)
        for delivery in dead:
            try:
                self._with_database(connection, lambda conn, d=delivery: self._record_dead(conn, [d]))
            except DBAPIError as exc:
                # Keep it on the dead-letter queue; a person must look at it there.
                self.log.error("could not record dead letter %s: %s", delivery.properties.message_id, describe_db(exc))
                channel.basic_nack(delivery.tag, requeue=True)
                self._stopping.wait(self._backoff.next_delay())
                continue
            channel.basic_ack(delivery.tag)
            self._emit(events.DeadLetterRecorded(_branch_hint(delivery)))

    def _impostor(self, properties, branch: str) -> str | None:
        """Why a message may not speak for ``branch``, or None when it may.

        RabbitMQ refuses a publish whose user_id is not the publisher's login, so
        user_id names the sender; a branch may only send its own changes.  The
        Head Office's own login may re-publish (a retried dead letter).
        """
        if not self.cfg.require_branch_login:
            return None
        sender = properties.user_id
        if sender in (branch, self._login):
            return None
        return (f"message speaks for branch {branch} but was published by broker user {sender!r}; "
                "a branch may only send its own changes")

    def _with_database(self, connection, work):
        """Run ``work(conn)`` in a transaction, waiting out a database that is down.

        A lost connection is only an outage if the database is really down: when a
        fresh connection answers but the work keeps losing its own (a statement
        larger than the server accepts, say), the work is at fault, and the error
        is raised so that the message goes back to the queue and is parked by its
        delivery limit instead of stopping everything behind it.
        """
        backoff = Backoff(self.cfg.backoff_initial_seconds, min(self.cfg.backoff_max_seconds, 30))
        failures_while_up = 0
        while True:
            try:
                with self.engine.begin() as conn:
                    result = work(conn)
                if self._state and self._state[0] != events.ONLINE:
                    self._set_state(events.ONLINE)
                return result
            except DBAPIError as exc:
                if not _temporary(exc):
                    raise
                if self._database_answers():
                    failures_while_up += 1
                    if failures_while_up >= 3:
                        raise
                self._set_state("waiting for database", f"the Head Office database is not answering ({describe_db(exc)})")
                if self._stopping.is_set():
                    raise pika.exceptions.AMQPError("stopping while the database is down") from exc
                # Keep the broker connection alive while waiting; nothing is acked.
                connection.process_data_events(time_limit=backoff.next_delay())

    def _database_answers(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except DBAPIError:
            return False

    def _apply_group(self, connection, channel, publisher, decoded) -> None:
        try:
            results, refused = self._with_database(connection, lambda conn: apply_changes(
                conn, [b for _, b in decoded], clock_slack_ms=int(self.cfg.clock_slack_seconds * 1000)
            ))
        except DBAPIError as exc:
            if len(decoded) > 1:
                for one in decoded:  # find the one message that fails, apply the rest
                    self._apply_group(connection, channel, publisher, [one])
                return
            delivery, _batch = decoded[0]
            self.log.error(
                "could not apply message %s: %s; it goes back to the queue", delivery.properties.message_id, describe_db(exc)
            )
            # The quorum queue counts deliveries and parks it after DELIVERY_LIMIT.
            channel.basic_nack(delivery.tag, requeue=True)
            return
        refused_ids = {id(batch) for batch, _ in refused}
        for batch, reason in refused:
            delivery = next(d for d, b in decoded if b is batch)
            self._dead_letter(publisher, delivery.properties, delivery.body, reason, batch.branch)
        for delivery, batch in decoded:
            if batch.rejected and id(batch) not in refused_ids:
                reasons = "; ".join(f"seq {seq}: {why}" for seq, why, _ in batch.rejected[:5])
                more = f" (and {len(batch.rejected) - 5} more)" if len(batch.rejected) > 5 else ""
                self._dead_letter(
                    publisher, delivery.properties, protocol.encode_rejected(batch),
                    f"{len(batch.rejected)} of {len(batch.rejected) + len(batch.changes)} changes refused: {reasons}{more}",
                    batch.branch,
                )
        for branch, result in results.items():
            rejected = [
                (seq, why) for d, b in decoded if b.branch == branch and id(b) not in refused_ids
                for seq, why, _ in b.rejected
            ]
            receipt = protocol.encode_receipt(branch, result.seqs, rejected)
            publisher.basic_publish(
                self.names.receipts_exchange, branch, receipt,
                pika.BasicProperties(
                    content_type=protocol.CONTENT_TYPE, content_encoding=protocol.CONTENT_ENCODING,
                    delivery_mode=pika.DeliveryMode.Persistent, type=protocol.RECEIPT, app_id=protocol.APP_ID,
                ),
            )
            self.log.info(
                "applied %d change(s) from %s: %d upserted, %d deleted, %d already held",
                len(result.seqs), branch, result.upserts, result.deletes, result.stale,
            )
            self._emit(events.RowsApplied(branch, result.upserts, result.deletes, result.stale))
        for delivery, _ in decoded:
            channel.basic_ack(delivery.tag)

    def _dead_letter(self, publisher, properties, body: bytes, reason: str, branch: str | None) -> None:
        headers = dict(properties.headers or {})
        headers.update({
            "x-sync-reason": reason[:1000],
            "x-sync-branch": branch or "",
            "x-sync-original-message-id": properties.message_id or "",
            "x-sync-dead-lettered-at": dt.datetime.now().isoformat(timespec="seconds"),
        })
        publisher.basic_publish(
            self.names.dead_exchange, "", body,
            pika.BasicProperties(
                content_type=properties.content_type, content_encoding=properties.content_encoding,
                delivery_mode=pika.DeliveryMode.Persistent, type=properties.type,
                message_id=properties.message_id, headers=headers, app_id=properties.app_id,
            ),
        )
        self.log.error("dead-lettered a message from %s: %s", branch or "an unknown sender", reason)
        self._emit(events.DeadLettered(branch, reason))

    def _record_dead(self, conn, deliveries: list[Delivery]) -> None:
        rows = []
        for d in deliveries:
            headers = d.properties.headers or {}
            reason = headers.get("x-sync-reason")
            if not reason:
                reason = _broker_reason(headers)
            reason = _text(reason)
            props = {
                "content_type": d.properties.content_type, "content_encoding": d.properties.content_encoding,
                "type": d.properties.type, "message_id": d.properties.message_id,
                "user_id": d.properties.user_id, "app_id": d.properties.app_id,
                "headers": headers,
            }
            body = bytes(d.body)
            fingerprint = hashlib.sha256(reason.encode() + b"\0" + body).hexdigest()
            if len(body) > MAX_RECORDED_BODY:
                reason += f" [body of {len(body)} bytes: only the first {MAX_RECORDED_BODY} are kept here]"
                body = body[:MAX_RECORDED_BODY]
            rows.append({
                "fingerprint": fingerprint,
                "branch": _text(headers.get("x-sync-branch", ""))[:64] or None,
                "reason": reason,
                "message_id": (d.properties.message_id or "")[:255] or None,
                "properties": json.dumps(props, default=_text)[:60000],
                "body": body,
            })
        # A message dead-lettered twice (a crash before its ack) is recorded once.
        conn.execute(mysql_insert(ho_dead_letters).prefix_with("IGNORE"), rows)

    def _retry(self, publisher, dead_letter_id: int) -> None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(ho_dead_letters).where(ho_dead_letters.c.id == dead_letter_id, ho_dead_letters.c.state == "parked")
            ).first()
        if row is None:
            return
        saved = json.loads(row.properties)
        headers = {k: v for k, v in (saved.get("headers") or {}).items() if not k.startswith("x-sync-") and k != "x-death"}
        headers["x-sync-retry-of"] = dead_letter_id
        publisher.basic_publish(
            self.names.intake_exchange, INTAKE_KEY, row.body,
            pika.BasicProperties(
                content_type=saved.get("content_type"), content_encoding=saved.get("content_encoding"),
                delivery_mode=pika.DeliveryMode.Persistent, type=saved.get("type"), message_id=saved.get("message_id"),
                app_id=saved.get("app_id"), headers=headers, user_id=self._login,
            ),
            mandatory=True,
        )
        # Marked only after the broker confirmed the copy: a crash in between leaves it parked.
        with self.engine.begin() as conn:
            conn.execute(
                update(ho_dead_letters).where(ho_dead_letters.c.id == dead_letter_id)
                .values(state="retried", resolved_at=dt.datetime.now())
            )
        self.log.info("put dead letter %d back on the intake queue", dead_letter_id)

    def _broadcast_sync_request(self, publisher) -> None:
        body = protocol.encode_sync_request()
        for branch in self.cfg.branches:
            publisher.basic_publish(
                self.names.receipts_exchange, branch, body,
                pika.BasicProperties(
                    content_type=protocol.CONTENT_TYPE, content_encoding=protocol.CONTENT_ENCODING,
                    type=protocol.SYNC_REQUEST, app_id=protocol.APP_ID, expiration=SYNC_REQUEST_TTL_MS,
                ),
            )
        self.log.info("asked %d branch(es) to sync now", len(self.cfg.branches))


def _branch_hint(delivery: Delivery) -> str | None:
    headers = delivery.properties.headers or {}
    hint = headers.get("x-sync-branch")
    return _text(hint)[:64] if hint else None


def _broker_reason(headers: dict) -> str:
    deaths = headers.get("x-death") or []
    if deaths and isinstance(deaths, list) and isinstance(deaths[0], dict):
        first = deaths[0]
        return (
            f"the broker dead-lettered it from queue {_text(first.get('queue'))} "
            f"({_text(first.get('reason'))}, after {_text(first.get('count'))} time(s))"
        )
    return "dead-lettered without a reason"


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)



def discard_dead_letter(engine, dead_letter_id: int) -> bool:
    """Mark a parked dead letter as discarded by the manager; it stays on record."""
    with engine.begin() as conn:
        return bool(conn.execute(
            update(ho_dead_letters)
            .where(ho_dead_letters.c.id == dead_letter_id, ho_dead_letters.c.state == "parked")
            .values(state="discarded", resolved_at=dt.datetime.now())
        ).rowcount)

"""What the Head Office does with a group of deliveries, on its database worker thread.

For a group, in one transaction: decode and check each message, attribute it to its
real sender, park what can never be applied, apply the rest, record the branches'
reports; commit.  The session then publishes the receipts and acks.  Any exception
a message causes (a value no database can hold, a bug) is that message's fault
alone: the group is split until the one that fails is found, and it is parked with
the exception as its reason while the others are applied.  A database that does not
answer is waited for (``sync.database``), never a reason to park anything.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import pika
from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from config import HeadOfficeConfig
from models.catalogue import held_version
from models.schema import ho_branches
from sync import catalogue_feed, dead_letters, events, protocol
from sync.apply import apply_changes
from sync.backoff import Backoff
from sync.broker import Names
from sync.database import Stopping, run_waiting
from sync.failures import Failure, unexpected
from sync.head_office_days import HeadOfficeDays
from sync.protocol import ChangeBatch, Envelope, Report
from sync.senders import Sender, attributed_branch, impostor, sender_of

T = TypeVar("T")


@dataclass(frozen=True)
class Delivery:
    """One message taken from a queue (or a dead letter being retried, with no tag to ack)."""

    tag: int | None
    queue: str
    envelope: Envelope
    record: str  # the properties as JSON, for a dead letter
    body: bytes


@dataclass(frozen=True)
class Publication:
    """A message the session publishes (with a confirm) once the group is committed."""

    exchange: str
    routing_key: str
    body: bytes
    properties: pika.BasicProperties


@dataclass
class GroupOutcome:
    """What the session does once the group is committed: publish, ack, tell."""

    acks: list[int] = field(default_factory=list)
    publications: list[Publication] = field(default_factory=list)
    events: list[events.Event] = field(default_factory=list)
    over_quota: set[str] = field(default_factory=set)  # branches whose queues to pause
    within_quota: set[str] = field(default_factory=set)  # paused branches to read again
    retries: list[int] = field(default_factory=list)  # dead letters queued for a retry in the database
    # Catalogue sends to record once the broker confirmed them: (branch, version it held, up to which version).
    catalogue_sent: list[tuple[str, int, int]] = field(default_factory=list)
    catalogue_heard: bool = False  # a branch said which catalogue version it holds: check what it needs soon

    def merge(self, other: GroupOutcome) -> GroupOutcome:
        self.catalogue_sent += other.catalogue_sent
        self.catalogue_heard |= other.catalogue_heard
        self.acks += other.acks
        self.publications += other.publications
        self.events += other.events
        self.over_quota |= other.over_quota
        self.within_quota |= other.within_quota
        self.retries += other.retries
        return self


@dataclass
class _Plan:
    delivery: Delivery
    sender: Sender
    claimed: str | None = None
    batch: ChangeBatch | None = None
    message: object | None = None  # any other message a branch sends (a Report, ...), for its handler
    refusal: str | None = None  # park the message with this reason
    unread_version: bool = False  # refused for its version: a newer office wrote it
    impostor: bool = False  # it spoke for a branch other than its sender's


class HeadOfficeWork:
    """The database side of the Head Office consumer; one instance, used by one worker thread."""

    def __init__(self, cfg: HeadOfficeConfig, engine: Engine, stopping: threading.Event,
                 on_wait: Callable[[Failure], None], on_recover: Callable[[], None]):
        self.cfg, self.engine, self.stopping = cfg, engine, stopping
        self.names = Names(cfg.topology_prefix)
        self.log = logging.getLogger(f"sync.{cfg.code}")
        self._on_wait, self._on_recover = on_wait, on_recover
        self._backoff = Backoff(cfg.backoff_initial_seconds, min(cfg.backoff_max_seconds, 30))
        # What to do with each kind of message a branch sends besides its changes (applied in batches).
        self.handlers: dict[type, Callable[[Connection, object, GroupOutcome], None]] = {
            Report: self._record_report, protocol.CatalogueState: self._record_catalogue_state}
        self.days = HeadOfficeDays(self.names, self.log, self._to_branch)
        self.handlers.update(self.days.handlers())

    def _in_transaction(self, work: Callable[[Connection], T]) -> T:
        return run_waiting(self.engine, work, stopping=self.stopping, backoff=self._backoff,
                           on_wait=self._on_wait, on_recover=self._on_recover)

    # ------------------------------------------------------------ a group
    def process(self, deliveries: list[Delivery]) -> GroupOutcome:
        """Apply or park every delivery of the group; raises database.Stopping only."""
        plans = [self._plan(d) for d in deliveries]
        return self._commit_or_split(plans)

    def _commit_or_split(self, plans: list[_Plan]) -> GroupOutcome:
        try:
            return self._in_transaction(lambda conn: self._commit(conn, plans))
        except Stopping:
            raise
        except Exception as exc:  # noqa: BLE001 - one message's fault: find it, park it, apply the rest
            if len(plans) > 1:
                outcome = GroupOutcome()
                for plan in plans:
                    outcome.merge(self._commit_or_split([plan]))
                return outcome
            plan = plans[0]
            self.log.error("could not apply message %s: %s; it is parked", plan.delivery.envelope.message_id, exc)
            plan.batch, plan.message = None, None
            plan.refusal = f"the Head Office could not apply it: {unexpected(exc).detail}"
            return self._in_transaction(lambda conn: self._commit(conn, [plan]))

    def _plan(self, delivery: Delivery) -> _Plan:
        sender = sender_of(self.names, delivery.queue, delivery.envelope.publisher)
        plan = _Plan(delivery, sender)
        death = delivery.envelope.death
        if delivery.queue == self.names.dead_queue or delivery.queue.startswith(self.names.held_queue("")):
            plan.claimed = _claimed_branch(delivery)
            plan.refusal = death.sentence() if death else "it reached the dead-letter queue without a broker's reason"
            return plan
        try:
            message = protocol.decode_from_branch(delivery.body, delivery.envelope.content_encoding, self.cfg.branches)
        except Exception as exc:  # noqa: BLE001 - whatever a decoder raises, this message alone is at fault
            plan.claimed = _claimed_branch(delivery)
            plan.refusal = str(exc) if isinstance(exc, protocol.Poison) else unexpected(exc).detail
            plan.unread_version = isinstance(exc, protocol.Unsupported)
            return plan
        plan.claimed = message.branch
        plan.refusal = impostor(sender, self.cfg, message.branch)
        plan.impostor = plan.refusal is not None
        if plan.refusal is None:
            if isinstance(message, ChangeBatch):
                plan.batch = message
            else:
                plan.message = message
        return plan

    def _commit(self, conn: Connection, plans: list[_Plan], retry_of: int | None = None) -> GroupOutcome:
        """Park the refused, hand other messages to their handlers, apply the changes; returns what follows."""
        outcome = GroupOutcome(acks=[p.delivery.tag for p in plans if p.delivery.tag is not None])
        for plan in plans:
            if plan.refusal:
                self._park(conn, plan, plan.delivery.body, plan.refusal, outcome, retry_of)
            elif plan.message is not None:
                self.handlers[type(plan.message)](conn, plan.message, outcome)
        changes = [p for p in plans if p.batch is not None]
        if changes:
            self._apply(conn, changes, outcome, retry_of)
        return outcome

    def _apply(self, conn: Connection, plans: list[_Plan], outcome: GroupOutcome, retry_of: int | None) -> None:
        batches = [p.batch for p in plans if p.batch is not None]
        applied = apply_changes(conn, batches)
        replies: dict[tuple[str, int, str], tuple[list[int], list[tuple[int | None, str]]]] = defaultdict(lambda: ([], []))
        for position, (plan, batch) in enumerate(zip(plans, batches, strict=True)):
            version = min(plan.delivery.envelope.accepts, protocol.VERSION)
            applied_seqs, rejected = replies[(batch.branch, version, batch.origin)]
            why = applied.refused.get(position)
            if why:
                self._park(conn, plan, plan.delivery.body, why, outcome, retry_of)
                rejected += [(c.seq, why) for c in batch.changes] + [(s, why) for s, _r, _x in batch.rejected]
                continue
            applied_seqs += [c.seq for c in batch.changes]
            rejected += [(seq, reason) for seq, reason, _raw in batch.rejected]
            if batch.rejected:
                self._park(conn, plan, protocol.encode_rejected(batch), _refused_changes(batch), outcome)
        catalogue = held_version(conn, head_office=True) if replies else None  # said on every receipt
        for (branch, version, origin), (applied_seqs, rejected) in replies.items():
            result = applied.results.get(branch)
            alert = applied.alerts.get(branch) or _alert_of(conn, branch)
            body = protocol.encode_receipt(branch, applied_seqs, rejected, result.held if result else None, alert, version,
                                           origin)
            outcome.publications.append(Publication(self.names.receipts_exchange, branch, body,
                                                    protocol.receipt_properties(version, catalogue)))
        for branch, result in applied.results.items():
            self.log.info("applied %d change(s) from %s: %d upserted, %d deleted, %d already held",
                          len(result.seqs), branch, result.upserts, result.deletes, result.stale)
            outcome.events.append(events.RowsApplied(branch, result.upserts, result.deletes, result.stale))

    def _record_report(self, conn: Connection, report: object, outcome: GroupOutcome) -> None:
        assert isinstance(report, Report)
        conn.execute(update(ho_branches).where(ho_branches.c.code == report.branch).values(
            reported_at=dt.datetime.now(), capture_ok=report.capture_ok, capture_problem=report.capture_problem,
            pending_reported=report.pending, drain_per_minute=report.rate_per_minute,
            window_seconds=report.window_seconds))
        outcome.events.append(events.BranchReported(report.branch, report.capture_ok))

    def _record_catalogue_state(self, conn: Connection, state: object, outcome: GroupOutcome) -> None:
        assert isinstance(state, protocol.CatalogueState)
        catalogue_feed.record_state(conn, state)
        outcome.catalogue_heard = True

    # ------------------------------------------------------------ the catalogue, down to the branches
    def catalogue_check(self, confirmed: list[tuple[str, int, int]]) -> GroupOutcome:
        """Record the catalogue sends the broker confirmed, then publish what each branch needs now."""
        def check(conn: Connection) -> GroupOutcome:
            catalogue_feed.mark_sent(conn, confirmed)
            outcome = GroupOutcome()
            for sending in catalogue_feed.due(conn, list(self.cfg.branches)):
                for part, body in enumerate(sending.bodies, 1):
                    outcome.publications.append(Publication(
                        self.names.receipts_exchange, sending.branch, body,
                        protocol.catalogue_properties(sending.branch, sending.version, part)))
                outcome.catalogue_sent.append((sending.branch, sending.base, sending.version))
                self.log.info("sending %s the catalogue %s (version %d, %d message(s), %d bytes)", sending.branch,
                              "snapshot" if sending.full else f"changes after version {sending.base}", sending.version,
                              len(sending.bodies), sum(len(b) for b in sending.bodies))
            return outcome

        return self._in_transaction(check)

    def _park(self, conn: Connection, plan: _Plan, body: bytes, reason: str, outcome: GroupOutcome,
              retry_of: int | None = None) -> int:
        """Park ``body`` as a dead letter; a retried message refused whole is parked again in its own letter."""
        branch = attributed_branch(plan.sender, self.cfg, plan.claimed)
        if retry_of is not None and body is plan.delivery.body:
            if plan.impostor:
                reason += "; a message sent in another branch's name cannot be retried, only discarded"
            dead_letters.settle(conn, retry_of, applied=False, reason=f"tried again and parked again: {reason}",
                                unread_version=plan.unread_version)
            plan.refusal = reason
            letter_id = retry_of
        else:
            letter = dead_letters.Letter(plan.sender, branch, plan.claimed, reason, plan.delivery.envelope.message_id,
                                         plan.delivery.record, body, plan.unread_version and body is plan.delivery.body)
            letter_id = dead_letters.park(conn, letter)
        self.log.error("parked a message from %s as dead letter %d: %s", branch or "an unknown sender", letter_id, reason)
        outcome.events.append(events.DeadLettered(branch, reason))
        if branch and dead_letters.count_parked(conn, branch) >= self.cfg.dead_letter_quota:
            outcome.over_quota.add(branch)
        return letter_id

    # ------------------------------------------------------------ a person's retry
    def retry(self, letter_id: int) -> GroupOutcome:
        """Try a parked message again as the sender it really came from; parked again if it still fails."""
        job = self._in_transaction(lambda conn: dead_letters.retry_job(conn, letter_id))
        if job is None:
            return GroupOutcome()
        envelope = _envelope_of_record(job.properties, job.publisher)
        plan = self._plan(Delivery(None, self._retry_queue(job.queue), envelope, job.properties, job.body))

        def settle(conn: Connection) -> GroupOutcome:
            outcome = self._commit(conn, [plan], retry_of=letter_id)
            if plan.refusal is None:
                dead_letters.settle(conn, letter_id, applied=True)
            return outcome

        return self._in_transaction(settle)

    def _retry_queue(self, queue: str) -> str:
        """Where a retried message is treated as taken from: its branch's intake, or the shared one."""
        branch = self.names.branch_of_queue(queue)
        if branch is not None:
            return self.names.branch_queue(branch)
        return self.names.intake_queue

    def queued_retries(self) -> GroupOutcome:
        """Dead letters that a person (or `adopt`) queued for a retry, and questions queued for branches."""
        def queued(conn: Connection) -> GroupOutcome:
            return GroupOutcome(retries=dead_letters.queued(conn),
                                publications=self.days.due_requests(conn, list(self.cfg.branches)))
        return self._in_transaction(queued)

    def _to_branch(self, kind: str, branch: str, body: bytes) -> Publication:
        """A message to a branch's own queue (through the receipts exchange, routed by its code)."""
        return Publication(self.names.receipts_exchange, branch, body, protocol.day_request_properties(kind))

    def quota_check(self, branch: str) -> GroupOutcome:
        """Whether a paused ``branch`` has room for dead letters again (then its queues are read again)."""
        left = self._in_transaction(lambda conn: dead_letters.count_parked(conn, branch) < self.cfg.dead_letter_quota)
        return GroupOutcome(within_quota={branch} if left else set())


def _alert_of(conn: Connection, branch: str) -> str | None:
    return conn.execute(select(ho_branches.c.alert).where(ho_branches.c.code == branch)).scalar()


def _refused_changes(batch: ChangeBatch) -> str:
    reasons = "; ".join(f"seq {seq}: {why}" for seq, why, _ in batch.rejected[:5])
    more = f" (and {len(batch.rejected) - 5} more)" if len(batch.rejected) > 5 else ""
    return f"{len(batch.rejected)} of {len(batch.rejected) + len(batch.changes)} changes refused: {reasons}{more}"


def _claimed_branch(delivery: Delivery) -> str | None:
    """The branch a body names, if it can be read at all (only for the record)."""
    try:
        branch = protocol.unpack(delivery.body, delivery.envelope.content_encoding).get("branch")
    except Exception:  # noqa: BLE001 - unreadable: it claims nothing
        return None
    return branch[:64] if isinstance(branch, str) else None


def _envelope_of_record(record: str, publisher: str | None) -> Envelope:
    """The envelope of a recorded message: the publisher from the Head Office's own column."""
    try:
        saved = json.loads(record)
    except ValueError:
        saved = {}
    headers = saved.get("headers") if isinstance(saved.get("headers"), dict) else {}
    accepts = headers.get("x-sync-accepts")
    encoding = saved.get("content_encoding")
    return Envelope(content_encoding=encoding if isinstance(encoding, str) else None,
                    message_id=saved.get("message_id") if isinstance(saved.get("message_id"), str) else None,
                    publisher=publisher, accepts=accepts if isinstance(accepts, int) and 1 <= accepts <= 1000 else 1,
                    death=None)

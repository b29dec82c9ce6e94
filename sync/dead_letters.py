"""The whole life of a dead letter, and the only code that writes ``sync_dead_letters``.

    park       record a message that cannot be applied, with its reason and its real sender
    parked     list what waits for a person; count_parked how much; stored_letter and attempts_of
               one letter as recorded and its history (``sync.letter_contents`` reads what it held)
    retry_job  what a retry needs (the body and the sender as recorded, never as re-sent)
    settle     the outcome of a retry: applied, or parked again with the new reason
    discard    a person decided it is not to be applied; it stays on record
    supersede  the branch adopted a newer history: its older parked letters are closed
    queue_readable_again  after an upgrade: the letters parked for their version that this code reads

Every attempt is a row of ``sync_dead_letter_attempts``, so a letter that fails again
after a retry stays in view with its history.  A message parked twice (redelivered
after a crash, or sent again by its branch) is one letter: its fingerprint is the
queue it came from, its publisher and its body.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from models.rows import tuples
from models.schema import UNREAD_VERSION, LetterState, ho_dead_letter_attempts, ho_dead_letters
from sync.protocol import MAX_WIRE_BYTES, reads
from sync.senders import Sender

_d, _a = ho_dead_letters.c, ho_dead_letter_attempts.c
# A body larger than any real message is refused unread, and only its start is kept
# (it is not a message anyone sent to be applied, and storing it whole costs memory).
MAX_RECORDED_BODY = MAX_WIRE_BYTES
KEPT_OF_A_LARGER_BODY = 64 * 1024


@dataclass(frozen=True)
class Letter:
    """A message to park: where it came from, what it said of itself, and why it cannot be applied."""

    sender: Sender
    branch: str | None  # the branch it is attributed to (see senders.attributed_branch)
    claimed_branch: str | None
    reason: str
    message_id: str | None
    properties: str  # JSON, from protocol.record_of
    body: bytes
    unread_version: bool = False  # refused for its version: a newer office wrote it


def _outcome(unread_version: bool, otherwise: str) -> str:
    return UNREAD_VERSION if unread_version else otherwise


@dataclass(frozen=True)
class DeadLetter:
    """A parked message as a person sees it."""

    id: int
    received_at: dt.datetime
    branch: str | None
    publisher: str | None
    claimed_branch: str | None
    reason: str
    message_id: str | None
    state: str
    attempts: int


@dataclass(frozen=True)
class StoredLetter:
    """A letter as recorded, body included (for reading back what it held)."""

    id: int
    branch: str | None
    claimed_branch: str | None
    publisher: str | None
    queue: str | None
    reason: str
    properties: str
    body: bytes
    body_bytes: int  # the size it arrived with (only the start of a larger-than-any-message body is kept)


@dataclass(frozen=True)
class Attempt:
    """One step of a letter's history: parked, parked again, applied, discarded, superseded."""

    at: dt.datetime
    outcome: str
    reason: str | None


@dataclass(frozen=True)
class RetryJob:
    """What is needed to try a dead letter again, exactly as recorded (never as re-sent)."""

    id: int
    queue: str
    publisher: str | None
    properties: str
    body: bytes


def fingerprint(sender: Sender, body: bytes) -> str:
    """The same body from the same queue and login is the same letter (a redelivery, or a resend)."""
    return hashlib.sha256(f"{sender.queue}\0{sender.publisher}\0".encode() + body).hexdigest()


def park(conn: Connection, letter: Letter) -> int:
    """Record ``letter`` (once per fingerprint) and its attempt; returns its id."""
    mark = fingerprint(letter.sender, letter.body)
    held = conn.execute(select(_d.id, _d.state).where(_d.fingerprint == mark)).first()
    if held is not None:
        if held.state == LetterState.PARKED:  # parked already: a redelivery or a resend, nothing new
            return int(held.id)
        _again(conn, held.id, letter.reason, letter.unread_version)
        return int(held.id)
    body, reason = letter.body, letter.reason
    if len(body) > MAX_RECORDED_BODY:
        reason += f" [body of {len(body):,} bytes: only its first {KEPT_OF_A_LARGER_BODY:,} are kept here]"
        body = body[:KEPT_OF_A_LARGER_BODY]
    letter_id = conn.execute(insert(ho_dead_letters).values(  # type: ignore[index]
        fingerprint=mark, branch=_short(letter.branch, 64), publisher=_short(letter.sender.publisher, 255),
        queue=_short(letter.sender.queue, 255), claimed_branch=_short(letter.claimed_branch, 64), reason=reason,
        message_id=_short(letter.message_id, 255), properties=letter.properties, body=body, body_bytes=len(letter.body),
    )).inserted_primary_key[0]
    conn.execute(insert(ho_dead_letter_attempts).values(
        dead_letter_id=letter_id, outcome=_outcome(letter.unread_version, "parked"), reason=reason))
    return int(letter_id)


def _short(value: str | None, size: int) -> str | None:
    return value[:size] if value else None


def _again(conn: Connection, letter_id: int, reason: str, unread_version: bool = False) -> None:
    conn.execute(update(ho_dead_letters).where(_d.id == letter_id).values(
        state=LetterState.PARKED, reason=reason, attempts=_d.attempts + 1, resolved_at=None))
    conn.execute(insert(ho_dead_letter_attempts).values(
        dead_letter_id=letter_id, outcome=_outcome(unread_version, "parked again"), reason=reason))


def parked(engine: Engine, limit: int = 500) -> list[DeadLetter]:
    """Dead letters waiting for a person, newest first."""
    query = (select(_d.id, _d.received_at, _d.branch, _d.publisher, _d.claimed_branch, _d.reason, _d.message_id,
                    _d.state, _d.attempts)
             .where(_d.state == LetterState.PARKED).order_by(_d.id.desc()).limit(limit))
    with engine.connect() as conn:
        return [DeadLetter(*row) for row in tuples(conn.execute(query))]


def stored_letter(engine: Engine, letter_id: int) -> StoredLetter | None:
    """Letter ``letter_id`` as recorded, body included, or None when there is none."""
    query = select(_d.id, _d.branch, _d.claimed_branch, _d.publisher, _d.queue, _d.reason, _d.properties, _d.body,
                   _d.body_bytes).where(_d.id == letter_id)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return StoredLetter(int(row.id), row.branch, row.claimed_branch, row.publisher, row.queue, row.reason,
                        row.properties, bytes(row.body), int(row.body_bytes))


def attempts_of(engine: Engine, letter_id: int) -> list[Attempt]:
    """Every attempt at letter ``letter_id``, oldest first."""
    query = select(_a.at, _a.outcome, _a.reason).where(_a.dead_letter_id == letter_id).order_by(_a.id)
    with engine.connect() as conn:
        return [Attempt(*row) for row in tuples(conn.execute(query))]


def count_parked(conn: Connection, branch: str | None = None) -> int:
    query = select(func.count()).select_from(ho_dead_letters).where(_d.state == LetterState.PARKED)
    if branch is not None:
        query = query.where(_d.branch == branch)
    return int(conn.execute(query).scalar_one())


def retry_job(conn: Connection, letter_id: int) -> RetryJob | None:
    """The parked letter ``letter_id`` as recorded, or None when it is not parked."""
    row = conn.execute(select(_d.id, _d.queue, _d.publisher, _d.properties, _d.body)
                       .where(_d.id == letter_id, _d.state.in_([LetterState.PARKED, LetterState.QUEUED]))).first()
    if row is None:
        return None
    return RetryJob(int(row.id), row.queue or "", row.publisher, row.properties, bytes(row.body))


def settle(conn: Connection, letter_id: int, applied: bool, reason: str | None = None,
           unread_version: bool = False) -> None:
    """Record how a retry ended: applied (the letter is closed) or parked again with ``reason``."""
    if applied:
        conn.execute(update(ho_dead_letters).where(_d.id == letter_id).values(
            state=LetterState.RETRIED, attempts=_d.attempts + 1, resolved_at=dt.datetime.now()))
        conn.execute(insert(ho_dead_letter_attempts).values(dead_letter_id=letter_id, outcome="applied"))
    else:
        _again(conn, letter_id, reason or "parked again", unread_version)


def discard(engine: Engine, letter_id: int) -> bool:
    """Mark a parked dead letter as discarded by a person; it stays on record."""
    with engine.begin() as conn:
        done = conn.execute(update(ho_dead_letters).where(_d.id == letter_id, _d.state == LetterState.PARKED)
                            .values(state=LetterState.DISCARDED, resolved_at=dt.datetime.now())).rowcount
        if done:
            conn.execute(insert(ho_dead_letter_attempts).values(dead_letter_id=letter_id, outcome="discarded"))
    return bool(done)


def parked_of(conn: Connection, branch: str) -> list[tuple[int, bytes, str]]:
    """(id, body, properties) of a branch's parked letters, oldest first."""
    return [(int(i), bytes(b), p) for i, b, p in tuples(conn.execute(
        select(_d.id, _d.body, _d.properties).where(_d.branch == branch, _d.state == LetterState.PARKED).order_by(_d.id)))]


def queue_retries(conn: Connection, letter_ids: list[int]) -> None:
    """Ask for these letters to be tried again by whichever consumer runs (see ``queued``)."""
    for letter_id in letter_ids:
        conn.execute(update(ho_dead_letters).where(_d.id == letter_id, _d.state == LetterState.PARKED)
                     .values(state=LetterState.QUEUED))


def queued(conn: Connection, limit: int = 100) -> list[int]:
    """Letters a person (or ``adopt``) asked to try again, oldest first."""
    return list(conn.execute(select(_d.id).where(_d.state == LetterState.QUEUED).order_by(_d.id).limit(limit)).scalars())


def supersede(conn: Connection, letter_ids: list[int], why: str) -> None:
    for letter_id in letter_ids:
        conn.execute(update(ho_dead_letters).where(_d.id == letter_id).values(
            state=LetterState.SUPERSEDED, resolved_at=dt.datetime.now()))
        conn.execute(insert(ho_dead_letter_attempts).values(dead_letter_id=letter_id, outcome="superseded", reason=why))


def queue_readable_again(engine: Engine) -> int:
    """Queue for a retry every parked letter refused for its version that this code now reads; returns how many.

    Run after an upgrade (``python -m sync migrate``): the consumer then applies them,
    as their senders recorded with them, as it does any retry a person asks for.
    """
    last = (select(ho_dead_letter_attempts.c.outcome).where(_a.dead_letter_id == _d.id)
            .order_by(_a.id.desc()).limit(1).scalar_subquery())
    with engine.begin() as conn:
        waiting = tuples(conn.execute(select(_d.id, _d.body, _d.properties)
                                      .where(_d.state == LetterState.PARKED, last == UNREAD_VERSION).order_by(_d.id)))
        readable = [int(i) for i, body, properties in waiting if reads(bytes(body), _content_encoding(properties))]
        queue_retries(conn, readable)
    return len(readable)


def _content_encoding(properties: str) -> str | None:
    try:
        encoding = json.loads(properties).get("content_encoding")
    except (ValueError, AttributeError):
        return None
    return encoding if isinstance(encoding, str) else None

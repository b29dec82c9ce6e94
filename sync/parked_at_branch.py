"""The branch's side of a Head Office message it cannot read yet: keep it, and apply it once it can.

A message on the branch's queue of a version (or a type of a version) this code does
not read (``protocol.Unsupported``) is written to ``sync_parked`` and committed, and
only then acked: a newer Head Office wrote it, and this branch's next release reads
it.  Anything else that cannot be read (malformed, too large, addressed to another
branch) is still refused to the broker, which dead-letters it to the Head Office.

Each session, as it opens (the agent starting, after an upgrade or ``migrate``), and
whenever a person asks for a retry (``models.parked.ask_retry``), applies every kept
message whose type and version this code reads, through the session's own handlers,
and removes it once its handler returned (as a live message is acked once its handler
committed: a crash in between applies it again, which changes nothing).  One still
refused when read again stays, with the sentence that says why now.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import pika
from sqlalchemy.engine import Engine

from models import parked
from sync import protocol

LOOK_SECONDS = 5.0  # between two looks for a retry a person asked for

Apply = Callable[[protocol.Envelope, object], None]


class ParkedAtBranch:
    """Keeps what this branch cannot read yet, and applies it when it can, for one connected session."""

    def __init__(self, code: str, engine: Engine, apply: Apply, log: logging.Logger):
        self.code, self.engine, self.apply, self.log = code, engine, apply, log
        self._seen: str | None = None  # the retry last asked for that this session has answered
        self._next_look = 0.0

    def park(self, refusal: protocol.Unsupported, properties: pika.BasicProperties, body: bytes) -> None:
        """Keep a message of a version this code does not read, committed (the caller acks it after)."""
        parked_id = parked.park(self.engine, refusal.version, refusal.message_type, str(refusal),
                                protocol.read_envelope(properties).content_encoding,
                                protocol.headers_record(properties), body)
        self.log.warning("kept message %d from the Head Office until this branch is upgraded: %s", parked_id, refusal)

    def apply_readable(self) -> int:
        """Apply every kept message this code reads, oldest first; returns how many were applied."""
        self._seen = parked.retry_asked(self.engine)
        applied = 0
        for waiting in parked.listed(self.engine):
            if protocol.reads_type(waiting.kind, waiting.version) and self._apply_one(waiting.id):
                applied += 1
        if applied:
            self.log.info("applied %d message(s) from the Head Office kept until this branch could read them", applied)
        return applied

    def _apply_one(self, parked_id: int) -> bool:
        with self.engine.connect() as conn:
            kept = parked.kept(conn, parked_id)
        if kept is None:
            return False  # applied meanwhile (by another agent of this branch)
        content_encoding, headers, body = kept
        envelope = protocol.read_envelope(protocol.kept_properties(content_encoding, headers))
        try:
            message = protocol.decode_control(body, envelope.content_encoding, self.code)
        except protocol.Poison as exc:
            parked.still_refused(self.engine, parked_id, str(exc))
            self.log.error("message %d from the Head Office, read again, is still refused: %s", parked_id, exc)
            return False
        self.apply(envelope, message)
        parked.remove(self.engine, parked_id)
        return True

    def look(self) -> None:
        """Every few seconds: apply what waits when a person asked for a retry since this session last did."""
        if time.monotonic() < self._next_look:
            return
        self._next_look = time.monotonic() + LOOK_SECONDS
        if parked.retry_asked(self.engine) != self._seen:
            self.apply_readable()


def readable_now(waiting: Iterable[parked.Parked]) -> int:
    """How many of the kept messages ``waiting`` this code reads (the agent applies them when it starts, or on a
    retry)."""
    return sum(protocol.reads_type(p.kind, p.version) for p in waiting)


def waiting_sentence(waiting: parked.Waiting) -> str:
    """What ``status`` says of the messages kept for an upgrade, in one sentence ("" when none)."""
    if not waiting.count:
        return ""
    versions = " and ".join(str(v) for v in waiting.versions)
    one = waiting.count == 1
    return (f"{waiting.count} message{'' if one else 's'} from the Head Office wait{'s' if one else ''} for this branch "
            f"to be upgraded ({'it is' if one else 'they are'} of version{'' if len(waiting.versions) == 1 else 's'} "
            f"{versions}; this office reads versions 1 to {protocol.VERSION})")

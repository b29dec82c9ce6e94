"""The branch's messages from the Head Office that wait for an upgrade: the one module that writes ``sync_parked``.

A message of a protocol version (or a type of a version) this branch's code does not
read is kept here, committed before the broker is told it was taken, until a release
that reads it runs: its agent applies it when it starts, or when a person asks for a
retry (``ask_retry``: ``python -m sync parked --retry``), and removes it then.  What
is kept is what reading it again needs; it is never changed but for its sentence.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Connection, Engine

from models.rows import tuples
from models.schema import bo_parked, bo_state

RETRY_FACT = "parked_retry_asked"  # sync_state: when a person last asked for a retry (unix time)
_p = bo_parked.c


@dataclass(frozen=True)
class Parked:
    """One message waiting, without its body."""

    id: int
    received_at: dt.datetime
    version: int
    kind: str | None
    reason: str


@dataclass(frozen=True)
class Waiting:
    """How many messages wait and of which versions (for ``status`` and the window)."""

    count: int
    versions: tuple[int, ...] = ()


def park(engine: Engine, version: int, kind: str | None, reason: str, content_encoding: str | None, headers: str,
         body: bytes) -> int:
    """Keep a message and commit; returns its id.  Only then may the broker be told it was taken."""
    with engine.begin() as conn:
        result = conn.execute(insert(bo_parked).values(
            version=version, kind=kind[:40] if kind else None, reason=reason[:1000],
            content_encoding=content_encoding[:64] if content_encoding else None, headers=headers, body=bytes(body)))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def listed(engine: Engine) -> list[Parked]:
    """Every message waiting, oldest first."""
    with engine.connect() as conn:
        return [Parked(int(i), at, int(v), k, r) for i, at, v, k, r in tuples(conn.execute(
            select(_p.id, _p.received_at, _p.version, _p.kind, _p.reason).order_by(_p.id)))]


def waiting(engine: Engine) -> Waiting:
    """How many messages wait, and their versions."""
    with engine.connect() as conn:
        rows = list(tuples(conn.execute(select(_p.version, func.count()).group_by(_p.version).order_by(_p.version))))
    return Waiting(sum(int(n) for _v, n in rows), tuple(int(v) for v, _n in rows))


def kept(conn: Connection, parked_id: int) -> tuple[str | None, str, bytes] | None:
    """What reading a message again needs (content encoding, headers JSON, body); None once it is gone."""
    row = conn.execute(select(_p.content_encoding, _p.headers, _p.body).where(_p.id == parked_id)).first()
    return None if row is None else (row[0], row[1], bytes(row[2]))


def remove(engine: Engine, parked_id: int) -> None:
    """The message was applied (its handler committed): it waits no more."""
    with engine.begin() as conn:
        conn.execute(delete(bo_parked).where(_p.id == parked_id))


def still_refused(engine: Engine, parked_id: int, reason: str) -> None:
    """Read again, it is still refused: keep it, with the sentence that says why now."""
    with engine.begin() as conn:
        conn.execute(update(bo_parked).where(_p.id == parked_id).values(reason=reason[:1000]))


def ask_retry(engine: Engine) -> None:
    """A person asks the agent to try the messages waiting again (it looks every few seconds)."""
    with engine.begin() as conn:
        fact = mysql_insert(bo_state).values(name=RETRY_FACT, value=f"{time.time():.6f}")
        conn.execute(fact.on_duplicate_key_update(value=fact.inserted.value))


def retry_asked(engine: Engine) -> str | None:
    """When a retry was last asked for (compare it with what was seen before), or None if never."""
    with engine.connect() as conn:
        value = conn.execute(select(bo_state.c.value).where(bo_state.c.name == RETRY_FACT)).scalar()
    return None if value is None else str(value)


def discard(engine: Engine, parked_id: int) -> bool:
    """A person decided a message is never to be applied: remove it; False if no such message waits."""
    with engine.begin() as conn:
        return bool(conn.execute(delete(bo_parked).where(_p.id == parked_id)).rowcount)

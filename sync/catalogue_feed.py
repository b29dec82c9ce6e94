"""The Head Office's side of the catalogue's journey down to the branches (run by its database worker).

The Head Office keeps no message per change per branch.  It keeps, per branch, the
catalogue version the branch last said it holds (``catalogue_held``, from its
``catalogue-state`` messages) and what it last sent it (the version the branch held
then, up to which version, and when the broker confirmed it).  Every few seconds,
and whenever a branch speaks, ``due`` decides for each branch:

- it has never said what it holds (a branch of the previous release, which reads no
  catalogue; a new branch says so when it first connects), or it holds the current
  version: nothing;
- something was sent since it last spoke, from the version it still holds: wait
  (that message is in its durable queue; a branch offline for weeks has that one
  message waiting, however many changes are made meanwhile), unless the branch has
  spoken again long after it was sent without moving on (``RESEND_AFTER``; a branch
  says its version again once a day);
- otherwise: a delta from the version it holds, or a compressed snapshot when it
  holds nothing yet (new, or its database re-created: a version lower than it said
  before forgets what was sent) or is far behind.

What was sent is recorded only after the broker confirmed it (``mark_sent``, with
the next check): a crash in between sends it again, which changes nothing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from models.catalogue import held_version, items_since
from models.rows import tuples
from models.schema import ho_branches
from sync import protocol

SNAPSHOT_BEHIND = 1000  # a branch more versions behind than this gets a snapshot rather than a delta
RESEND_AFTER = dt.timedelta(minutes=5)  # a branch heard this long after a send, still where it was: send again


@dataclass(frozen=True)
class Sending:
    """Catalogue messages for one branch, and what to record once the broker confirmed them."""

    branch: str
    base: int
    version: int
    full: bool
    bodies: list[bytes]


def record_state(conn: Connection, state: protocol.CatalogueState) -> None:
    """A branch said which catalogue version it holds.

    A version lower than the one it said before is a database re-created or restored:
    what was sent to the old one counts for nothing, so the next check sends again.
    """
    before = conn.execute(select(ho_branches.c.catalogue_held).where(ho_branches.c.code == state.branch)
                          .with_for_update()).scalar()
    values: dict[str, object] = {"catalogue_held": state.version, "catalogue_heard_at": dt.datetime.now()}
    if before is not None and state.version < before:
        values.update(catalogue_sent_base=None, catalogue_sent_version=None, catalogue_sent_at=None)
    conn.execute(update(ho_branches).where(ho_branches.c.code == state.branch).values(**values))


def mark_sent(conn: Connection, sent: list[tuple[str, int, int]]) -> None:
    """Record sends the broker confirmed: (branch, the version it held, up to which version)."""
    now = dt.datetime.now()
    for branch, base, version in sent:
        conn.execute(update(ho_branches).where(ho_branches.c.code == branch).values(
            catalogue_sent_base=base, catalogue_sent_version=version, catalogue_sent_at=now))


def due(conn: Connection, branches: list[str], now: dt.datetime | None = None) -> list[Sending]:
    """What each of ``branches`` should be sent now (see the module's rules)."""
    now = now or dt.datetime.now()
    current = held_version(conn, head_office=True)
    b = ho_branches.c
    rows = tuples(conn.execute(select(b.code, b.catalogue_held, b.catalogue_heard_at, b.catalogue_sent_base,
                                      b.catalogue_sent_at).where(b.code.in_(branches)).order_by(b.code)))
    sendings = []
    for code, held, heard_at, sent_base, sent_at in rows:
        if held is None or held >= current:
            continue  # never heard (not upgraded yet: it would refuse a catalogue), or up to date
        base = held
        if sent_at is not None and sent_base == base:
            spoke_since = heard_at is not None and heard_at - sent_at > RESEND_AFTER
            if not spoke_since:
                continue  # what was sent waits in its queue
        full = base == 0 or current - base > SNAPSHOT_BEHIND
        items = items_since(conn, 0 if full else base)
        sendings.append(Sending(code, base, items.version, full, protocol.encode_catalogue(code, items, full)))
    return sendings

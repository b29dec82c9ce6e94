"""Two histories of one branch, decided by a person: the branch rejoins, the Head Office adopts.

When a branch database was restored from an older backup, copied, or re-created,
the Head Office holds one history of it and the branch now writes another; the
Head Office refuses the second (sync/apply.py) until a person decides:

1. at the branch, ``python -m sync rejoin``: the database takes a new origin and
   queues every sale it holds now, as a fresh history;
2. at the Head Office, ``python -m sync adopt --branch <code>``: the rows it held
   from the old history are set aside in ``sync_archive`` (nothing is destroyed:
   the sales the branch lost can be looked up there), the branch's rows, tombstones
   and ledger are cleared, and the parked messages of the new history are queued
   for the consumer to apply.  The Head Office then equals the branch.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import Engine

from models.schema import bo_state, ho_branches, ho_by_branch, ho_daily, ho_ledger, ho_sales, ho_tombstones
from models.shape import SALE_SHAPE
from sync import dead_letters, protocol


@dataclass(frozen=True)
class Adopted:
    branch: str
    origin: str
    archived: int
    queued: int
    superseded: int


def adopt(engine: Engine, branch: str, origin: str | None = None) -> Adopted:
    """Make the branch's newest history (or ``origin``'s) the one the Head Office holds."""
    b = ho_branches.c
    with engine.begin() as conn:
        if conn.execute(select(b.origin).where(b.code == branch).with_for_update()).first() is None:
            raise ValueError(f"branch {branch} is not registered at this Head Office")
        letters = [(letter_id, _origin_of(body, props)) for letter_id, body, props in dead_letters.parked_of(conn, branch)]
        chosen = origin or next((o for _i, o in reversed(letters) if o), None)
        if chosen is None:
            raise ValueError(f"no parked changes of a new history of {branch} are waiting; run `python -m sync rejoin` at "
                             "the branch first (or pass --origin)")
        names = SALE_SHAPE.column_list()
        archived = conn.execute(text(
            f"INSERT INTO sync_archive (branch, origin, branch_sale_id, {names}, version, reason) "
            f"SELECT s.branch, br.origin, s.branch_sale_id, {SALE_SHAPE.column_list('s.')}, s.version, :reason "
            "FROM sales s JOIN sync_branches br ON br.code = s.branch WHERE s.branch = :b"),
            {"b": branch, "reason": f"history replaced on {dt.date.today():%Y-%m-%d} by {chosen}"}).rowcount
        for table in (ho_sales, ho_daily, ho_by_branch, ho_tombstones, ho_ledger):  # the daily sums go with the rows
            conn.execute(delete(table).where(table.c.branch == branch))
        conn.execute(update(ho_branches).where(b.code == branch).values(
            origin=chosen, alert=None, last_seq=0, high_water=0, high_water_at_ms=0, sales_held=0))
        mine = [i for i, o in letters if o == chosen]
        others = [i for i, o in letters if o != chosen]
        dead_letters.queue_retries(conn, mine)
        dead_letters.supersede(conn, others, f"branch {branch} adopted history {chosen}")
    return Adopted(branch, chosen, archived, len(mine), len(others))


def _origin_of(body: bytes, properties: str) -> str | None:
    import json

    try:
        encoding = json.loads(properties).get("content_encoding")
        obj = protocol.unpack(body, encoding if isinstance(encoding, str) else None)
    except Exception:  # noqa: BLE001 - unreadable: no history of anyone's
        return None
    origin = obj.get("origin") if obj.get("type") == protocol.CHANGES else None
    return origin if isinstance(origin, str) else None


@dataclass(frozen=True)
class Rejoined:
    origin: str
    queued: int
    cleared: int


def rejoin(engine: Engine) -> Rejoined:
    """Give this branch database a new history: a new origin, and every sale it holds queued."""
    origin = str(uuid.uuid4())
    names = SALE_SHAPE.column_list()
    with engine.begin() as conn:
        conn.execute(update(bo_state).where(bo_state.c.name == "origin").values(value=origin))
        conn.execute(delete(bo_state).where(bo_state.c.name.in_(["ho_held", "ho_alert"])))
        cleared = conn.execute(text("DELETE FROM sync_outbox")).rowcount
        queued = conn.execute(text(f"INSERT INTO sync_outbox (sale_id, op, {names}) "
                                   f"SELECT id, 'u', {names} FROM sales ORDER BY id")).rowcount
    return Rejoined(origin, queued, cleared)

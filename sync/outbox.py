"""The branch side of the database: reading captured changes and recording their fate.

States only move forward (pending -> sent -> applied, or rejected), so a late
confirm or a duplicate receipt can never move a change backwards.  What the Head
Office last said of this database (its alert, the highest seq it holds from it)
is kept in ``sync_state``: a Head Office that holds more than this database ever
wrote means the database was restored from an older backup.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, func, or_, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Connection, Engine, Row

from models.rows import tuples
from models.schema import OutboxState, bo_outbox, bo_state
from models.shape import SALE_SHAPE, RowShape
from sync.protocol import Receipt

_o = bo_outbox.c
# SQLAlchemy renders the upsert for the server: VALUES(value) for MariaDB, a row alias
# for MySQL 8.0.20 and later, which deprecates VALUES() (tests/test_sql_portability.py).
_state_row = mysql_insert(bo_state)
_SET_STATE = _state_row.on_duplicate_key_update(value=_state_row.inserted.value)

# A change as it goes on the wire: the date and the money as the server's text
# ('2021-04-29', '945.35': a DECIMAL's text keeps its scale), which is exactly what
# the message carries: no date or Decimal objects are built only to be written back.
def wire_columns(outbox: Table, shape: RowShape = SALE_SHAPE) -> list[ColumnElement[Any]]:
    """What a change is read as from an outbox of ``shape``: seq, sale, op, then the shape's columns."""
    return [outbox.c.seq, outbox.c.sale_id, outbox.c.op, *shape.wire_select(outbox)]


_WIRE_COLUMNS = wire_columns(bo_outbox)


@dataclass(frozen=True)
class OutboxCounts:
    pending: int
    sent: int
    applied: int
    rejected: int
    last_sync: dt.datetime | None


class Outbox:
    """Reads and updates ``sync_outbox`` and ``sync_state`` of one branch database."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def origin(self) -> str:
        """The id of this database's history, created with the schema (read each time: `rejoin` changes it)."""
        origin = self.fact("origin")
        if origin is None:
            raise LookupError("this branch database has no origin; run `python -m sync init-db`")
        return origin

    def fact(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(bo_state.c.value).where(bo_state.c.name == name)).scalar()

    def pending_batch(self, limit: int, after_seq: int = 0) -> list[Row[Any]]:
        """Up to ``limit`` pending changes with seq above ``after_seq``, in seq order.

        Reads by state rather than by a high-water mark: a change whose transaction
        committed late, with a lower seq, is still found on the next pass.
        """
        query = (select(*_WIRE_COLUMNS).where(_o.state == OutboxState.PENDING, _o.seq > after_seq)
                 .order_by(_o.seq).limit(limit))
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    def unconfirmed_batch(self, sent_before: dt.datetime, limit: int, after_seq: int = 0) -> list[Row[Any]]:
        """Changes sent before ``sent_before`` and never receipted, to send again."""
        query = (select(*_WIRE_COLUMNS)
                 .where(_o.state == OutboxState.SENT, _o.seq > after_seq, _o.sent_at < sent_before)
                 .order_by(_o.seq).limit(limit))
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    def high_water(self) -> int:
        """The highest seq this database has handed out so far (0 when none)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(_o.seq), 0))).scalar_one())

    def awaiting_receipts(self) -> bool:
        """Whether any change was sent and not yet receipted (one index probe)."""
        with self.engine.connect() as conn:
            return conn.execute(select(_o.seq).where(_o.state == OutboxState.SENT).limit(1)).first() is not None

    def pending_at_least(self, n: int) -> bool:
        """Whether ``n`` or more changes are pending (reads at most n index entries)."""
        query = select(_o.seq).where(_o.state == OutboxState.PENDING).order_by(_o.seq).limit(1).offset(n - 1)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def count_pending(self) -> int:
        return self.count_state(OutboxState.PENDING)

    def count_state(self, state: OutboxState) -> int:
        """How many changes are in ``state`` (a range of the state index)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(bo_outbox).where(_o.state == state)).scalar_one())

    def mark_sent(self, seqs: list[int]) -> None:
        """Record that the broker confirmed these changes (explicit seqs, never a range)."""
        if not seqs:
            return
        now = dt.datetime.now()
        with self.engine.begin() as conn:
            conn.execute(update(bo_outbox).where(_o.seq.in_(bindparam("seqs", expanding=True)),
                                                 _o.state <= OutboxState.SENT)
                         .values(state=OutboxState.SENT, sent_at=now), {"seqs": seqs})
            _set_fact(conn, "last_sync_at", now.isoformat(sep=" ", timespec="seconds"))

    def record_receipt(self, receipt: Receipt) -> int:
        """Record a Head Office receipt; returns how many changes moved to applied."""
        moved = 0
        now = dt.datetime.now()
        with self.engine.begin() as conn:
            if receipt.applied:
                # Applied is final, even over an earlier refusal: a person may have retried it at the Head Office.
                moved = conn.execute(
                    update(bo_outbox).where(or_(*[_o.seq.between(a, b) for a, b in receipt.applied]),
                                            _o.state != OutboxState.APPLIED)
                    .values(state=OutboxState.APPLIED, applied_at=now)).rowcount
            for seq, reason in receipt.rejected:
                conn.execute(update(bo_outbox).where(_o.seq == seq, _o.state < OutboxState.APPLIED)
                             .values(state=OutboxState.REJECTED, applied_at=now, note=reason[:255]))
            _set_fact(conn, "last_sync_at", now.isoformat(sep=" ", timespec="seconds"))
            if receipt.version >= 2:
                _set_fact(conn, "ho_version", str(receipt.version))
                _set_fact(conn, "ho_alert", receipt.alert or "")
                if receipt.held is not None:
                    _set_fact(conn, "ho_held", str(receipt.held))
        return moved

    def drain_rate(self) -> int | None:
        """Changes per minute this branch last measured sending while it drained a backlog (None: never)."""
        value = self.fact("drain_per_minute")
        return int(value) if value else None

    def record_drain_rate(self, per_minute: int) -> None:
        """Keep a pass's measured pace, averaged with the last one (kept across restarts: the next window needs it)."""
        last = self.drain_rate()
        with self.engine.begin() as conn:
            _set_fact(conn, "drain_per_minute", str(per_minute if last is None else (last + per_minute + 1) // 2))

    def history_problem(self) -> str | None:
        """Why this database's history is not the one the Head Office holds, in words, or None."""
        with self.engine.connect() as conn:
            facts: dict[str, str | None] = dict(tuples(conn.execute(select(bo_state.c.name, bo_state.c.value)
                                      .where(bo_state.c.name.in_(["ho_alert", "ho_held"])))))
            written = int(conn.execute(select(func.coalesce(func.max(_o.seq), 0))).scalar_one())
        if facts.get("ho_alert"):
            return f"The Head Office holds this branch back: {facts['ho_alert']}"
        held = int(facts.get("ho_held") or 0)
        if held > written:
            return (f"The Head Office holds changes up to number {held} from this database, but it has written only "
                    f"up to {written}: two histories of this branch exist (the database was restored from an older "
                    "backup). Nothing is lost at the Head Office; see docs/OPERATIONS.md, 'A branch database replaced or restored'.")
        return None

    def refused(self) -> list[tuple[int, str]]:
        """(sale, reason) for each sale whose latest change the Head Office refused."""
        latest = select(_o.sale_id, func.max(_o.seq).label("seq")).group_by(_o.sale_id).subquery()
        query = (select(_o.sale_id, _o.note).join(latest, latest.c.seq == _o.seq)
                 .where(_o.state == OutboxState.REJECTED).order_by(_o.sale_id))
        with self.engine.connect() as conn:
            return [(int(s), n or "") for s, n in tuples(conn.execute(query))]

    def counts(self) -> OutboxCounts:
        with self.engine.connect() as conn:
            by_state = tuples(conn.execute(select(_o.state, func.count()).group_by(_o.state)))
            rows: dict[int, int] = {int(state): int(n) for state, n in by_state}
            last = conn.execute(select(bo_state.c.value).where(bo_state.c.name == "last_sync_at")).scalar()
        return OutboxCounts(
            pending=rows.get(OutboxState.PENDING, 0), sent=rows.get(OutboxState.SENT, 0),
            applied=rows.get(OutboxState.APPLIED, 0), rejected=rows.get(OutboxState.REJECTED, 0),
            last_sync=dt.datetime.fromisoformat(last) if last else None,
        )


def _set_fact(conn: Connection, name: str, value: str) -> None:
    conn.execute(_SET_STATE, {"name": name, "value": value[:1000]})

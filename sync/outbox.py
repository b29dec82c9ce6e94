"""The branch side of the database: reading captured changes and recording their fate.

States only move forward (pending 0 -> sent 1 -> applied 2, or rejected 3), so
a late confirm or a duplicate receipt can never move a change backwards.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import String, bindparam, cast, func, or_, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Engine

from models.schema import APPLIED, PENDING, REJECTED, SENT, bo_outbox, bo_state

_o = bo_outbox.c
# SQLAlchemy renders the upsert for the server: VALUES(value) for MariaDB, a row alias
# for MySQL 8.0.20 and later, which deprecates VALUES() (tests/test_sql_portability.py).
_state_row = mysql_insert(bo_state)
_SET_STATE = _state_row.on_duplicate_key_update(value=_state_row.inserted.value)

# A change as it goes on the wire.  The date and the money come as the server's text
# ('2021-04-29', '945.35': a DECIMAL's text keeps its scale), which is exactly what
# the message carries: no date or Decimal objects are built only to be written back.
_WIRE_COLUMNS = (
    _o.seq, _o.sale_id, _o.op, cast(_o.sale_date, String).label("sale_date"), _o.region, _o.product, _o.qty,
    *(cast(column, String).label(column.name) for column in (_o.cost, _o.amt, _o.tax, _o.total)),
)


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
        self._origin: str | None = None

    def origin(self) -> str:
        """The id of this database's history, created with the schema."""
        if self._origin is None:
            with self.engine.connect() as conn:
                self._origin = conn.execute(select(bo_state.c.value).where(bo_state.c.name == "origin")).scalar_one()
        return self._origin

    def pending_batch(self, limit: int, after_seq: int = 0) -> list:
        """Up to ``limit`` pending changes with seq above ``after_seq``, in seq order.

        Reads by state rather than by a high-water mark: a change whose transaction
        committed late, with a lower seq, is still found on the next pass.
        """
        query = (
            select(*_WIRE_COLUMNS)
            .where(_o.state == PENDING, _o.seq > after_seq)
            .order_by(_o.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).all()

    def unconfirmed_batch(self, sent_before: dt.datetime, limit: int, after_seq: int = 0) -> list:
        """Changes sent before ``sent_before`` and never receipted, to send again."""
        query = (
            select(*_WIRE_COLUMNS)
            .where(_o.state == SENT, _o.seq > after_seq, _o.sent_at < sent_before)
            .order_by(_o.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).all()

    def high_water(self) -> int:
        """The highest seq this database has handed out so far (0 when none)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.coalesce(func.max(_o.seq), 0))).scalar_one()

    def awaiting_receipts(self) -> bool:
        """Whether any change was sent and not yet receipted (one index probe)."""
        with self.engine.connect() as conn:
            return conn.execute(select(_o.seq).where(_o.state == SENT).limit(1)).first() is not None

    def pending_at_least(self, n: int) -> bool:
        """Whether ``n`` or more changes are pending (reads at most n index entries)."""
        query = select(_o.seq).where(_o.state == PENDING).order_by(_o.seq).limit(1).offset(n - 1)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def count_pending(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(bo_outbox).where(_o.state == PENDING)).scalar_one()

    def mark_sent(self, seqs: list[int]) -> None:
        """Record that the broker confirmed these changes (explicit seqs, never a range)."""
        if not seqs:
            return
        now = dt.datetime.now()
        with self.engine.begin() as conn:
            conn.execute(
                update(bo_outbox)
                .where(_o.seq.in_(bindparam("seqs", expanding=True)), _o.state <= SENT)
                .values(state=SENT, sent_at=now),
                {"seqs": seqs},
            )
            self._set_state(conn, "last_sync_at", now.isoformat(sep=" ", timespec="seconds"))

    def mark_applied(self, ranges: list[tuple[int, int]], rejected: list[tuple[int, str]]) -> int:
        """Record a Head Office receipt; returns how many changes moved to applied."""
        moved = 0
        now = dt.datetime.now()
        with self.engine.begin() as conn:
            if ranges:
                moved = conn.execute(
                    update(bo_outbox)
                    .where(or_(*[_o.seq.between(a, b) for a, b in ranges]), _o.state < APPLIED)
                    .values(state=APPLIED, applied_at=now)
                ).rowcount
            for seq, reason in rejected:
                conn.execute(
                    update(bo_outbox)
                    .where(_o.seq == seq, _o.state < APPLIED)
                    .values(state=REJECTED, applied_at=now, note=reason[:255])
                )
            self._set_state(conn, "last_sync_at", now.isoformat(sep=" ", timespec="seconds"))
        return moved

    def counts(self) -> OutboxCounts:
        with self.engine.connect() as conn:
            rows = dict(conn.execute(select(_o.state, func.count()).group_by(_o.state)).all())
            last = conn.execute(select(bo_state.c.value).where(bo_state.c.name == "last_sync_at")).scalar()
        return OutboxCounts(
            pending=rows.get(PENDING, 0), sent=rows.get(SENT, 0), applied=rows.get(APPLIED, 0),
            rejected=rows.get(REJECTED, 0),
            last_sync=dt.datetime.fromisoformat(last) if last else None,
        )

    @staticmethod
    def _set_state(conn, name: str, value: str) -> None:
        conn.execute(_SET_STATE, {"name": name, "value": value})

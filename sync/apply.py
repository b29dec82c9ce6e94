"""apply_changes: the Head Office side of the database, where a batch becomes rows.

Each branch row carries a version: the branch outbox seq of the change that
produced it.  A change is applied only if its seq is newer than both the row's
version and any tombstone's, so delivering any message any number of times, in
any order, leaves the Head Office the same.  Applies of one branch are serialised
by locking that branch's ``sync_branches`` row, which also makes the
read-then-write below safe with several consumer processes.

The daily sums (``sales_daily``) and the branch's row count change in the same
transaction as the rows: each row written or deleted moves its old contribution
out and its new one in (models/daily.py), in one upsert per batch.

History continuity: every change received is entered in ``sync_ledger`` by branch
and seq with a digest of its contents.  A seq that comes back with other contents
can only come from a second history of the branch's database (restored from a
backup, or copied); whatever the clocks, the order of arrival or the number of
consumers, that message is refused, the branch gets an alert, and nothing more of
it is applied until a person adopts one history (``python -m sync adopt``).
A seq far beyond the highest one held is refused too: no real branch jumps so far.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, literal_column, select, update
from sqlalchemy.dialects.mysql import Insert
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.elements import ColumnElement

from models import daily as daily_sums
from models.rows import first, tuples
from models.schema import ho_branches, ho_by_branch, ho_daily, ho_ledger, ho_sales, ho_tombstones
from models.shape import SALE_SHAPE, RowShape
from sync.protocol import Change, ChangeBatch

MAX_JUMP = 2**32  # how far past the highest seq held a branch may reach in one message
# A literal, not func.now(6): a bound parameter in the ON DUPLICATE KEY UPDATE tail
# would stop PyMySQL from folding executemany into multi-row INSERTs.
NOW: ColumnElement[Any] = literal_column("CURRENT_TIMESTAMP(6)")
TWO_HISTORIES = "two histories"  # in every reason that raises a branch's alert
SEE = "see docs/OPERATIONS.md, 'A branch database replaced or restored'"


@dataclass(frozen=True, eq=False)
class Target:
    """Where changes are applied: the Head Office's tables, for a row shape."""

    shape: RowShape
    sales: Table
    tombstones: Table
    ledger: Table
    branches: Table
    daily: Table | None = None      # None only where a benchmark measures the apply without the sums
    by_branch: Table | None = None

    @classmethod
    def of(cls, shape: RowShape, tables: dict[str, Table]) -> Target:
        return cls(shape, tables["sales"], tables["sync_tombstones"], tables["sync_ledger"], tables["sync_branches"],
                   tables.get("sales_daily"), tables.get("sales_by_branch"))

    @functools.cached_property
    def upsert(self) -> Insert:
        stmt = mysql_insert(self.sales)
        return stmt.on_duplicate_key_update(
            **{name: stmt.inserted[name] for name in (*self.shape.names, "version")}, applied_at=NOW)

    @functools.cached_property
    def tombstone(self) -> Insert:
        stmt = mysql_insert(self.tombstones)
        return stmt.on_duplicate_key_update(version=stmt.inserted.version, deleted_at=NOW)

    @functools.cache  # noqa: B019 - a handful of targets live for the whole process
    def driver_sql(self, dialect: Dialect) -> tuple[str, str]:
        """The upsert and the ledger insert compiled once for the connection's dialect (PyMySQL's named parameters)."""
        upsert = self.upsert.compile(dialect=dialect, column_keys=["branch", "branch_sale_id", "version", *self.shape.names])
        ledger = mysql_insert(self.ledger).compile(dialect=dialect, column_keys=["branch", "seq", "digest"])
        return str(upsert), str(ledger)

    @functools.cache  # noqa: B019 - as driver_sql
    def sums_sql(self, dialect: Dialect) -> tuple[str, str]:
        """The delta upserts of sales_daily and sales_by_branch, compiled for the driver."""
        assert self.daily is not None and self.by_branch is not None
        return daily_sums.upsert_sql(self.daily, dialect), daily_sums.upsert_sql(self.by_branch, dialect)


HEAD_OFFICE = Target(SALE_SHAPE, ho_sales, ho_tombstones, ho_ledger, ho_branches, ho_daily, ho_by_branch)
UPSERT = HEAD_OFFICE.upsert
DAILY_UPSERT = daily_sums.upsert(ho_daily)


@dataclass
class BranchResult:
    """What one branch's changes in a group did; ``seqs`` are all settled (applied or stale)."""

    branch: str
    seqs: list[int] = field(default_factory=list)
    upserts: int = 0
    deletes: int = 0
    stale: int = 0
    held: int = 0  # the highest seq the Head Office now holds from this branch


@dataclass
class Outcome:
    """What a group of batches did: per branch, and the batches refused whole (by their position)."""

    results: dict[str, BranchResult] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)  # position in the batches given -> reason
    alerts: dict[str, str] = field(default_factory=dict)  # alerts raised by this group


def apply_changes(conn: Connection, batches: Sequence[ChangeBatch], target: Target = HEAD_OFFICE) -> Outcome:
    """Apply decoded batches inside the caller's transaction.

    The caller commits, then sends receipts, then acks: never the other way round.
    """
    by_branch: dict[str, list[int]] = {}
    for position, batch in enumerate(batches):
        by_branch.setdefault(batch.branch, []).append(position)
    outcome = Outcome()
    for branch in sorted(by_branch):  # one lock order for every consumer: no deadlock cycles
        _Branch(conn, target, branch, outcome).apply({p: batches[p] for p in by_branch[branch]})
    return outcome


def newest_per_sale(batches: Sequence[ChangeBatch]) -> tuple[dict[int, Change], list[int]]:
    """The newest change of each sale among ``batches``, and every seq they carry."""
    latest: dict[int, Change] = {}
    seqs = []
    for batch in batches:
        for change in batch.changes:
            seqs.append(change.seq)
            if change.sale_id not in latest or change.seq > latest[change.sale_id].seq:
                latest[change.sale_id] = change
    return latest, seqs


def to_write(latest: dict[int, Change], versions: dict[int, int], tombstones: dict[int, int]) -> tuple[list[Change], list[Change]]:
    """The rule of the Head Office: a change is written only if it is newer than the row and any tombstone.

    ``versions`` and ``tombstones`` map a sale to the seq of the row and of the delete
    held.  Returns (upserts, deletes); the rest are stale (already held, or older).
    """
    upserts: list[Change] = []
    deletes: list[Change] = []
    for sale_id, change in latest.items():
        if change.seq > max(versions.get(sale_id, 0), tombstones.get(sale_id, 0)):
            (deletes if change.is_delete else upserts).append(change)
    return upserts, deletes


class _Branch:
    """One branch's part of a group: its lock, history checks, rows and ledger entries."""

    def __init__(self, conn: Connection, target: Target, branch: str, outcome: Outcome):
        self.conn, self.target, self.branch, self.outcome = conn, target, branch, outcome
        self.entries: dict[int, int] = {}  # seq -> digest of what this group accepts

    def apply(self, batches: dict[int, ChangeBatch]) -> None:
        b = self.target.branches.c
        row = first(self.conn.execute(select(b.origin, b.high_water, b.alert).where(b.code == self.branch).with_for_update()))
        if row is None:
            self.outcome.refused.update({p: f"branch {self.branch!r} is not registered at the Head Office" for p in batches})
            return
        origin, high_water, alert = row
        l_ = self.target.ledger.c
        held: int = self.conn.execute(select(func.coalesce(func.max(l_.seq), 0)).where(l_.branch == self.branch)).scalar_one()
        accepted: list[ChangeBatch] = []
        for position, batch in batches.items():
            reason = self._refusal(batch, origin, held, alert)
            if reason and TWO_HISTORIES in reason and not alert:
                alert = self._raise_alert(reason)
            if reason:
                self.outcome.refused[position] = reason
                continue
            origin = origin or batch.origin
            accepted.append(batch)
            high_water = max(high_water, batch.high_water)
        if not accepted:
            return
        if self.entries:  # straight to the driver, as the upsert (see _write)
            ledger_sql = self.target.driver_sql(self.conn.dialect)[1]
            self.conn.exec_driver_sql(ledger_sql, [{"branch": self.branch, "seq": s, "digest": d} for s, d in self.entries.items()])
        result = self._write(accepted)
        result.held = max([held, *self.entries])
        self.outcome.results[self.branch] = result
        self.conn.execute(update(self.target.branches).where(b.code == self.branch).values(
            origin=origin, high_water=high_water, high_water_at_ms=max(x.built_at_ms for x in accepted)))

    def _refusal(self, batch: ChangeBatch, origin: str | None, held: int, alert: str | None) -> str | None:
        if alert:
            return f"nothing from branch {self.branch} is applied until a person decides: {alert}"
        if origin is not None and batch.origin != origin:
            return (f"branch {self.branch} sent changes from database {batch.origin}, but the Head Office holds its history "
                    f"from database {origin}: {TWO_HISTORIES} of this branch exist (the branch database was re-created or "
                    f"replaced), so nothing was applied; {SEE}")
        return self._ledger_problem(batch, held)

    def _raise_alert(self, reason: str) -> str:
        # Shown by `sync status`, both windows, and every receipt, until an operator adopts a history.
        b = self.target.branches.c
        self.conn.execute(update(self.target.branches).where(b.code == self.branch).values(alert=reason[:1000]))
        self.outcome.alerts[self.branch] = reason
        return reason

    def _ledger_problem(self, batch: ChangeBatch, held: int) -> str | None:
        """Why ``batch`` cannot be part of the history held, or None; records its new entries."""
        seqs = [c.seq for c in batch.changes] + [s for s, _r, _raw in batch.rejected if s is not None]
        if not seqs:
            return None
        if max(seqs) > max(held, *self.entries, 0) + MAX_JUMP:
            return (f"seq {max(seqs)} jumps more than {MAX_JUMP:,} past the highest change held from branch {self.branch} "
                    f"({held}); no branch sends so far ahead, so nothing of this message was applied")
        known = self._known(seqs)
        known.update(self.entries)
        mine = {c.seq: self.target.shape.digest(c.seq, c.sale_id, c.values) for c in batch.changes}
        clash = next((seq for seq, digest in mine.items() if seq in known and known[seq] != digest), None)
        if clash is not None:
            return (f"branch {self.branch} sent change {clash} with other contents than the change {clash} the Head Office "
                    f"already holds from it: {TWO_HISTORIES} of this branch database exist (it was restored from a backup, "
                    f"or copied), so nothing more from it is applied until a person decides; {SEE}")
        self.entries.update({seq: digest for seq, digest in mine.items() if seq not in known})
        return None

    def _known(self, seqs: list[int]) -> dict[int, int]:
        l_ = self.target.ledger.c
        if max(seqs) - min(seqs) < 4 * len(seqs):  # the usual run of consecutive seqs: one range
            within = l_.seq.between(min(seqs), max(seqs))
        else:  # scattered seqs: ask for exactly these, never for everything in between
            within = l_.seq.in_(bindparam("seqs", expanding=True, literal_execute=True))
        rows = self.conn.execute(select(l_.seq, l_.digest).where(l_.branch == self.branch, within), {"seqs": seqs})
        return {int(s): int(d) for s, d in tuples(rows)}

    def _versions(self, table: Table, ids: list[int]) -> dict[int, int]:
        return {k: v for k, (v, _old) in self._held(table, ids, ()).items()}

    def _held(self, table: Table, ids: list[int], columns: tuple[str, ...]) -> dict[int, tuple[int, dict[str, Any]]]:
        """The version (and ``columns``) held of each of the branch's ``ids`` in ``table``."""
        if not ids:
            return {}
        # Whole numbers rendered inline: thousands of bound parameters cost more to bind than to read.
        query = select(table.c.branch_sale_id, table.c.version, *[table.c[n] for n in columns]).where(
            table.c.branch == self.branch,
            table.c.branch_sale_id.in_(bindparam("ids", expanding=True, literal_execute=True)))
        return {int(k): (int(v), dict(zip(columns, rest, strict=True)))
                for k, v, *rest in tuples(self.conn.execute(query, {"ids": ids}))}

    def _write(self, batches: list[ChangeBatch]) -> BranchResult:
        result = BranchResult(self.branch)
        latest, result.seqs = newest_per_sale(batches)
        held = self._held(self.target.sales, list(latest), daily_sums.OLD_COLUMNS if self.target.daily is not None else ())
        current = {k: v for k, (v, _old) in held.items()}
        tombs = self._versions(self.target.tombstones, list(latest))
        upserts, deletes = to_write(latest, current, tombs)
        result.stale = len(result.seqs) - len(upserts) - len(deletes)
        self._upsert([{"branch": self.branch, "branch_sale_id": c.sale_id, "version": c.seq, **(c.values or {})}
                      for c in upserts], tombs)
        self._delete([{"branch": self.branch, "branch_sale_id": c.sale_id, "version": c.seq} for c in deletes], current)
        moved = self._move_daily_sums(upserts, deletes, held)
        result.upserts, result.deletes = len(upserts), len(deletes)
        if result.seqs:
            b = self.target.branches.c
            self.conn.execute(update(self.target.branches).where(b.code == self.branch).values(
                last_seq=func.greatest(b.last_seq, max(result.seqs)),
                changes_applied=b.changes_applied + len(upserts) + len(deletes), last_applied_at=NOW,
                sales_held=b.sales_held + moved))
        return result

    def _move_daily_sums(self, upserts: list[Change], deletes: list[Change],
                         held: dict[int, tuple[int, dict[str, Any]]]) -> int:
        """Move each written row's contribution in ``sales_daily`` and ``sales_by_branch`` (one statement each);
        returns the rows added less removed."""
        if self.target.daily is None or self.target.by_branch is None:
            return 0
        deltas = daily_sums.DailyDeltas(self.branch)
        for change in upserts:
            if change.sale_id in held:
                deltas.add(held[change.sale_id][1], -1)
            deltas.add(change.values or {}, +1)
        for change in deletes:
            if change.sale_id in held:
                deltas.add(held[change.sale_id][1], -1)
        rows = deltas.rows()
        if rows:  # straight to the driver, as the upsert: one multi-row INSERT
            daily_sql, by_branch_sql = self.target.sums_sql(self.conn.dialect)
            self.conn.exec_driver_sql(daily_sql, rows)
            branch_row = deltas.branch_row()
            if branch_row:
                self.conn.exec_driver_sql(by_branch_sql, [branch_row])
        return deltas.held

    def _upsert(self, upserts: list[dict[str, Any]], tombs: dict[int, int]) -> None:
        if not upserts:
            return
        # Straight to the driver: SQLAlchemy's per-row parameter processing cost more than the insert.
        self.conn.exec_driver_sql(self.target.driver_sql(self.conn.dialect)[0], upserts)
        revived = [u["branch_sale_id"] for u in upserts if u["branch_sale_id"] in tombs]
        if revived:
            t = self.target.tombstones.c
            self.conn.execute(delete(self.target.tombstones).where(
                t.branch == self.branch, t.branch_sale_id.in_(bindparam("ids", expanding=True))), {"ids": revived})

    def _delete(self, deletes: list[dict[str, Any]], current: dict[int, int]) -> None:
        if not deletes:
            return
        gone = [d["branch_sale_id"] for d in deletes if d["branch_sale_id"] in current]
        if gone:
            s = self.target.sales.c
            self.conn.execute(delete(self.target.sales).where(
                s.branch == self.branch, s.branch_sale_id.in_(bindparam("ids", expanding=True))), {"ids": gone})
        self.conn.execute(self.target.tombstone, deletes)

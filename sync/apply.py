"""apply_changes: the Head Office side of the database, where a batch becomes rows.

Each branch row carries a version: the branch outbox seq of the change that
produced it.  A change is applied only if its seq is newer than both the row's
version and any tombstone's, so delivering any message any number of times, in
any order, leaves the Head Office the same.  Applies of one branch are serialised
by locking that branch's ``sync_branches`` row, which also makes the
read-then-write below safe with several consumer processes.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, func, literal_column, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Connection

from models.sale import FIELDS
from models.schema import ho_branches, ho_sales, ho_tombstones
from sync.protocol import ChangeBatch

_s, _t, _b = ho_sales.c, ho_tombstones.c, ho_branches.c

# A literal, not func.now(6): a bound parameter in the ON DUPLICATE KEY UPDATE tail
# would stop PyMySQL from folding executemany into multi-row INSERTs.
NOW = literal_column("CURRENT_TIMESTAMP(6)")
_upsert = mysql_insert(ho_sales)
UPSERT = _upsert.on_duplicate_key_update(
    sale_date=_upsert.inserted.sale_date,
    region=_upsert.inserted.region,
    product=_upsert.inserted.product,
    qty=_upsert.inserted.qty,
    cost=_upsert.inserted.cost,
    amt=_upsert.inserted.amt,
    tax=_upsert.inserted.tax,
    total=_upsert.inserted.total,
    version=_upsert.inserted.version,
    applied_at=NOW,
)
_tomb = mysql_insert(ho_tombstones)
TOMBSTONE = _tomb.on_duplicate_key_update(version=_tomb.inserted.version, deleted_at=NOW)


@functools.cache
def _driver_upsert(dialect) -> str:
    """UPSERT compiled once for the connection's dialect (PyMySQL's named parameters)."""
    return str(UPSERT.compile(dialect=dialect, column_keys=["branch", "branch_sale_id", "version", *FIELDS]))


@dataclass
class BranchResult:
    """What one branch's changes in a group did; ``seqs`` are all settled (applied or stale)."""

    branch: str
    seqs: list[int] = field(default_factory=list)
    upserts: int = 0
    deletes: int = 0
    stale: int = 0


def _versions(conn: Connection, table, branch: str, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    # Whole numbers rendered inline: thousands of bound parameters cost more to bind than to read.
    query = select(table.c.branch_sale_id, table.c.version).where(
        table.c.branch == branch, table.c.branch_sale_id.in_(bindparam("ids", expanding=True, literal_execute=True))
    )
    return dict(conn.execute(query, {"ids": ids}).all())


def apply_changes(
    conn: Connection, batches: list[ChangeBatch], clock_slack_ms: int = 120_000
) -> tuple[dict[str, BranchResult], list[tuple[ChangeBatch, str]]]:
    """Apply decoded batches inside the caller's transaction.

    ``clock_slack_ms`` is how far a branch clock may step back (an NTP correction)
    before a message built "later" with a lower high-water mark counts as coming
    from a rewound database.

    Returns the result per branch, and the batches refused as a whole with the
    reason (a branch whose database origin changed).  The caller commits, then
    sends receipts, then acks: never the other way round.
    """
    by_branch: dict[str, list[ChangeBatch]] = {}
    for batch in batches:
        by_branch.setdefault(batch.branch, []).append(batch)
    results: dict[str, BranchResult] = {}
    refused: list[tuple[ChangeBatch, str]] = []
    for branch in sorted(by_branch):  # one lock order for every consumer: no deadlock cycles
        row = conn.execute(
            select(_b.origin, _b.high_water, _b.high_water_at_ms).where(_b.code == branch).with_for_update()
        ).first()
        if row is None:
            for batch in by_branch[branch]:
                refused.append((batch, f"branch {branch!r} is not registered at the Head Office"))
            continue
        origin, high_water, high_water_at = row
        seen = (origin, high_water, high_water_at)
        accepted = []
        for batch in by_branch[branch]:
            origin = origin or batch.origin
            reason = _history_problem(branch, batch, origin, high_water, high_water_at, clock_slack_ms)
            if reason:
                refused.append((batch, reason))
                # Shown by `sync status` and the Head Office window until an operator clears it.
                conn.execute(update(ho_branches).where(_b.code == branch).values(alert=reason[:255]))
                continue
            accepted.append(batch)
            if batch.high_water > high_water:
                high_water, high_water_at = batch.high_water, batch.built_at_ms
        if (origin, high_water, high_water_at) != seen:
            conn.execute(update(ho_branches).where(_b.code == branch).values(
                origin=origin, high_water=high_water, high_water_at_ms=high_water_at
            ))
        if accepted:
            results[branch] = _apply_branch(conn, branch, accepted)
    return results, refused


def _history_problem(
    branch: str, batch: ChangeBatch, origin: str, high_water: int, high_water_at: int, clock_slack_ms: int
) -> str | None:
    """Why ``batch`` belongs to another history of the branch than the one held, if it does.

    Two signs: a different database origin (re-created or swapped), or a sequence
    that went backwards (restored from an older backup): a message built clearly
    later than one that reported seq N, yet reaching only below N.  A redelivered
    old message was built earlier, so it passes; so does one the Head Office
    itself re-published from the dead letters after a person looked at it.
    """
    if batch.origin != origin:
        return (f"branch {branch} sent changes from database {batch.origin}, but the Head Office holds its history "
                f"from database {origin}; the branch database was re-created or replaced, so nothing was applied "
                "(see docs/ARCHITECTURE.md, 'A branch database replaced')")
    if (not batch.replayed and batch.high_water < high_water
            and batch.built_at_ms > high_water_at + clock_slack_ms):
        return (f"branch {branch}'s change sequence went backwards: at {_ms(high_water_at)} it had reached seq "
                f"{high_water}, but at {_ms(batch.built_at_ms)} it reached only seq {batch.high_water}; its database "
                "was restored from an older backup, so nothing was applied (see docs/ARCHITECTURE.md, "
                "'A branch database replaced')")
    return None


def _ms(moment_ms: int) -> str:
    return dt.datetime.fromtimestamp(moment_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def _apply_branch(conn: Connection, branch: str, batches: list[ChangeBatch]) -> BranchResult:
    result = BranchResult(branch)
    latest = {}
    for batch in batches:
        for change in batch.changes:
            result.seqs.append(change.seq)
            held = latest.get(change.sale_id)
            if held is None or change.seq > held.seq:
                latest[change.sale_id] = change
    result.stale = len(result.seqs) - len(latest)
    ids = list(latest)
    current = _versions(conn, ho_sales, branch, ids)
    tombs = _versions(conn, ho_tombstones, branch, ids)
    upserts, deletes = [], []
    for sale_id, change in latest.items():
        if change.seq <= max(current.get(sale_id, 0), tombs.get(sale_id, 0)):
            result.stale += 1
            continue
        if change.is_delete:
            deletes.append({"branch": branch, "branch_sale_id": sale_id, "version": change.seq})
        else:
            upserts.append({"branch": branch, "branch_sale_id": sale_id, "version": change.seq, **change.sale.as_row()})
    if upserts:
        # Straight to the driver: SQLAlchemy's per-row parameter processing cost more than the insert.
        conn.exec_driver_sql(_driver_upsert(conn.dialect), upserts)
        revived = [u["branch_sale_id"] for u in upserts if u["branch_sale_id"] in tombs]
        if revived:
            conn.execute(
                delete(ho_tombstones).where(_t.branch == branch, _t.branch_sale_id.in_(bindparam("ids", expanding=True))),
                {"ids": revived},
            )
    if deletes:
        gone = [d["branch_sale_id"] for d in deletes if d["branch_sale_id"] in current]
        if gone:
            conn.execute(
                delete(ho_sales).where(_s.branch == branch, _s.branch_sale_id.in_(bindparam("ids", expanding=True))),
                {"ids": gone},
            )
        conn.execute(TOMBSTONE, deletes)
    result.upserts, result.deletes = len(upserts), len(deletes)
    if result.seqs:
        conn.execute(
            update(ho_branches)
            .where(_b.code == branch)
            .values(
                last_seq=func.greatest(_b.last_seq, max(result.seqs)),
                changes_applied=_b.changes_applied + len(upserts) + len(deletes),
                last_applied_at=NOW,
            )
        )
    return result

"""apply_changes: the Head Office side of the database, where a batch becomes rows.

Each branch row carries a version: the branch outbox seq of the change that
produced it.  A change is applied only if its seq is newer than both the row's
version and any tombstone's, so delivering any message any number of times, in
any order, leaves the Head Office the same.  Applies of one branch are serialised
by locking that branch's ``sync_branches`` row, which also makes the
read-then-write below safe with several consumer processes.

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
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, func, literal_column, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Connection

from models.schema import ho_branches, ho_ledger, ho_sales, ho_tombstones
from models.shape import SALE_SHAPE
from sync.protocol import ChangeBatch

_s, _t, _b, _l = ho_sales.c, ho_tombstones.c, ho_branches.c, ho_ledger.c
MAX_JUMP = 2**32  # how far past the highest seq held a branch may reach in one message

# A literal, not func.now(6): a bound parameter in the ON DUPLICATE KEY UPDATE tail
# would stop PyMySQL from folding executemany into multi-row INSERTs.
NOW = literal_column("CURRENT_TIMESTAMP(6)")
_upsert = mysql_insert(ho_sales)
UPSERT = _upsert.on_duplicate_key_update(
    **{name: _upsert.inserted[name] for name in (*SALE_SHAPE.names, "version")}, applied_at=NOW)
_tomb = mysql_insert(ho_tombstones)
TOMBSTONE = _tomb.on_duplicate_key_update(version=_tomb.inserted.version, deleted_at=NOW)
LEDGER = mysql_insert(ho_ledger)


@functools.cache
def _driver_upsert(dialect) -> str:
    """UPSERT compiled once for the connection's dialect (PyMySQL's named parameters)."""
    return str(UPSERT.compile(dialect=dialect, column_keys=["branch", "branch_sale_id", "version", *SALE_SHAPE.names]))


@functools.cache
def _driver_ledger(dialect) -> str:
    return str(LEDGER.compile(dialect=dialect, column_keys=["branch", "seq", "digest"]))


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
    """What a group of batches did, per branch, and which batches were refused as a whole."""

    results: dict[str, BranchResult] = field(default_factory=dict)
    refused: list[tuple[ChangeBatch, str]] = field(default_factory=list)
    alerts: dict[str, str] = field(default_factory=dict)  # alerts raised by this group


def _versions(conn: Connection, table, branch: str, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    # Whole numbers rendered inline: thousands of bound parameters cost more to bind than to read.
    query = select(table.c.branch_sale_id, table.c.version).where(
        table.c.branch == branch, table.c.branch_sale_id.in_(bindparam("ids", expanding=True, literal_execute=True))
    )
    return {int(k): int(v) for k, v in conn.execute(query, {"ids": ids}).all()}


def apply_changes(conn: Connection, batches: Iterable[ChangeBatch]) -> Outcome:
    """Apply decoded batches inside the caller's transaction.

    The caller commits, then sends receipts, then acks: never the other way round.
    """
    by_branch: dict[str, list[ChangeBatch]] = {}
    for batch in batches:
        by_branch.setdefault(batch.branch, []).append(batch)
    outcome = Outcome()
    for branch in sorted(by_branch):  # one lock order for every consumer: no deadlock cycles
        _apply_one_branch(conn, branch, by_branch[branch], outcome)
    return outcome


def _apply_one_branch(conn: Connection, branch: str, batches: list[ChangeBatch], outcome: Outcome) -> None:
    row = conn.execute(select(_b.origin, _b.high_water, _b.alert).where(_b.code == branch).with_for_update()).first()
    if row is None:
        outcome.refused += [(b, f"branch {branch!r} is not registered at the Head Office") for b in batches]
        return
    origin, high_water, alert = row
    held = conn.execute(select(func.coalesce(func.max(_l.seq), 0)).where(_l.branch == branch)).scalar_one()
    accepted: list[ChangeBatch] = []
    entries: dict[int, int] = {}  # seq -> digest of what this group accepts
    for batch in batches:
        reason = alert and f"nothing from branch {branch} is applied until a person decides: {alert}"
        if not reason and origin is not None and batch.origin != origin:
            reason = (f"branch {branch} sent changes from database {batch.origin}, but the Head Office holds its "
                      f"history from database {origin}: two histories of this branch exist (the branch database was "
                      "re-created or replaced), so nothing was applied; see docs/OPERATIONS.md, 'A branch database replaced or restored'")
            alert = _raise_alert(conn, branch, reason, outcome)
        if not reason:
            reason = _ledger_problem(conn, branch, batch, held, entries)
            if reason and "two histories" in reason:
                alert = _raise_alert(conn, branch, reason, outcome)
        if reason:
            outcome.refused.append((batch, reason))
            continue
        origin = origin or batch.origin
        accepted.append(batch)
        high_water = max(high_water, batch.high_water)
    if accepted:
        new = [{"branch": branch, "seq": seq, "digest": digest} for seq, digest in entries.items()]
        if new:  # straight to the driver, as the upsert (see below)
            conn.exec_driver_sql(_driver_ledger(conn.dialect), new)
        result = _apply_batches(conn, branch, accepted)
        result.held = max([held, *entries])
        outcome.results[branch] = result
        conn.execute(update(ho_branches).where(_b.code == branch).values(
            origin=origin, high_water=high_water,
            high_water_at_ms=max(b.built_at_ms for b in accepted)))


def _raise_alert(conn: Connection, branch: str, reason: str, outcome: Outcome) -> str:
    # Shown by `sync status`, both windows, and every receipt, until an operator adopts a history.
    conn.execute(update(ho_branches).where(_b.code == branch).values(alert=reason[:1000]))
    outcome.alerts[branch] = reason
    return reason


def _ledger_problem(conn: Connection, branch: str, batch: ChangeBatch, held: int, entries: dict[int, int]) -> str | None:
    """Why ``batch`` cannot be part of the history held, or None; adds its new entries to ``entries``."""
    seqs = [c.seq for c in batch.changes] + [s for s, _r, _raw in batch.rejected if s is not None]
    if not seqs:
        return None
    if max(seqs) > max(held, *entries, 0) + MAX_JUMP:
        return (f"seq {max(seqs)} jumps more than {MAX_JUMP:,} past the highest change held from branch {branch} "
                f"({held}); no branch sends so far ahead, so nothing of this message was applied")
    if max(seqs) - min(seqs) < 4 * len(seqs):  # the usual run of consecutive seqs: one range
        within = _l.seq.between(min(seqs), max(seqs))
    else:  # scattered seqs: ask for exactly these, never for everything in between
        within = _l.seq.in_(bindparam("seqs", expanding=True, literal_execute=True))
    known = {int(s): int(d) for s, d in conn.execute(
        select(_l.seq, _l.digest).where(_l.branch == branch, within), {"seqs": seqs}).all()}
    known.update(entries)
    mine = {c.seq: SALE_SHAPE.digest(c.seq, c.sale_id, c.values) for c in batch.changes}
    for seq, digest in mine.items():
        if seq in known and known[seq] != digest:
            return (f"branch {branch} sent change {seq} with other contents than the change {seq} the Head Office "
                    "already holds from it: two histories of this branch database exist (it was restored from a "
                    "backup, or copied), so nothing more from it is applied until a person decides; see "
                    "docs/OPERATIONS.md, 'A branch database replaced or restored'")
    entries.update({seq: digest for seq, digest in mine.items() if seq not in known})
    return None


def _apply_batches(conn: Connection, branch: str, batches: list[ChangeBatch]) -> BranchResult:
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
        elif change.values is None:
            deletes.append({"branch": branch, "branch_sale_id": sale_id, "version": change.seq})
        else:
            upserts.append({"branch": branch, "branch_sale_id": sale_id, "version": change.seq, **change.values})
    if upserts:
        # Straight to the driver: SQLAlchemy's per-row parameter processing cost more than the insert.
        conn.exec_driver_sql(_driver_upsert(conn.dialect), upserts)
        revived = [u["branch_sale_id"] for u in upserts if u["branch_sale_id"] in tombs]
        if revived:
            conn.execute(delete(ho_tombstones).where(
                _t.branch == branch, _t.branch_sale_id.in_(bindparam("ids", expanding=True))), {"ids": revived})
    if deletes:
        gone = [d["branch_sale_id"] for d in deletes if d["branch_sale_id"] in current]
        if gone:
            conn.execute(delete(ho_sales).where(
                _s.branch == branch, _s.branch_sale_id.in_(bindparam("ids", expanding=True))), {"ids": gone})
        conn.execute(TOMBSTONE, deletes)
    result.upserts, result.deletes = len(upserts), len(deletes)
    if result.seqs:
        conn.execute(update(ho_branches).where(_b.code == branch).values(
            last_seq=func.greatest(_b.last_seq, max(result.seqs)),
            changes_applied=_b.changes_applied + len(upserts) + len(deletes),
            last_applied_at=NOW))
    return result

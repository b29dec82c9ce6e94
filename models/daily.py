"""The Head Office's daily sums (``sales_daily``, ``sales_by_branch``) and row counts, kept with the sales.

``sales_daily`` holds, per (branch, day, region, product), the count of the sales
held and the sums of their qty, amt, tax and total; ``sales_by_branch`` the same
per branch (what the unfiltered window shows); ``sync_branches.sales_held`` the
count of a registered branch's rows (what ``status`` and the branches panel show).  The apply (sync/apply.py) changes them in the
transaction that changes ``sales``: each row written takes its old contribution
out and puts its new one in (``DailyDeltas``), netted per group and written with
one ``INSERT ... ON DUPLICATE KEY UPDATE`` adding the deltas, whatever the batch's
size (and a one-row one for the branch's sums).  A redelivered or stale change writes no row, so it changes no sum.

A group whose sales were all deleted is kept at zero rather than deleted: finding
it would cost a read per batch, and there are only as many such rows as groups
that ever held a sale.  Readers skip ``sales = 0``.

``fill_daily`` recomputes both from ``sales`` (the migration does the same); only
what writes ``sales`` behind the apply's back (a test, a bench, a repair) needs it.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, text
from sqlalchemy.dialects.mysql import Insert
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.elements import ColumnElement

KEY = ("sale_date", "region", "product")          # with the branch: a group of sales_daily
SUMS = ("qty", "amt", "tax", "total")
OLD_COLUMNS = (*KEY, *SUMS)                        # what the apply reads of a row it replaces or deletes

# The migration's fill: the sales grouped a slice of ids at a time, each slice's sums added to the groups'
# (one statement per slice stays well inside a connection's read timeout at millions of rows).
FILL_SLICE = 250_000
FILL = ("INSERT INTO sales_daily (branch, sale_date, region, product, sales, qty, amt, tax, total) "
        "SELECT * FROM (SELECT branch, sale_date, region, product, COUNT(*) n, SUM(qty) q, SUM(amt) a, SUM(tax) t, "
        "SUM(total) s FROM sales WHERE id > :after AND id <= :upto {only} GROUP BY branch, sale_date, region, product) g "
        "ON DUPLICATE KEY UPDATE sales = sales_daily.sales + g.n, qty = sales_daily.qty + g.q, "
        "amt = sales_daily.amt + g.a, tax = sales_daily.tax + g.t, total = sales_daily.total + g.s")
BY_BRANCH = ("INSERT INTO sales_by_branch (branch, sales, qty, amt, tax, total) SELECT branch, SUM(sales), SUM(qty), "
             "SUM(amt), SUM(tax), SUM(total) FROM sales_daily {only} GROUP BY branch")
HELD = ("UPDATE sync_branches b SET sales_held = "
        "COALESCE((SELECT SUM(d.sales) FROM sales_daily d WHERE d.branch = b.code), 0) {only}")


class DailyDeltas:
    """The changes one batch makes to the daily sums of one branch, netted per group."""

    def __init__(self, branch: str):
        self.branch = branch
        self.groups: dict[tuple[Any, ...], list[Any]] = {}
        self.held = 0  # rows added minus rows removed

    def add(self, values: Mapping[str, Any], sign: int) -> None:
        """Count a row in (+1) or out (-1) of its group."""
        group = self.groups.setdefault(tuple(values[k] for k in KEY), [0, 0, Decimal(0), Decimal(0), Decimal(0)])
        group[0] += sign
        for i, name in enumerate(SUMS, 1):
            group[i] += sign * values[name]
        self.held += sign

    def branch_row(self) -> dict[str, Any] | None:
        """Parameters for the branch's sums upsert: every group's delta added up (None when they net to nothing)."""
        totals = [sum((g[i] for g in self.groups.values()), start=0 if i == 0 else Decimal(0)) for i in range(5)]
        if not any(totals):
            return None
        return {"branch": self.branch, "sales": totals[0], **dict(zip(SUMS, totals[1:], strict=True))}

    def rows(self) -> list[dict[str, Any]]:
        """Parameters for the upsert, in key order (one lock order), without groups that net to nothing."""
        out = []
        for key in sorted(self.groups, key=lambda k: tuple(map(str, k))):  # str: a zero date read back is text
            count, *sums = self.groups[key]
            if count == 0 and not any(sums):
                continue  # an update that moved nothing between groups
            out.append({"branch": self.branch, **dict(zip(KEY, key, strict=True)), "sales": count,
                        **dict(zip(SUMS, sums, strict=True))})
        return out


def upsert(sums: Table) -> Insert:
    """The delta upsert of ``sales_daily`` or ``sales_by_branch``: a new group is inserted, a known one has the deltas added."""
    stmt = mysql_insert(sums)
    added: dict[str, ColumnElement[Any]] = {name: sums.c[name] + stmt.inserted[name] for name in ("sales", *SUMS)}
    return stmt.on_duplicate_key_update(**added)


def upsert_sql(sums: Table, dialect: Dialect) -> str:
    """The delta upsert compiled for the driver: its tail has no parameter, so executemany folds into one INSERT."""
    keys = [c.name for c in sums.primary_key.columns]
    return str(upsert(sums).compile(dialect=dialect, column_keys=[*keys, "sales", *SUMS]))


def fill_daily(conn: Connection, branches: Iterable[str] | None = None) -> None:
    """Recompute ``sales_daily``, ``sales_by_branch`` and ``sync_branches.sales_held`` from ``sales`` (for ``branches``,
    or all)."""
    codes = None if branches is None else list(branches)
    if codes == []:
        return
    expanding: list[Any] = [] if codes is None else [bindparam("codes", expanding=True)]
    params: dict[str, Any] = {} if codes is None else {"codes": codes}
    conn.execute(text("DELETE FROM sales_daily" + ("" if codes is None else " WHERE branch IN :codes"))
                 .bindparams(*expanding), params)
    last: int = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM sales")).scalar_one()
    fill = text(FILL.format(only="" if codes is None else "AND branch IN :codes")).bindparams(*expanding)
    for after in range(0, last, FILL_SLICE):
        conn.execute(fill, {**params, "after": after, "upto": after + FILL_SLICE})
    conn.execute(text("DELETE FROM sales_by_branch" + ("" if codes is None else " WHERE branch IN :codes"))
                 .bindparams(*expanding), params)
    conn.execute(text(BY_BRANCH.format(only="" if codes is None else "WHERE branch IN :codes")).bindparams(*expanding),
                 params)
    conn.execute(text(HELD.format(only="" if codes is None else "WHERE b.code IN :codes")).bindparams(*expanding), params)


def refill_day(conn: Connection, branch: str, day: dt.date) -> None:
    """Recompute one branch-day's daily sums (and the branch's totals and rows held) from ``sales``.

    For the writes that do not go through the apply (a day sent again puts back a row
    edited by hand here, or removes a row the branch no longer has): whether such a row
    was ever counted cannot be told, so the day is summed again from what is held.  It
    reads one branch-day through the ``sales(branch, sale_date)`` index.
    """
    params = {"b": branch, "d": day}
    conn.execute(text("DELETE FROM sales_daily WHERE branch = :b AND sale_date = :d"), params)
    conn.execute(text("INSERT INTO sales_daily (branch, sale_date, region, product, sales, qty, amt, tax, total) "
                      "SELECT branch, sale_date, region, product, COUNT(*), SUM(qty), SUM(amt), SUM(tax), SUM(total) "
                      "FROM sales WHERE branch = :b AND sale_date = :d GROUP BY branch, sale_date, region, product"),
                 params)
    conn.execute(text("DELETE FROM sales_by_branch WHERE branch = :b"), params)
    conn.execute(text(BY_BRANCH.format(only="WHERE branch = :b")), params)
    conn.execute(text(HELD.format(only="WHERE b.code = :b")), params)

"""Subtotals of the consolidated sales: by branch, region, product, day or month, one level or two.

``sales_summary(engine, filter, by)`` is the whole interface.  It groups the
daily sums (``sales_daily``, kept by the apply in the transaction that changes
the sales: models/daily.py), whose key holds every dimension offered, so it
costs what the groups hold, not what ``sales`` holds; subtotals by branch and the
grand total of an unfiltered (or branch-only) view read the per-branch sums
(``sales_by_branch``).  A filter the daily sums cannot answer
(``SalesFilter.by_day`` false) groups ``sales`` itself.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, and_, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from models.head_office_view import SalesFilter
from models.rows import tuples
from models.schema import ho_by_branch, ho_daily, ho_sales


class Dimension(enum.Enum):
    """What sales can be grouped by."""

    BRANCH = "branch"
    REGION = "region"
    PRODUCT = "product"
    DAY = "day"
    MONTH = "month"


def _key_column(dimension: Dimension, table: Table) -> ColumnElement[Any]:
    if dimension is Dimension.DAY:
        return table.c.sale_date
    if dimension is Dimension.MONTH:
        return func.date_format(table.c.sale_date, "%Y-%m")   # '2021-04'; a zero date gives '0000-00'
    column: ColumnElement[Any] = table.c[dimension.value]
    return column


@dataclass(frozen=True)
class SummaryLine:
    """The sales of one group: its key (one value per dimension grouped by), count and sums."""

    key: tuple[Any, ...]
    sales: int
    qty: int
    amt: Decimal
    tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class Summary:
    """Subtotals for a filter.

    ``lines`` are the groups of every dimension in ``by`` (finest level), in key
    order; with two dimensions ``subtotals`` are the groups of the first one.
    ``total`` sums everything the filter matches.  ``truncated`` says ``lines``
    stopped at the limit asked for (the subtotals and total are still complete).
    """

    by: tuple[Dimension, ...]
    lines: list[SummaryLine]
    subtotals: list[SummaryLine]
    total: SummaryLine
    truncated: bool


def _grouped(conn: Connection, filt: SalesFilter, by: tuple[Dimension, ...], limit: int | None) -> list[SummaryLine]:
    if filt.by_day():
        table = ho_by_branch if set(by) <= {Dimension.BRANCH} and filt.whole_branches() else ho_daily
        count: ColumnElement[Any] = func.coalesce(func.sum(table.c.sales), 0)
        where = and_(filt.condition(table), table.c.sales > 0)  # a group emptied by deletes is no group
    else:
        table, count, where = ho_sales, func.count(), filt.condition()
    c = table.c
    keys = [_key_column(d, table).label(f"k{i}") for i, d in enumerate(by)]
    zero = Decimal("0.00")
    query = select(
        *keys, count, func.coalesce(func.sum(c.qty), 0), func.coalesce(func.sum(c.amt), zero),
        func.coalesce(func.sum(c.tax), zero), func.coalesce(func.sum(c.total), zero),
    ).where(where)
    if keys:
        query = query.group_by(*keys).order_by(*keys)
    if limit is not None:
        query = query.limit(limit)
    lines = []
    for row in tuples(conn.execute(query)):
        *key, count, qty, amt, tax, total = row
        lines.append(SummaryLine(tuple(key), int(count), int(qty), Decimal(amt), Decimal(tax), Decimal(total)))
    return lines


def sales_summary(engine: Engine, filt: SalesFilter, by: tuple[Dimension, ...], limit: int = 5000) -> Summary:
    """Count and sums of the sales ``filt`` matches, grouped by one or two dimensions, with their subtotals.

    At most ``limit`` finest-level lines are returned.
    """
    if not 1 <= len(by) <= 2 or len(set(by)) != len(by):
        raise ValueError("group by one dimension, or two different ones")
    with engine.connect() as conn:
        lines = _grouped(conn, filt, by, limit + 1)
        subtotals = _grouped(conn, filt, by[:1], None) if len(by) == 2 else []
        (total,) = _grouped(conn, filt, (), None)
    return Summary(by=by, lines=lines[:limit], subtotals=subtotals, total=total, truncated=len(lines) > limit)

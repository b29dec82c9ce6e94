"""What the Head Office window reads: the consolidated sales, a page at a time.

The database does the filtering, sorting and paging, so the window stays quick
with a million rows.  Totals and the chart read the sums the apply keeps
(models/daily.py: ``sales_by_branch``, ``sales_daily``) whenever the filter can be
answered from them, so they cost what the branches or days shown hold, not what
``sales`` holds.  Pages are found by seeking from the key of a row already
shown (the sort value and the row id), never by OFFSET, so the last page costs
what the first one does.  No query here builds SQL from text: every value is a
bound parameter.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, and_, func, or_, select, true
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from models.rows import one, tuples
from models.sale import DATE_MIN
from models.schema import ho_by_branch, ho_daily, ho_sales

_h = ho_sales.c

# Columns a manager can sort by; each is NOT NULL, so a (value, id) key always exists.
SORT_COLUMNS = ("branch", "branch_sale_id", "sale_date", "region", "product", "qty", "cost", "amt", "tax", "total")
# The fields of a row as the table shows them and an export writes them, in order.
ROW_FIELDS = ("branch", "branch_sale_id", "sale_date", "region", "product", "qty", "cost", "amt", "tax", "total")


@dataclass(frozen=True)
class SalesFilter:
    """Which sales to show; None means any.  Dates are inclusive."""

    branch: str | None = None
    region: str | None = None
    product: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def condition(self, table: Table = ho_sales) -> ColumnElement[bool]:
        """The WHERE clause for this filter, on ``sales`` or on a table with the columns it sets (``sales_daily``,
        ``sales_by_branch``)."""
        c = table.c
        clauses: list[ColumnElement[bool]] = []
        for name in ("branch", "region", "product"):
            value = getattr(self, name)
            if value is not None:
                clauses.append(c[name] == value)
        if self.date_from is not None:
            clauses.append(c.sale_date >= self.date_from)
        if self.date_to is not None:
            clauses.append(c.sale_date <= self.date_to)
        return and_(true(), *clauses)

    def by_day(self) -> bool:
        """Whether the daily sums answer this filter: every field set is part of their key.

        Branch, region, product and dates all are; a field that looks inside a sale
        (a text search, a sale number) would not be, and must make this False so that
        the readers fall back to ``sales``.
        """
        return all(getattr(self, name) is None or name in _DAILY_FIELDS for name in self.__dataclass_fields__)

    def whole_branches(self) -> bool:
        """Whether the per-branch sums answer this filter: nothing but (at most) a branch is chosen."""
        return all(getattr(self, name) is None for name in self.__dataclass_fields__ if name != "branch")


@dataclass(frozen=True)
class SortOrder:
    """The column the table is sorted by; ties are broken by row id in the same direction."""

    column: str = "sale_date"
    descending: bool = True

    def __post_init__(self) -> None:
        if self.column not in SORT_COLUMNS:
            raise ValueError(f"cannot sort by {self.column!r}; choose one of {', '.join(SORT_COLUMNS)}")


@dataclass(frozen=True)
class HeadOfficeSale:
    """One row of the consolidated table (``sale_date`` is text when the stored date is not a real day)."""

    id: int
    branch: str
    branch_sale_id: int
    sale_date: dt.date
    region: str
    product: str
    qty: int
    cost: Decimal
    amt: Decimal
    tax: Decimal
    total: Decimal

    def key(self, order: SortOrder) -> tuple[Any, int]:
        """Where this row sits in ``order``: (sort value, id)."""
        return getattr(self, order.column), self.id


@dataclass(frozen=True)
class PagePosition:
    """Which page to read: the first, the last, or the one next to a row already shown.

    kind is 'first', 'last', 'after' (rows following key), 'before' (rows preceding
    key) or 'from' (rows starting with key itself, to re-read the page on screen).
    """

    kind: str = "first"
    key: tuple[Any, int] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("first", "last", "after", "before", "from"):
            raise ValueError(f"unknown page position {self.kind!r}")
        if (self.key is None) != (self.kind in ("first", "last")):
            raise ValueError(f"page position {self.kind!r} {'needs' if self.key is None else 'takes no'} key")


@dataclass(frozen=True)
class Page:
    """One page of rows in the requested order, and whether more lie on either side."""

    rows: list[HeadOfficeSale]
    more_before: bool
    more_after: bool


@dataclass(frozen=True)
class Totals:
    """Sums over every row matching a filter, not just the page on screen."""

    rows: int
    qty: int
    amt: Decimal
    tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class DailyTotal:
    """Sales of one branch on one day."""

    branch: str
    day: dt.date
    total: Decimal


@dataclass(frozen=True)
class DailyTotals:
    """The days a chart covers (``first`` to ``last``; None when nothing matches) and the totals in them."""

    first: dt.date | None
    last: dt.date | None
    totals: list[DailyTotal]


@dataclass(frozen=True)
class FilterChoices:
    """Values that exist, for the filter lists."""

    regions: list[str]
    products: list[str]


# The filter's fields that sales_daily holds (its key): the rest need the rows.
_DAILY_FIELDS = frozenset({"branch", "region", "product", "date_from", "date_to"})
_d = ho_daily.c

_ROW_COLUMNS = (_h.id, _h.branch, _h.branch_sale_id, _h.sale_date, _h.region, _h.product, _h.qty, _h.cost, _h.amt, _h.tax, _h.total)


def _beyond(order_column: ColumnElement[Any], key: tuple[Any, int], descending: bool, inclusive: bool) -> ColumnElement[bool]:
    """Rows strictly past ``key`` when walking in the given direction (or at it, if inclusive).

    Written as ``col <= v AND (col < v OR id < i)`` rather than a row comparison
    so that MariaDB and MySQL both turn it into an index range.
    """
    value, row_id = key
    if descending:
        id_clause = _h.id <= row_id if inclusive else _h.id < row_id
        return and_(order_column <= value, or_(order_column < value, id_clause))
    id_clause = _h.id >= row_id if inclusive else _h.id > row_id
    return and_(order_column >= value, or_(order_column > value, id_clause))


def _walk(conn: Connection, where: ColumnElement[bool], order: SortOrder, descending: bool, key: tuple[Any, int] | None,
          inclusive: bool, limit: int) -> list[Any]:
    column = _h[order.column]
    query = select(*_ROW_COLUMNS).where(where)
    if key is not None:
        query = query.where(_beyond(column, key, descending, inclusive))
    if descending:
        query = query.order_by(column.desc(), _h.id.desc())
    else:
        query = query.order_by(column.asc(), _h.id.asc())
    return list(conn.execute(query.limit(limit)).all())


def sales_page(engine: Engine, filt: SalesFilter, order: SortOrder, position: PagePosition, size: int = 200) -> Page:
    """One page of the filtered sales in ``order``, read from the position given."""
    where = filt.condition()
    forward = order.descending
    with engine.connect() as conn:
        if position.kind in ("first", "after", "from"):
            found = _walk(conn, where, order, forward, position.key, position.kind == "from", size + 1)
            rows, more_after = found[:size], len(found) > size
            if position.kind == "first":
                more_before = False
            elif position.kind == "after":
                more_before = True
            else:
                more_before = bool(_walk(conn, where, order, not forward, position.key, False, 1))
        else:  # 'before' and 'last' walk backwards, then turn the rows round
            found = _walk(conn, where, order, not forward, position.key, False, size + 1)
            rows, more_before = found[:size][::-1], len(found) > size
            more_after = position.kind == "before"
    if position.kind == "before" and not more_before and len(rows) < size:
        # Stepping back reached the start with a short page: show a full first page instead.
        return sales_page(engine, filt, order, PagePosition(), size)
    return Page([HeadOfficeSale(*row) for row in rows], more_before, more_after)


def sales_totals(engine: Engine, filt: SalesFilter) -> Totals:
    """Row count and sums of Qty, Amt, Tax and Total over everything the filter matches.

    Read from the per-branch sums when only a branch is chosen (``SalesFilter.whole_branches``), from the
    daily sums when the filter allows (``SalesFilter.by_day``), else from the rows.
    """
    zero = Decimal("0.00")
    if filt.whole_branches() or filt.by_day():
        table = ho_by_branch if filt.whole_branches() else ho_daily
        count: ColumnElement[Any] = func.coalesce(func.sum(table.c.sales), 0)
        where = filt.condition(table)
    else:
        count, table, where = func.count(), ho_sales, filt.condition()
    c = table.c
    query = select(
        count, func.coalesce(func.sum(c.qty), 0), func.coalesce(func.sum(c.amt), zero),
        func.coalesce(func.sum(c.tax), zero), func.coalesce(func.sum(c.total), zero),
    ).where(where)
    with engine.connect() as conn:
        rows, qty, amt, tax, total = one(conn.execute(query))
    return Totals(rows=int(rows), qty=int(qty), amt=Decimal(amt), tax=Decimal(tax), total=Decimal(total))


def iter_filtered_rows(engine: Engine, filt: SalesFilter, order: SortOrder, batch: int = 2000) -> Iterator[Sequence[Any]]:
    """Every filtered row in ``order`` as ROW_FIELDS tuples, streamed from the server in batches."""
    column = _h[order.column]
    direction = (column.desc(), _h.id.desc()) if order.descending else (column.asc(), _h.id.asc())
    query = select(*[_h[name] for name in ROW_FIELDS]).where(filt.condition()).order_by(*direction)
    with engine.connect() as conn:
        # stream_results uses an unbuffered server cursor: memory stays flat for a million rows.
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
        for partition in result.partitions():
            yield from partition


def daily_totals(engine: Engine, filt: SalesFilter, days: int = 30) -> DailyTotals:
    """Total sales per branch per day over the last ``days`` days with sales that the filter reaches.

    The days end at the latest sale the filter matches and never start before its
    From date.  Rows whose stored date is not a real day are left out.  Read from
    the daily sums when the filter allows (``SalesFilter.by_day``), else from the rows.
    """
    if filt.by_day():
        table = ho_daily
        where = and_(filt.condition(ho_daily), _d.sale_date >= DATE_MIN, _d.sales > 0)  # skip emptied groups
    else:
        table, where = ho_sales, and_(filt.condition(), _h.sale_date >= DATE_MIN)
    c = table.c
    # The newest day as the first of an index walked backwards: MAX() with ``sales > 0`` would read every group.
    newest = select(c.sale_date).where(where).order_by(c.sale_date.desc()).limit(1)
    with engine.connect() as conn:
        last = conn.execute(newest).scalar()
        if not isinstance(last, dt.date):
            return DailyTotals(None, None, [])
        first = last - dt.timedelta(days=days - 1)
        if filt.date_from is not None:
            first = max(first, filt.date_from)
        query = (
            select(c.branch, c.sale_date, func.sum(c.total))
            .where(where, c.sale_date >= first)
            .group_by(c.branch, c.sale_date)
            .order_by(c.sale_date, c.branch)
        )
        totals = [DailyTotal(branch, day, Decimal(total)) for branch, day, total in tuples(conn.execute(query))
                  if isinstance(day, dt.date)]
    return DailyTotals(first, last, totals)


def _distinct_values(conn: Connection, column: ColumnElement[str], limit: int) -> list[str]:
    """The distinct values of an indexed column, one index seek per value.

    SELECT DISTINCT reads the whole index (a million entries); asking for the next
    value above the last one found touches only as many entries as there are values.
    """
    found: list[str] = []
    while len(found) < limit:
        query = select(func.min(column))
        if found:
            query = query.where(column > found[-1])
        value = conn.execute(query).scalar()
        if value is None:
            break
        found.append(value)
    return found


def filter_choices(engine: Engine, limit: int = 200) -> FilterChoices:
    """The regions and products present at the Head Office, for the filter lists."""
    with engine.connect() as conn:
        return FilterChoices(_distinct_values(conn, _h.region, limit), _distinct_values(conn, _h.product, limit))

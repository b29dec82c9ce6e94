"""Control totals of one branch's sales of one day, computed the same way at both ends.

For a branch and a sale date, from the live ``sales`` table: the number of rows, the
sum of qty, the sums of amt, tax and total (exact ``Decimal`` cents), and a digest
of the rows that does not depend on their order: the sum, modulo 2**64, of a 64-bit
hash of each row.  A row's hash is the first 8 bytes of MD5 over its canonical wire
form (the sale number, then every field of ``models.shape`` in order, as the wire
writes it: dates ``YYYY-MM-DD``, money with its two decimals, text as is), joined by
the unit separator U+001F.  MD5 is used because the database computes it beside the
sums in one ``GROUP BY`` at either end (no row travels to Python to be hashed); it
detects differences, it is not a signature.  A sum, unlike an XOR, never cancels a
pair of equal rows, and with the count it tells a missing row from a doubled one.

``branch_totals`` reads a branch database, ``head_office_totals`` the Head Office's
rows of one branch; both run the same SQL (``totals_select``), and ``row_hash`` is
its Python twin, used by tests and to compare sales one by one.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, Table, func, literal_column, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from models.rows import tuples
from models.shape import SALE_SHAPE, RowShape

MODULUS = 2**64
SEPARATOR = "\x1f"
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class DayTotals:
    """What one side holds of one branch's sales of one day."""

    day: dt.date
    rows: int
    qty: int
    amt: Decimal
    tax: Decimal
    total: Decimal
    digest: int  # 0 <= digest < 2**64

    @classmethod
    def empty(cls, day: dt.date) -> DayTotals:
        return cls(day, 0, 0, ZERO, ZERO, ZERO, 0)

    def same_as(self, other: DayTotals) -> bool:
        """Whether both sides hold the same sales of the day (every figure and the digest)."""
        return self.figures() == other.figures()

    def figures(self) -> tuple[int, int, Decimal, Decimal, Decimal, int]:
        return (self.rows, self.qty, self.amt, self.tax, self.total, self.digest)

    def words(self) -> str:
        """The totals in one line, as reconcile and the windows write them."""
        return (f"{self.rows} sale(s), qty {self.qty}, amt {self.amt:.2f}, tax {self.tax:.2f}, total {self.total:.2f}, "
                f"digest {self.digest:016x}")


def row_hash(sale_id: int, values: Mapping[str, Any] | Sequence[Any], shape: RowShape = SALE_SHAPE) -> int:
    """The 64-bit hash of one row: what ``row_hash_sql`` computes in the database."""
    ordered = [values[n] for n in shape.names] if isinstance(values, Mapping) else list(values)
    text = SEPARATOR.join(str(part) for part in (sale_id, *shape.to_wire(ordered)))
    return int.from_bytes(hashlib.md5(text.encode("utf-8")).digest()[:8], "big")  # noqa: S324 - a checksum


def combine(hashes: Iterable[int]) -> int:
    """The digest of a set of rows: the sum of their hashes modulo 2**64, whatever their order."""
    return sum(hashes) % MODULUS


def row_hash_sql(table: Table, id_column: str, shape: RowShape = SALE_SHAPE) -> ColumnElement[Any]:
    """SQL for ``row_hash`` of each row of ``table`` (MySQL and MariaDB alike)."""
    columns = ", ".join(f"{table.name}.{name}" for name in (id_column, *shape.names))
    return literal_column(f"CAST(CONV(LEFT(MD5(CONCAT_WS(CHAR(31), {columns})), 16), 16, 10) AS UNSIGNED)")


def totals_select(table: Table, id_column: str, *where: ColumnElement[bool],
                  shape: RowShape = SALE_SHAPE) -> Select[Any]:
    """One row per sale date: date, count, and the sums (the hashes' sum is exact: SUM of integers is DECIMAL)."""
    c = table.c
    return (select(c.sale_date, func.count(), func.sum(c.qty), func.sum(c.amt), func.sum(c.tax), func.sum(c.total),
                   func.sum(row_hash_sql(table, id_column, shape)))
            .where(*where).group_by(c.sale_date).order_by(c.sale_date))


def read_totals(conn: Connection, query: Select[Any]) -> dict[dt.date, DayTotals]:
    out = {}
    for day, rows, qty, amt, tax, total, hashes in tuples(conn.execute(query)):
        out[day] = DayTotals(day, int(rows), int(qty or 0), Decimal(amt or 0).quantize(ZERO),
                             Decimal(tax or 0).quantize(ZERO), Decimal(total or 0).quantize(ZERO),
                             int(hashes or 0) % MODULUS)
    return out


def _days_filter(table: Table, days: Iterable[dt.date] | None, first: dt.date | None,
                 last: dt.date | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if days is not None:
        where.append(table.c.sale_date.in_(sorted(set(days))))
    if first is not None:
        where.append(table.c.sale_date >= first)
    if last is not None:
        where.append(table.c.sale_date <= last)
    return where


def branch_totals(conn: Connection, sales: Table, days: Iterable[dt.date] | None = None, first: dt.date | None = None,
                  last: dt.date | None = None) -> dict[dt.date, DayTotals]:
    """A branch database's totals per day (of ``days``, or between ``first`` and ``last``; all when none)."""
    return read_totals(conn, totals_select(sales, "id", *_days_filter(sales, days, first, last)))


def head_office_totals(conn: Connection, sales: Table, branch: str, days: Iterable[dt.date] | None = None,
                       first: dt.date | None = None, last: dt.date | None = None) -> dict[dt.date, DayTotals]:
    """The Head Office's totals per day of the rows it holds from ``branch``."""
    where = [sales.c.branch == branch, *_days_filter(sales, days, first, last)]
    return read_totals(conn, totals_select(sales, "branch_sale_id", *where))


def sale_hashes(conn: Connection, table: Table, id_column: str, day: dt.date,
                *where: ColumnElement[bool]) -> dict[int, int]:
    """sale number -> row hash, for every sale of ``day`` (to list the sales that differ)."""
    query = select(table.c[id_column], row_hash_sql(table, id_column)).where(table.c.sale_date == day, *where)
    return {int(i): int(h) for i, h in tuples(conn.execute(query))}

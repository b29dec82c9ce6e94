"""Synthetic sales, and loading a backlog of them into a branch database.

Values are the kind a branch really writes: a few products and prices, quantities
from 1 to 97, dates over a year, money computed by ``models.money`` (so every row
passes the Head Office's checks).  Loading goes through the ``sales`` table, so
the capture triggers write the outbox exactly as they do for a clerk.
"""
from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import text

from models.money import compute_line
from models.shape import SALE_SHAPE
from sync import protocol

RATE = Decimal("0.07")
PRODUCTS = (("Paper", "12.95"), ("Pens", "2.19"), ("Binder", "4.99"), ("Stapler", "9.49"), ("Ink", "23.50"))
FIRST_DAY = dt.date(2021, 1, 1)
INSERT_SALES = text(
    "INSERT INTO sales (sale_date, region, product, qty, cost, amt, tax, total) "
    "VALUES (:sale_date, :region, :product, :qty, :cost, :amt, :tax, :total)"
)
LOAD_CHUNK = 5_000


class OutboxRow(NamedTuple):
    """The shape ``protocol.encode_changes`` reads, for messages built without a branch database."""

    seq: int
    sale_id: int
    op: str
    sale_date: dt.date
    region: str
    product: str
    qty: int
    cost: Decimal
    amt: Decimal
    tax: Decimal
    total: Decimal


def sale(i: int, region: str) -> dict:
    """The ``i``-th synthetic sale of a branch in ``region``, as column values."""
    product, price = PRODUCTS[i % len(PRODUCTS)]
    qty = 1 + (i * 7) % 97
    cost = Decimal(price)
    line = compute_line(qty, cost, RATE)
    return {
        "sale_date": FIRST_DAY + dt.timedelta(days=(i // 40) % 365), "region": region, "product": product,
        "qty": qty, "cost": cost, "amt": line.amt, "tax": line.tax, "total": line.total,
    }


def load_backlog(engine, count: int, region: str, start: int = 0) -> None:
    """Insert ``count`` sales, ``LOAD_CHUNK`` per transaction; the triggers queue one change each."""
    for first in range(start, start + count, LOAD_CHUNK):
        rows = [sale(i, region) for i in range(first, min(first + LOAD_CHUNK, start + count))]
        with engine.begin() as conn:
            conn.execute(INSERT_SALES, rows)


def outbox_rows(first_seq: int, count: int, region: str) -> Iterator[OutboxRow]:
    """``count`` upserts as a branch's outbox would hold them, seqs and sale ids from ``first_seq``."""
    for seq in range(first_seq, first_seq + count):
        yield OutboxRow(seq, seq, "u", **sale(seq, region))


def encode(code: str, origin: str, rows: list) -> bytes:
    """The message body a relay would publish for these outbox rows (one place, as the protocol evolves)."""
    wire = [(r[0], r[1], r[2], *SALE_SHAPE.to_wire(r[3:])) for r in rows]
    high_water = max((r[0] for r in wire), default=0)
    return protocol.encode_changes(code, origin, wire, high_water, int(time.time() * 1000))[0]


def new_origin() -> str:
    """A database-history id, for a simulated branch that has no database."""
    return str(uuid.uuid4())

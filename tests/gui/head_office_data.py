"""Consolidated rows written straight to a Head Office database, and plain SQL to check the window against."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import text

from models.money import compute_line

RATE = Decimal("0.07")
REGIONS = {"bo1": "East", "bo2": "West", "bo3": "North"}
PRODUCTS = {"Paper": Decimal("12.95"), "Pens": Decimal("2.19"), "Toner": Decimal("64.50")}
CSV_SQL = "SELECT branch, branch_sale_id, sale_date, region, product, qty, cost, amt, tax, total FROM sales"


def put_head_office_rows(offices, count: int) -> None:
    """Consolidated rows spread over branches, products and 40 days, written straight to the HO table."""
    rows = []
    for i in range(count):
        branch = ("bo1", "bo2", "bo3")[i % 3]
        product = list(PRODUCTS)[i % len(PRODUCTS)]
        qty = 1 + (i * 7) % 60
        line = compute_line(qty, PRODUCTS[product], RATE)
        rows.append({"branch": branch, "sid": 1000 + i, "day": dt.date(2021, 4, 1) + dt.timedelta(days=i % 40),
                     "region": REGIONS[branch], "product": product, "qty": qty, "cost": PRODUCTS[product],
                     "amt": line.amt, "tax": line.tax, "total": line.total})
    with offices.engine("ho").begin() as conn:
        conn.execute(text(
            "INSERT INTO sales (branch, branch_sale_id, sale_date, region, product, qty, cost, amt, tax, total, version) "
            "VALUES (:branch, :sid, :day, :region, :product, :qty, :cost, :amt, :tax, :total, 1)"), rows)


def query(offices, sql: str, **params) -> list[tuple]:
    """Rows of a plain SQL query on the Head Office database."""
    with offices.engine("ho").connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]

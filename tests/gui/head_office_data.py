"""Consolidated rows written straight to a Head Office database, and plain SQL to check the window against."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import text

from models.daily import fill_daily
from models.money import compute_line
from models.setup import init_head_office_database

RATE = Decimal("0.07")
REGIONS = {"bo1": "East", "bo2": "West", "bo3": "North"}
PRODUCTS = {"Paper": Decimal("12.95"), "Pens": Decimal("2.19"), "Toner": Decimal("64.50")}
CSV_SQL = "SELECT branch, branch_sale_id, sale_date, region, product, qty, cost, amt, tax, total FROM sales"


def put_head_office_rows(offices, count: int, first_sale: int = 1000) -> None:
    """Consolidated rows spread over branches, products and 40 days, written straight to the HO table
    (sale numbers from ``first_sale`` on), with the daily sums the apply would have kept."""
    rows = []
    for i in range(count):
        branch = ("bo1", "bo2", "bo3")[i % 3]
        product = list(PRODUCTS)[i % len(PRODUCTS)]
        qty = 1 + (i * 7) % 60
        line = compute_line(qty, PRODUCTS[product], RATE)
        rows.append({"branch": branch, "sid": first_sale + i, "day": dt.date(2021, 4, 1) + dt.timedelta(days=i % 40),
                     "region": REGIONS[branch], "product": product, "qty": qty, "cost": PRODUCTS[product],
                     "amt": line.amt, "tax": line.tax, "total": line.total})
    with offices.engine("ho").begin() as conn:
        conn.execute(text(
            "INSERT INTO sales (branch, branch_sale_id, sale_date, region, product, qty, cost, amt, tax, total, version) "
            "VALUES (:branch, :sid, :day, :region, :product, :qty, :cost, :amt, :tax, :total, 1)"), rows)
        fill_daily(conn)


def query(offices, sql: str, **params) -> list[tuple]:
    """Rows of a plain SQL query on the Head Office database."""
    with offices.engine("ho").connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


TOWNS = ("Aberdeen", "Bristol", "Cardiff", "Derby", "Exeter", "Falkirk", "Glasgow", "Hull", "Inverness", "Jarrow",
         "Kendal", "Leeds", "Margate", "Newport", "Oxford", "Perth", "Quorn", "Reading", "Salford", "Truro")


def put_many_branches(offices, count: int, days: int = 40) -> dict[str, str]:
    """``count`` branches known to the Head Office (code -> name), each with a sale on each of ``days`` days."""
    names = {f"b{i:03}": f"{TOWNS[i % len(TOWNS)]} {i // len(TOWNS) + 1}" for i in range(count)}
    init_head_office_database(offices.engine("ho"), names)
    rows = []
    for i, code in enumerate(names):
        for d in range(days):
            product = list(PRODUCTS)[(i + d) % len(PRODUCTS)]
            qty = 1 + (i * 7 + d) % 40
            line = compute_line(qty, PRODUCTS[product], RATE)
            rows.append({"branch": code, "sid": d + 1, "day": dt.date(2021, 4, 1) + dt.timedelta(days=d),
                         "region": ("East", "West", "North", "South")[i % 4], "product": product, "qty": qty,
                         "cost": PRODUCTS[product], "amt": line.amt, "tax": line.tax, "total": line.total})
    with offices.engine("ho").begin() as conn:
        conn.execute(text(
            "INSERT INTO sales (branch, branch_sale_id, sale_date, region, product, qty, cost, amt, tax, total, version) "
            "VALUES (:branch, :sid, :day, :region, :product, :qty, :cost, :amt, :tax, :total, 1)"), rows)
        fill_daily(conn)
    return names

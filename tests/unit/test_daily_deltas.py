"""The deltas one batch makes to the daily sums, without a database: a row's old contribution out, its new one
in, netted per group, nothing written for a group the batch leaves as it was."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from models.daily import DailyDeltas

DAY = dt.date(2021, 4, 29)


def row(product: str, qty: int, amt: str, day: dt.date = DAY) -> dict:
    return {"sale_date": day, "region": "East", "product": product, "qty": qty, "amt": Decimal(amt),
            "tax": Decimal("0.07") * qty, "total": Decimal(amt) + Decimal("0.07") * qty}


def test_an_edit_moves_its_sale_between_groups_and_a_new_sale_and_a_delete_count_one_each():
    deltas = DailyDeltas("bo1")
    deltas.add(row("Paper", 2, "25.90"), -1)       # sale 1 was Paper ...
    deltas.add(row("Pens", 3, "6.57"), +1)         # ... and is now Pens
    deltas.add(row("Pens", 1, "2.19"), +1)         # a new sale
    deltas.add(row("Ink", 1, "23.50", DAY - dt.timedelta(days=1)), -1)   # a deleted sale
    rows = deltas.rows()
    assert [(r["sale_date"], r["product"], r["sales"], r["qty"], r["amt"]) for r in rows] == [
        (DAY - dt.timedelta(days=1), "Ink", -1, -1, Decimal("-23.50")),
        (DAY, "Paper", -1, -2, Decimal("-25.90")),
        (DAY, "Pens", 2, 4, Decimal("8.76")),
    ]
    assert deltas.held == 0 and all(r["branch"] == "bo1" for r in rows)
    assert deltas.branch_row() == {"branch": "bo1", "sales": 0, "qty": 1, "amt": Decimal("-40.64"),
                                   "tax": Decimal("0.07"), "total": Decimal("-40.57")}


def test_an_edit_that_changes_nothing_the_sums_hold_writes_no_group():
    deltas = DailyDeltas("bo1")
    deltas.add(row("Paper", 2, "25.90"), -1)
    deltas.add(row("Paper", 2, "25.90"), +1)
    assert deltas.rows() == [] and deltas.branch_row() is None and deltas.held == 0

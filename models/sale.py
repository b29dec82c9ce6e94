"""The sale record and the rules a sale must satisfy, wherever it comes from.

The branch form, the Head Office consumer and the tests all call these checks, so
a value the form refuses is exactly a value the Head Office would dead-letter.
The columns themselves are declared once, in ``models.shape``.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from models.money import MAX_AMOUNT, MAX_COST, compute_line
from models.shape import DATE_MIN, FIELDS, QTY_MAX, SALE_SHAPE, check_count, check_date, check_money, check_text

TEXT_MAX = 64
__all__ = ["DATE_MIN", "FIELDS", "QTY_MAX", "TEXT_MAX", "Sale", "SaleInvalid", "check_received", "new_sale"]


@dataclass(frozen=True)
class Sale:
    """One row of product sales; money in Decimal, the date a ``datetime.date``."""

    sale_date: dt.date
    region: str
    product: str
    qty: int
    cost: Decimal
    amt: Decimal
    tax: Decimal
    total: Decimal

    def as_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Sale:
        return cls(**{name: values[name] for name in FIELDS})


class SaleInvalid(ValueError):
    """A sale was refused; ``errors`` maps each wrong field to a sentence."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def _check_cost(value: object) -> Decimal:
    return check_money("Cost", value, MAX_COST)


def new_sale(*, sale_date: object, region: object, product: object, qty: object, cost: object, tax_rate: Decimal) -> Sale:
    """Validate what a clerk (or a script) entered and compute Amt, Tax and Total.

    Surrounding spaces are trimmed.  Raises SaleInvalid naming every wrong field at once.
    """
    errors: dict[str, str] = {}
    checked: dict[str, Any] = {}
    for name, check, raw in (
        ("sale_date", lambda v: check_date("Date", v), sale_date),
        ("region", lambda v: check_text("Region", v, TEXT_MAX), region),
        ("product", lambda v: check_text("Product", v, TEXT_MAX), product),
        ("qty", lambda v: check_count("Qty", v), qty),
        ("cost", _check_cost, cost),
    ):
        try:
            checked[name] = check(raw)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise SaleInvalid(errors)
    line = compute_line(checked["qty"], checked["cost"], tax_rate)
    if line.total > MAX_AMOUNT:
        raise SaleInvalid({"qty": f"Total would exceed {MAX_AMOUNT}"})
    return Sale(amt=line.amt, tax=line.tax, total=line.total, **checked)


def check_received(values: Mapping[str, Any]) -> Sale:
    """Validate a sale as a branch holds it (Python values, or their text); raise ValueError with the reason.

    The branch computed Amt, Tax and Total; they must be consistent (Amt = Qty x Cost,
    Total = Amt + Tax, Tax between 0 and Amt) because the tax rate is the branch's.
    Text is kept exactly as the branch holds it: the Head Office never rewrites a value.
    (Messages are checked by the same rules, more strictly typed, in SALE_SHAPE.from_wire.)
    """
    return Sale.from_values(SALE_SHAPE.from_wire(SALE_SHAPE.to_wire([values[name] for name in FIELDS])))

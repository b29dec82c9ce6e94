"""The sale record and the rules a sale must satisfy, wherever it comes from.

The branch form, the Head Office consumer and the tests all call these checks, so
a value the form refuses is exactly a value the Head Office would dead-letter.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from models.money import MAX_AMOUNT, MAX_COST, compute_line, parse_money

TEXT_MAX = 64          # region and product are VARCHAR(64)
QTY_MAX = 2_147_483_647  # INT
DATE_MIN = dt.date(1000, 1, 1)  # MySQL's DATE range

# Characters no sale may hold, found by one C-level scan (never a Python loop per
# character): C0 and C1 controls and DEL, lone surrogates (no database can store
# them), and the bidirectional embeddings, overrides and isolates that make a text
# display as something other than what it holds.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
FIELDS = ("sale_date", "region", "product", "qty", "cost", "amt", "tax", "total")


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

    def as_row(self) -> dict:
        return {name: getattr(self, name) for name in FIELDS}


class SaleInvalid(ValueError):
    """A sale was refused; ``errors`` maps each wrong field to a sentence."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def _check_text(label: str, value: object, *, strip: bool = True) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{label} must be text")
    text = value.strip() if strip else value
    if not text.strip():
        raise ValueError(f"{label} cannot be empty")
    if len(text) > TEXT_MAX:
        raise ValueError(f"{label} is longer than {TEXT_MAX} characters")
    bad = _FORBIDDEN.search(text)
    if bad:
        raise ValueError(f"{label} contains {_kind_of(bad.group())}")
    return text


def _kind_of(char: str) -> str:
    """What a forbidden character is, in words a clerk can act on."""
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return "a character that is not valid Unicode text"
    if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        return f"a text-direction control (U+{code:04X}), which would make it display as something else"
    return f"a control character (U+{code:04X})"


def _check_qty(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("Qty must be a whole number")
    if isinstance(value, str):
        value = value.strip()
        if not value.lstrip("-").isdigit():
            raise ValueError("Qty must be a whole number, like 12")
        value = int(value)
    if not isinstance(value, int):
        raise ValueError("Qty must be a whole number")
    if value < 1:
        raise ValueError("Qty must be at least 1")
    if value > QTY_MAX:
        raise ValueError(f"Qty must be at most {QTY_MAX}")
    return value


def _check_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("Date must be a real day written YYYY-MM-DD, like 2021-04-29") from None
    if not isinstance(value, dt.date):
        raise ValueError("Date must be a date")
    if value < DATE_MIN:
        raise ValueError("Date is before the year 1000")
    return value


def _check_cost(value: object) -> Decimal:
    try:
        cost = parse_money(value)
    except ValueError as exc:
        raise ValueError(f"Cost: {exc}; write it like 12.95") from None
    if cost < 0:
        raise ValueError("Cost cannot be negative")
    if cost > MAX_COST:
        raise ValueError(f"Cost must be at most {MAX_COST}")
    return cost


def new_sale(*, sale_date, region, product, qty, cost, tax_rate: Decimal) -> Sale:
    """Validate what a clerk (or a script) entered and compute Amt, Tax and Total.

    Raises SaleInvalid naming every wrong field at once.
    """
    errors: dict[str, str] = {}
    checked: dict[str, object] = {}
    for name, check, raw in (
        ("sale_date", _check_date, sale_date),
        ("region", lambda v: _check_text("Region", v), region),
        ("product", lambda v: _check_text("Product", v), product),
        ("qty", _check_qty, qty),
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


def check_received(values: dict) -> Sale:
    """Validate a sale as received from a branch; raise ValueError with the reason.

    The branch computed Amt, Tax and Total; they must be consistent (Amt = Qty x Cost,
    Total = Amt + Tax, Tax between 0 and Amt) because the tax rate is the branch's.
    """
    sale_date = _check_date(values["sale_date"])
    # Stored exactly as the branch holds them: the Head Office never rewrites a value.
    region = _check_text("Region", values["region"], strip=False)
    product = _check_text("Product", values["product"], strip=False)
    qty = _check_qty(values["qty"])
    cost = _check_cost(values["cost"])
    amounts = {}
    for name in ("amt", "tax", "total"):
        try:
            amount = parse_money(values[name])
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        if not Decimal(0) <= amount <= MAX_AMOUNT:
            raise ValueError(f"{name} {amount} is outside 0 to {MAX_AMOUNT}")
        amounts[name] = amount
    if amounts["amt"] != qty * cost:
        raise ValueError(f"amt {amounts['amt']} is not qty x cost ({qty} x {cost})")
    if amounts["tax"] > amounts["amt"]:
        raise ValueError(f"tax {amounts['tax']} is more than amt {amounts['amt']}")
    if amounts["total"] != amounts["amt"] + amounts["tax"]:
        raise ValueError(f"total {amounts['total']} is not amt + tax")
    return Sale(sale_date=sale_date, region=region, product=product, qty=qty, cost=cost, **amounts)

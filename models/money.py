"""The one place where money is computed.

Every amount is a ``Decimal``; a float never enters.  Tax is the only value that
needs rounding (Amt = Qty x Cost is exact in cents), and it is rounded half-up to
cents here and nowhere else.  The seed table checks the rule: 945.35 at 7% gives
66.17 and 129.50 gives 9.07.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
_CENTS = re.compile(r"-?[0-9]{1,13}\.[0-9]{2}")  # ASCII digits only: what str(Decimal) writes for cents

# Column limits: cost is DECIMAL(10,2); amt, tax and total are DECIMAL(12,2).
MAX_COST = Decimal("99999999.99")
MAX_AMOUNT = Decimal("9999999999.99")
# No column holds more than 13 whole digits; a larger number is refused before any
# arithmetic, where Decimal would raise InvalidOperation rather than a sentence.
_LARGEST = Decimal("1e13")


def to_cents(value: Decimal) -> Decimal:
    """Round a Decimal half-up to whole cents."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_money(text: str | Decimal | int) -> Decimal:
    """Read an exact money value; raise ValueError with a sentence when it is not one.

    Accepts at most two decimals: a clerk who types 12.955 is told, not rounded.
    """
    if isinstance(text, str) and _CENTS.fullmatch(text):
        return Decimal(text)  # already exact to the cent: the common case, as every message carries it
    if isinstance(text, float) or isinstance(text, bool):
        raise ValueError("money must be given as text or Decimal, never as a float")
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a finite number")
    if abs(value) >= _LARGEST:
        raise ValueError(f"{str(text)[:40]!r} is too large to be an amount of money")
    if value != value.quantize(CENT, rounding=ROUND_HALF_UP):
        raise ValueError(f"{text!r} has more than two decimals")
    return value.quantize(CENT)


@dataclass(frozen=True)
class LineAmounts:
    """Amt, Tax and Total of one sale line."""

    amt: Decimal
    tax: Decimal
    total: Decimal


def compute_line(qty: int, cost: Decimal, tax_rate: Decimal) -> LineAmounts:
    """Amt = Qty x Cost; Tax = Amt x rate, half-up to cents; Total = Amt + Tax."""
    if isinstance(cost, float) or isinstance(tax_rate, float):  # type: ignore[unreachable]  # a caller without types
        raise TypeError("compute_line takes Decimal cost and rate, never float")
    amt = to_cents(Decimal(qty) * cost)
    tax = to_cents(amt * tax_rate)
    return LineAmounts(amt=amt, tax=tax, total=amt + tax)

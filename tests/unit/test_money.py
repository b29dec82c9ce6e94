"""Money is Decimal end to end, rounded half-up to cents in one place."""
from __future__ import annotations

from decimal import Decimal

import pytest

from models.money import compute_line, parse_money, to_cents

SEED = [  # the assignment's table: qty, cost, amt, tax, total
    (73, "12.95", "945.35", "66.17", "1011.52"),
    (33, "12.95", "427.35", "29.91", "457.26"),
    (14, "2.19", "30.66", "2.15", "32.81"),
    (40, "2.19", "87.60", "6.13", "93.73"),
    (21, "12.95", "271.95", "19.04", "290.99"),
    (10, "12.95", "129.50", "9.07", "138.57"),
]


@pytest.mark.parametrize("qty,cost,amt,tax,total", SEED)
def test_seed_table_amounts_are_reproduced_exactly(qty, cost, amt, tax, total):
    line = compute_line(qty, Decimal(cost), Decimal("0.07"))
    assert (line.amt, line.tax, line.total) == (Decimal(amt), Decimal(tax), Decimal(total))


def test_tax_rounds_half_up_not_to_even():
    assert to_cents(Decimal("9.065")) == Decimal("9.07")   # banker's rounding would give 9.06
    assert to_cents(Decimal("0.125")) == Decimal("0.13")
    assert to_cents(Decimal("66.1745")) == Decimal("66.17")


def test_float_money_is_refused():
    with pytest.raises(ValueError):
        parse_money(12.95)
    with pytest.raises(TypeError):
        compute_line(1, 12.95, Decimal("0.07"))


@pytest.mark.parametrize("text,reason", [("12.955", "more than two decimals"), ("abc", "not a number"), ("NaN", "not a finite")])
def test_bad_money_text_is_explained(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_money(text)


def test_money_results_are_decimals_with_two_places():
    line = compute_line(3, Decimal("0.10"), Decimal("0.07"))
    for value in (line.amt, line.tax, line.total):
        assert isinstance(value, Decimal) and value.as_tuple().exponent == -2


@pytest.mark.parametrize("text", ["1e30", "9" * 40, "-1e400", "1E+25", "123456789012345678901234567890.12"])
def test_amounts_too_large_for_any_column_are_refused_with_a_sentence_not_an_arithmetic_error(text):
    # Decimal's quantize raises InvalidOperation (an ArithmeticError, not a ValueError)
    # for these; once that ended the Head Office consumer and crashed the branch form.
    with pytest.raises(ValueError, match="too large"):
        parse_money(text)

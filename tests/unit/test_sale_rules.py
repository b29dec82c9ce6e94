"""The rules of a valid sale, as the form and the Head Office both apply them (no services)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from models.sale import SaleInvalid, check_received, new_sale

RATE = Decimal("0.07")


def received(**overrides) -> dict:
    values = {"sale_date": "2021-04-29", "region": "East", "product": "Pens", "qty": 2,
              "cost": "2.19", "amt": "4.38", "tax": "0.31", "total": "4.69"}
    return {**values, **overrides}


@pytest.mark.parametrize("text,reason", [
    ("Pens\ud800", "not valid Unicode text"),        # a lone surrogate: no database can store it
    ("Pe\x85ns", "control character"),              # C1 control (NEXT LINE)
    ("Pens\x9b", "control character"),              # C1 control (CSI)
    ("Pens\x7f", "control character"),              # DEL
    ("Pens\tclip", "control character"),
    ("\u202eneP", "text-direction control"),        # RIGHT-TO-LEFT OVERRIDE
    ("Pe\u2066ns", "text-direction control"),       # LEFT-TO-RIGHT ISOLATE
    ("\u3000", "cannot be empty"),                  # only an ideographic space
])
def test_text_that_would_break_or_disguise_a_record_is_refused_in_a_sentence(text, reason):
    with pytest.raises(ValueError, match=reason):
        check_received(received(product=text))
    with pytest.raises(SaleInvalid) as refused:
        new_sale(sale_date="2021-04-29", region="East", product=text, qty="2", cost="2.19", tax_rate=RATE)
    assert reason in refused.value.errors["product"]


@pytest.mark.parametrize("text", ["紙", "Crème brûlée", "Pens 😀", "'; DROP TABLE sales; --", "x" * 64])
def test_ordinary_text_of_any_script_and_four_byte_characters_is_kept_exactly(text):
    assert check_received(received(product=text)).product == text


def test_a_cost_too_large_for_any_column_is_a_sentence_beside_the_field():
    with pytest.raises(SaleInvalid) as refused:
        new_sale(sale_date="2021-04-29", region="East", product="Pens", qty="1", cost="1e30", tax_rate=RATE)
    assert "too large" in refused.value.errors["cost"]

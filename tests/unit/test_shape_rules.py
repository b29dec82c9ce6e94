"""The row shape without a database: the wire form, its strict types, and the digest of a change."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from models.shape import SALE_SHAPE, Field, Kind

VALUES = (dt.date(2021, 4, 29), "East", "Paper", 73, Decimal("12.95"), Decimal("945.35"), Decimal("66.17"),
          Decimal("1011.52"))


def test_the_wire_form_round_trips_exactly_and_a_copy_with_a_column_carries_it():
    assert SALE_SHAPE.from_wire(SALE_SHAPE.to_wire(VALUES)) == dict(zip(SALE_SHAPE.names, VALUES, strict=True))
    wider = SALE_SHAPE.extended(Field("channel", Kind.TEXT, "Channel", width=16))
    assert wider.from_wire([*SALE_SHAPE.to_wire(VALUES), "web"])["channel"] == "web"
    with pytest.raises(ValueError, match="Channel is longer than 16"):
        wider.from_wire([*SALE_SHAPE.to_wire(VALUES), "w" * 17])


@pytest.mark.parametrize("position,value,reason", [
    (0, 20210429, "sale_date must be sent as a string"),
    (3, "73", "qty must be sent as a whole number"),
    (3, True, "qty must be sent as a whole number"),
    (4, Decimal("12.95"), "cost must be sent as a string"),
])
def test_the_wire_is_strict_about_types(position, value, reason):
    items = SALE_SHAPE.to_wire(VALUES)
    items[position] = value
    with pytest.raises(ValueError, match=reason):
        SALE_SHAPE.from_wire(items)


def test_a_change_digests_the_same_from_the_wire_and_from_the_row_it_made_and_differently_otherwise():
    from_wire = SALE_SHAPE.from_wire(SALE_SHAPE.to_wire(VALUES))
    from_row = dict(zip(SALE_SHAPE.names, VALUES, strict=True))
    assert SALE_SHAPE.digest(7, 1, from_wire) == SALE_SHAPE.digest(7, 1, from_row)
    assert SALE_SHAPE.digest(7, 1, from_row) != SALE_SHAPE.digest(7, 1, {**from_row, "qty": 74})
    assert SALE_SHAPE.digest(7, 1, None) != SALE_SHAPE.digest(8, 1, None)
    assert -(2**63) <= SALE_SHAPE.digest(7, 1, from_row) < 2**63

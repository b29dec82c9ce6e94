"""The day digest: order does not matter, and moving a value from one row to another does."""
from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from models.day_totals import MODULUS, DayTotals, combine, row_hash
from models.money import compute_line

DAY = dt.date(2026, 11, 29)


def sale(product: str, qty: int, cost: str = "12.95") -> dict:
    line = compute_line(qty, Decimal(cost), Decimal("0.07"))
    return {"sale_date": DAY, "region": "East", "product": product, "qty": qty, "cost": Decimal(cost),
            "amt": line.amt, "tax": line.tax, "total": line.total}


ROWS = [(1, sale("Paper", 73)), (2, sale("Pens", 14, "2.19")), (3, sale("Paper", 10)), (4, sale("Ink", 3, "9.99"))]


def test_the_digest_is_the_same_in_any_order_of_the_rows():
    digests = {combine(row_hash(i, v) for i, v in order) for order in itertools.permutations(ROWS)}
    assert len(digests) == 1
    assert 0 <= digests.pop() < MODULUS


def test_two_rows_swapping_their_products_keep_every_sum_but_change_the_digest():
    (a, first), (b, second) = ROWS[0], ROWS[1]
    swapped = [(a, {**first, "product": second["product"]}), (b, {**second, "product": first["product"]})]
    assert combine(row_hash(i, v) for i, v in ROWS[:2]) != combine(row_hash(i, v) for i, v in swapped)


def test_two_sales_swapping_their_numbers_change_the_digest():
    (a, first), (b, second) = ROWS[0], ROWS[1]
    assert combine([row_hash(a, first), row_hash(b, second)]) != combine([row_hash(b, first), row_hash(a, second)])


def test_a_pair_of_equal_rows_does_not_cancel_out():
    _i, values = ROWS[0]
    one = combine([row_hash(7, values)])
    assert combine([row_hash(7, values), row_hash(7, values)]) not in (0, one)


def test_the_hash_reads_values_in_wire_form_whether_given_by_name_or_in_shape_order():
    i, values = ROWS[0]
    wire = [DAY.isoformat(), "East", "Paper", 73, "12.95", "945.35", "66.17", "1011.52"]
    assert row_hash(i, values) == row_hash(i, wire)


def test_totals_compare_every_figure_and_the_digest():
    base = DayTotals(DAY, 2, 5, Decimal("10.00"), Decimal("0.70"), Decimal("10.70"), 42)
    assert base.same_as(DayTotals(DAY, 2, 5, Decimal("10.00"), Decimal("0.70"), Decimal("10.70"), 42))
    assert not base.same_as(DayTotals(DAY, 2, 5, Decimal("10.00"), Decimal("0.70"), Decimal("10.70"), 43))
    assert "total 10.70" in base.words()


def test_the_state_of_a_day_is_certified_when_equal_in_flight_while_something_is_on_its_way_else_different():
    from models.day_close import DayState, derive_state

    held = DayTotals(DAY, 2, 5, Decimal("10.00"), Decimal("0.70"), Decimal("10.70"), 42)
    other = DayTotals(DAY, 3, 6, Decimal("11.00"), Decimal("0.77"), Decimal("11.77"), 43)
    assert derive_state(None, False, held, False) is DayState.UNKNOWN
    assert derive_state(held, True, held, True) is DayState.CERTIFIED
    assert derive_state(other, True, held, False) is DayState.IN_FLIGHT
    assert derive_state(other, False, held, True) is DayState.IN_FLIGHT
    assert derive_state(other, False, held, False) is DayState.DIFFERENT


def test_day_totals_travel_exactly_and_a_branch_may_not_report_a_day_twice():
    import pytest

    from sync import protocol
    from sync.protocol.messages import Poison, decode_from_branch

    totals = DayTotals(DAY, 2, 5, Decimal("10.00"), Decimal("0.70"), Decimal("10.70"), MODULUS - 1)
    body = protocol.encode_day_totals(protocol.DayTotalsReport("bo1", "o-1", 1, 7, [protocol.ReportedDay(totals, True)]))
    read = decode_from_branch(body, "zlib", ["bo1"])
    assert isinstance(read, protocol.DayTotalsReport) and read.days == [protocol.ReportedDay(totals, True)]
    twice = protocol.encode_day_totals(protocol.DayTotalsReport("bo1", "o-1", 1, 7, [protocol.ReportedDay(totals, True)] * 2))
    with pytest.raises(Poison, match="repeated"):
        decode_from_branch(twice, "zlib", ["bo1"])


def test_a_receipt_says_the_head_office_reads_day_close_and_a_headerless_one_does_not():
    import pika

    from sync import protocol

    assert protocol.DAY_CLOSE_FEATURE in protocol.read_envelope(protocol.receipt_properties(2)).features
    older = pika.BasicProperties(headers={"x-sync-version": 2})
    assert protocol.read_envelope(older).features == ()


@pytest.mark.parametrize("day, why", [
    (["2026-02-30", 1, 1, "1.00", "0.07", "1.07", "0000000000000005", False], "not a real day"),
    (["2026-11-29", 1, 1, 1.0, "0.07", "1.07", "0000000000000005", False], "not a sum in cents"),
    (["2026-11-29", 1, 1, "1.00", "0.07", "1.07", "5", False], "16 hexadecimal"),
    (["2026-11-29", -1, 1, "1.00", "0.07", "1.07", "0000000000000005", False], "not what a branch writes"),
    (["2026-11-29", 1, 1, "1.00", "0.07", "1.07", "0000000000000005", "no"], "not what a branch writes"),
    (["2026-11-29", 1, 1, "1.00"], "totals are not"),
])
def test_day_totals_a_branch_would_never_write_are_refused_with_a_sentence(day, why):
    import json
    import zlib

    from sync.protocol.messages import Poison, decode_from_branch

    body = zlib.compress(json.dumps({"v": 2, "type": "day-totals", "branch": "bo1", "origin": "o", "at": 1,
                                     "through": 0, "since": 0, "days": [day]}).encode())
    with pytest.raises(Poison, match=why):
        decode_from_branch(body, "zlib", ["bo1"])

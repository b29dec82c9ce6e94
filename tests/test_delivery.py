"""A sale committed at a branch reaches the Head Office once, with exact values."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text

from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay
from tests.harness import (
    assert_converged,
    change_qty,
    delete_sale,
    head_office_rows,
    insert_sales,
    running,
)


def test_sale_at_each_of_three_branches_reaches_head_office_with_exact_values(offices):
    for i, b in enumerate(offices.branches):
        insert_sales(offices.engine(b.code), 5, start=i * 10, region=b.region)
    relays = [OutboxRelay(b) for b in offices.branches]
    with running(IntakeConsumer(offices.ho), *relays):
        assert_converged(offices)
    rows = head_office_rows(offices.engine("ho"))
    assert len(rows) == 15
    assert {r[0] for r in rows} == {"bo1", "bo2", "bo3"}
    for row in rows:
        assert isinstance(row[6], Decimal) and row[7] == row[5] * row[6]


def test_rows_written_with_plain_sql_are_captured_and_delivered(offices):
    bo = offices.engine("bo1")
    with bo.begin() as conn:
        conn.execute(text(
            "INSERT INTO sales (sale_date, region, product, qty, cost, amt, tax, total) VALUES "
            "('2021-04-29','East','Paper',73,12.95,945.35,66.17,1011.52),"
            "('2021-05-01','West','Paper',10,12.95,129.50,9.07,138.57)"
        ))
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        assert_converged(offices)
    totals = sorted(r[-1] for r in head_office_rows(offices.engine("ho")))
    assert totals == [Decimal("138.57"), Decimal("1011.52")]


def test_updates_and_deletes_reach_head_office_on_synced_and_unsent_rows(offices):
    bo = offices.engine("bo1")
    ids = insert_sales(bo, 4)
    consumer, relay = IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))
    with running(consumer, relay):
        assert_converged(offices)
        change_qty(bo, ids[0], qty=500)      # synced row, updated
        delete_sale(bo, ids[1])               # synced row, deleted
        assert_converged(offices)
    late = insert_sales(bo, 3, start=100)     # never sent...
    change_qty(bo, late[0], qty=7, cost="2.19")  # ...then changed
    delete_sale(bo, late[1])                  # ...or deleted before anyone saw it
    change_qty(bo, ids[2], qty=1)
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        assert_converged(offices)
    held = {r[1]: r for r in head_office_rows(offices.engine("ho"))}
    assert ids[1] not in held and late[1] not in held
    assert held[ids[0]][5] == 500 and held[late[0]][5] == 7 and held[ids[2]][5] == 1


def test_extreme_money_values_round_trip_exactly_through_the_whole_pipeline(offices):
    from tests.harness import INSERT, sale_values

    bo = offices.engine("bo1")
    cheap, dear = sale_values(1, qty=1, cost="0.01"), sale_values(2, qty=90, cost="99999999.99")
    with bo.begin() as conn:
        conn.execute(INSERT, [cheap, dear])
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        assert_converged(offices)
    totals = sorted(r[-1] for r in head_office_rows(offices.engine("ho")))
    assert totals == [Decimal("0.01"), Decimal("9629999999.04")]

"""Every committed change to a branch's sales is captured in the same transaction."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from models.setup import init_branch_database
from models.shape import SALE_SHAPE
from sync.outbox import Outbox
from sync.protocol import encode_changes
from tests.harness import INSERT, change_qty, delete_sale, insert_sales, sale_values


def outbox(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT seq, sale_id, op, qty, state FROM sync_outbox ORDER BY seq")).all()


def test_insert_update_and_delete_are_each_captured_in_order(offices):
    bo = offices.engine("bo1")
    (sale_id,) = insert_sales(bo, 1)
    change_qty(bo, sale_id, qty=9)
    delete_sale(bo, sale_id)
    assert [(r.sale_id, r.op, r.qty, r.state) for r in outbox(bo)] == [
        (sale_id, "u", 1, 0), (sale_id, "u", 9, 0), (sale_id, "d", None, 0),
    ]


def test_a_rolled_back_sale_leaves_nothing_to_send(offices):
    bo = offices.engine("bo1")
    with bo.connect() as conn:
        trans = conn.begin()
        conn.execute(INSERT, sale_values(1))
        trans.rollback()
    assert outbox(bo) == []


def test_an_uncommitted_sale_is_invisible_to_the_relay_until_commit(offices):
    from sync.outbox import Outbox

    bo = offices.engine("bo1")
    with bo.connect() as conn:
        trans = conn.begin()
        conn.execute(INSERT, sale_values(1))
        assert Outbox(bo).pending_batch(100) == []
        trans.commit()
    assert len(Outbox(bo).pending_batch(100)) == 1


def test_changing_a_sale_id_is_sent_as_a_delete_and_an_insert(offices):
    bo = offices.engine("bo1")
    (sale_id,) = insert_sales(bo, 1)
    with bo.begin() as conn:
        conn.execute(text("UPDATE sales SET id = 1000 WHERE id = :i"), {"i": sale_id})
    assert [(r.sale_id, r.op) for r in outbox(bo)][-2:] == [(sale_id, "d"), (1000, "u")]


def test_the_branch_database_refuses_impossible_rows_from_any_writer(offices):
    bo = offices.engine("bo1")
    bad = sale_values(1)
    bad["qty"] = -1
    with pytest.raises(DBAPIError), bo.begin() as conn:
        conn.execute(INSERT, bad)
    wrong_total = sale_values(2)
    wrong_total["total"] += 1
    with pytest.raises(DBAPIError), bo.begin() as conn:
        conn.execute(INSERT, wrong_total)
    assert outbox(bo) == []


def test_installing_sync_on_a_database_with_sales_queues_all_of_them_once(offices):
    bo = offices.engine("bo1")
    with bo.begin() as conn:  # as if the branch had sales before Branch Sync was installed
        for name in ("sales_capture_insert", "sales_capture_update", "sales_capture_delete"):
            conn.execute(text(f"DROP TRIGGER {name}"))
        conn.execute(text("DROP TABLE sync_outbox"))
        conn.execute(text("DROP TABLE sync_state"))
    insert_sales(bo, 25)
    done = init_branch_database(bo)
    assert done.queued == 25 and len(done.triggers_created) == 3
    again = init_branch_database(bo)
    assert (again.triggers_created, again.queued) == ([], 0)
    assert len(outbox(bo)) == 25


def test_the_outbox_reads_dates_and_amounts_as_exactly_the_text_of_their_values(offices):
    # The relay reads the date and the money as the server's text, to skip building
    # objects it would only write back; that text must be what the values say.
    bo = offices.engine("bo1")
    edges = [("0.00", 1, dt.date(2000, 2, 29)), ("0.01", 1, dt.date(1999, 12, 31)), ("99999.99", 10, dt.date(2038, 1, 19)),
             ("12.95", 73, dt.date(2021, 4, 29)), ("2.19", 100_000, dt.date(2021, 5, 1)), ("10.10", 3, dt.date(9999, 12, 31))]
    with bo.begin() as conn:
        for i, (cost, qty, day) in enumerate(edges):
            conn.execute(INSERT, sale_values(i, qty=qty, cost=cost, day=day))
    read = Outbox(bo).pending_batch(100)
    with bo.connect() as conn:
        typed = conn.execute(text(
            "SELECT seq, sale_id, op, sale_date, region, product, qty, cost, amt, tax, total FROM sync_outbox ORDER BY seq"
        )).all()
    assert len(read) == len(edges)
    for text_row, typed_row in zip(read, typed, strict=True):
        assert text_row[3] == typed_row[3].isoformat()
        assert list(text_row[7:11]) == [str(v) for v in typed_row[7:11]]
        assert [Decimal(v) for v in text_row[7:11]] == list(typed_row[7:11])
    as_wire = [(*r[:3], *SALE_SHAPE.to_wire(r[3:])) for r in typed]
    assert encode_changes("bo1", "o", read, 0, 1)[0] == encode_changes("bo1", "o", as_wire, 0, 1)[0]

"""Every committed change to a branch's sales is captured in the same transaction."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from models.schema import init_branch_schema
from tests.harness import INSERT, delete_sale, insert_sales, sale_values, update_sale


def outbox(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT seq, sale_id, op, qty, state FROM sync_outbox ORDER BY seq")).all()


def test_insert_update_and_delete_are_each_captured_in_order(offices):
    bo = offices.engine("bo1")
    (sale_id,) = insert_sales(bo, 1)
    update_sale(bo, sale_id, qty=9)
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
    done = init_branch_schema(bo)
    assert done["initial_load"] == 25 and len(done["triggers_created"]) == 3
    assert init_branch_schema(bo) == {"triggers_created": [], "initial_load": 0}
    assert len(outbox(bo)) == 25

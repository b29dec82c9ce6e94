"""The branch database refuses what the Head Office would refuse, whoever writes it; a row
that slips past (its checks switched off) is refused by the Head Office with a reason the
branch keeps beside the sale."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from sync.intake import IntakeConsumer
from sync.outbox import Outbox
from sync.relay import OutboxRelay
from tests.harness import running, wait_for

GOOD = {"sale_date": "2021-04-29", "region": "East", "product": "Pens", "qty": 2, "cost": "2.19", "amt": "4.38",
        "tax": "0.31", "total": "4.69"}
INSERT = ("INSERT INTO sales (sale_date, region, product, qty, cost, amt, tax, total) "
          "VALUES (:sale_date, :region, :product, :qty, :cost, :amt, :tax, :total)")


@pytest.mark.parametrize("sql_mode", ["", "STRICT_TRANS_TABLES"])
@pytest.mark.parametrize("change", [
    {"sale_date": "0000-00-00"}, {"sale_date": "0999-12-31"}, {"region": ""}, {"region": "   "},
    {"product": "Paper\tclip"}, {"product": "Pe\u0085ns"}, {"product": "\u202eneP"},
], ids=["zero date", "before year 1000", "empty region", "blank region", "tab", "C1 control", "bidi override"])
def test_the_branch_table_refuses_what_the_head_office_would_refuse_in_any_sql_mode(offices, change, sql_mode):
    with pytest.raises(DBAPIError):
        with offices.engine("bo1").begin() as conn:
            conn.execute(text("SET SESSION sql_mode = :m"), {"m": sql_mode})
            conn.execute(text(INSERT), {**GOOD, **change})
    with offices.engine("bo1").connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM sales")).scalar_one() == 0


def test_a_row_written_with_checks_off_is_refused_by_the_head_office_and_the_reason_kept_at_the_branch(offices):
    bo = offices.engine("bo1")
    with bo.begin() as conn:
        conn.execute(text("SET SESSION check_constraint_checks = 0"))
        conn.execute(text(INSERT), {**GOOD, "product": "Paper\tclip"})
        conn.execute(text(INSERT), GOOD)
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        refused = wait_for(lambda: Outbox(bo).refused(), 60, "the Head Office's refusal to reach the branch")
    ((sale_id, reason),) = refused
    assert sale_id == 1 and "control character" in reason


def test_capture_refuses_a_zero_date_even_when_the_writer_switched_the_checks_off(offices):
    # The triggers were created under a strict sql_mode, which they keep whatever the writer's.
    with pytest.raises(DBAPIError):
        with offices.engine("bo1").begin() as conn:
            conn.execute(text("SET SESSION sql_mode = ''"))
            conn.execute(text("SET SESSION check_constraint_checks = 0"))
            conn.execute(text(INSERT), {**GOOD, "sale_date": "0000-00-00"})
    with offices.engine("bo1").connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM sales")).scalar_one() == 0

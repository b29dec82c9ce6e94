"""Day close against the real services: totals certify a day, a difference surfaces and a resend repairs it.

Each branch-day's state is read as ``reconcile`` and the Day close view read it
(models/day_close.py), from the branch's last reported totals and the rows the Head
Office holds at that moment.
"""
from __future__ import annotations

import datetime as dt
import subprocess
import sys

from sqlalchemy import text

from models.day_close import DayState, day_close
from models.day_totals import branch_totals, combine, head_office_totals, row_hash
from models.schema import bo_sales, ho_sales
from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay
from tests.harness import ROOT, change_qty, insert_sales, running, wait_for

TODAY = dt.date.today()
OLD = TODAY - dt.timedelta(days=40)


def states(offices, branch: str = "bo1") -> dict[dt.date, DayState]:
    return {d.day: d.state for d in day_close(offices.engine("ho"), [branch])}


def all_certified(offices, days, branch: str = "bo1") -> bool:
    now = states(offices, branch)
    return all(now.get(d) is DayState.CERTIFIED for d in days)


def sync_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sync", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_database_computes_the_same_row_hashes_and_totals_as_python_at_both_ends(make_offices):
    offices = make_offices(branches=1)
    ids = insert_sales(offices.engine("bo1"), 5, day=OLD)
    with offices.engine("bo1").begin() as conn:  # text in several scripts, 4-byte characters included
        conn.execute(text("UPDATE sales SET product = :p WHERE id = :id"), {"p": "Crème brûlée 𝄞 文具", "id": ids[0]})
    with offices.engine("bo1").connect() as conn:
        rows = conn.execute(text("SELECT id, sale_date, region, product, qty, cost, amt, tax, total FROM sales")).all()
        totals = branch_totals(conn, bo_sales)[OLD]
    assert totals.digest == combine(row_hash(r[0], list(r[1:])) for r in rows)
    assert totals.rows == 5 and totals.total == sum(r[8] for r in rows)
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        wait_for(lambda: all_certified(offices, [OLD]), 60, "the day to be certified")
    with offices.engine("ho").connect() as conn:
        assert head_office_totals(conn, ho_sales, "bo1")[OLD] == totals


def test_a_day_certifies_after_ordinary_traffic_and_a_late_change_reopens_and_recertifies_it(make_offices):
    offices = make_offices(branches=2)
    bo1 = offices.engine("bo1")
    insert_sales(bo1, 20, day=OLD)
    insert_sales(bo1, 10, day=TODAY)
    insert_sales(offices.engine("bo2"), 5, day=TODAY)
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1")), OutboxRelay(offices.branch("bo2"))):
        wait_for(lambda: all_certified(offices, [OLD, TODAY]) and all_certified(offices, [TODAY], "bo2"), 60,
                 "both days of bo1 and bo2's day to be certified")
    with bo1.begin() as conn:
        old_sale = conn.execute(text("SELECT MIN(id) FROM sales WHERE sale_date = :d"), {"d": OLD}).scalar_one()
        # Hold the branch's next totals back (as if they were still on their way): it sends none until the
        # Head Office answers it again.
        conn.execute(text("DELETE FROM sync_state WHERE name = 'ho_version'"))
    change_qty(bo1, old_sale, 99)  # a late change of the old day, by plain SQL
    OutboxRelay(offices.branch("bo1")).run_once(receipt_wait=0)  # the change goes, its day's totals do not
    with running(IntakeConsumer(offices.ho)):
        wait_for(lambda: _held_qty(offices, old_sale) == 99, 30, "the late change to be applied")
        now = states(offices)
        assert now[OLD] is DayState.IN_FLIGHT and now[TODAY] is DayState.CERTIFIED
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        wait_for(lambda: all_certified(offices, [OLD, TODAY]), 60, "the old day to be certified again")
    with offices.engine("ho").connect() as conn:
        assert head_office_totals(conn, ho_sales, "bo1")[OLD].qty == _branch_qty(bo1, OLD)


def _branch_qty(engine, day: dt.date) -> int:
    with engine.connect() as conn:
        return branch_totals(conn, bo_sales, [day])[day].qty


def _held_qty(offices, sale_id: int) -> int | None:
    with offices.engine("ho").connect() as conn:
        return conn.execute(text("SELECT qty FROM sales WHERE branch = 'bo1' AND branch_sale_id = :i"),
                            {"i": sale_id}).scalar()

"""Day close against the real services: totals certify a day, a difference surfaces and a resend repairs it.

Each branch-day's state is read as ``reconcile`` and the Day close view read it
(models/day_close.py), from the branch's last reported totals and the rows the Head
Office holds at that moment.
"""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal

from sqlalchemy import inspect, text

from models.day_close import Ask, DayState, ask_branch, day_close, sale_differences
from models.day_totals import DayTotals, branch_totals, combine, head_office_totals, row_hash
from models.schema import bo_sales, ho_sales
from sync.alert_conditions import Facts, day_different
from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay
from tests.harness import (
    ROOT,
    change_qty,
    delete_sale,
    dump_database,
    insert_sales,
    restore_database,
    running,
    wait_for,
)
from tests.test_summaries import sums_and_group_by

TODAY = dt.date.today()
OLD = TODAY - dt.timedelta(days=40)


def states(offices, branch: str = "bo1") -> dict[dt.date, DayState]:
    return {d.day: d.state for d in day_close(offices.engine("ho"), [branch])}


def all_certified(offices, days, branch: str = "bo1") -> bool:
    now = states(offices, branch)
    return all(now.get(d) is DayState.CERTIFIED for d in days)


def day_alerts(offices) -> list[tuple[str, str]]:
    """What the Head Office's "day different" alert condition finds now: (branch, sentence)."""
    with offices.engine("ho").connect() as conn:
        now = dt.datetime.now()
        facts = Facts(conn, offices.ho, now, now, None, frozenset(inspect(conn).get_table_names()))
        return [(f.branch, f.sentence) for f in day_different(facts) or []]


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
        conn.execute(text("DELETE FROM sync_state WHERE name = 'ho_day_close'"))
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


def reconcile(offices, *args: str) -> subprocess.CompletedProcess:
    return sync_command("reconcile", "--config", str(offices.paths["ho"]), *args)


def resend(offices, day: dt.date, branch: str = "bo1") -> subprocess.CompletedProcess:
    return sync_command("resend", "--config", str(offices.paths[branch]), "--date", day.isoformat())


def test_sales_written_with_capture_off_make_the_day_different_with_those_sales_named_until_repaired(make_offices):
    offices = make_offices(branches=1, capture_check_minutes=0.02)
    bo1, ho = offices.engine("bo1"), offices.engine("ho")
    insert_sales(bo1, 5, day=OLD)
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        wait_for(lambda: all_certified(offices, [OLD]), 60, "the day to be certified")
        with bo1.begin() as conn:
            conn.execute(text("DROP TRIGGER sales_capture_insert"))
        missing = insert_sales(bo1, 3, start=10, day=OLD)
        wait_for(lambda: states(offices)[OLD] is DayState.DIFFERENT, 60, "the day to show different")
        assert reconcile(offices).returncode == 1
        ask_branch(ho, "bo1", OLD, Ask.SALES)
        differs = wait_for(lambda: (d := sale_differences(ho, "bo1", OLD)).answered_at and d, 30, "the branch's sales")
        assert (differs.missing, differs.extra, differs.changed) == (missing, [], [])
        refused = resend(offices, OLD)  # capture still broken: nothing is sent, in one sentence
        assert refused.returncode == 5 and "init-db" in refused.stderr and "Traceback" not in refused.stderr
        repaired = sync_command("init-db", "--config", str(offices.paths["bo1"]))
        assert repaired.returncode == 0, repaired.stderr
        done = resend(offices, OLD)
        assert done.returncode == 0 and "8 sale(s)" in done.stdout, done.stderr
        wait_for(lambda: all_certified(offices, [OLD]), 60, "the day to be certified again")
    checked = reconcile(offices, "--branch", "bo1")
    assert checked.returncode == 0 and f"bo1 {OLD} certified" in checked.stdout


def test_a_row_edited_and_a_row_deleted_by_hand_at_the_head_office_are_found_and_put_right_by_a_resend(make_offices):
    offices = make_offices(branches=1)
    bo1, ho = offices.engine("bo1"), offices.engine("ho")
    edited, removed, deleted_here, *_ = insert_sales(bo1, 6, day=OLD)
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        with bo1.begin() as conn:
            conn.execute(text("DELETE FROM sales WHERE id = :i"), {"i": deleted_here})  # a real delete, captured
        wait_for(lambda: all_certified(offices, [OLD]) and _held_qty(offices, deleted_here) is None, 60,
                 "the day to be certified")
    before = {r[0]: tuple(r) for r in _held_rows(ho)}
    with ho.begin() as conn:
        conn.execute(text("UPDATE sales SET qty = qty + 1 WHERE branch = 'bo1' AND branch_sale_id = :i"), {"i": edited})
        conn.execute(text("DELETE FROM sales WHERE branch = 'bo1' AND branch_sale_id = :i"), {"i": removed})
        conn.execute(text("INSERT INTO sales (branch, branch_sale_id, sale_date, region, product, qty, cost, amt, tax, "
                          "total, version) SELECT branch, 9999, sale_date, region, product, qty, cost, amt, tax, total, 1 "
                          "FROM sales WHERE branch = 'bo1' AND branch_sale_id = :i"), {"i": edited})
    assert states(offices)[OLD] is DayState.DIFFERENT  # at once: the Head Office's rows are read as they are now
    ((branch, sentence),) = day_alerts(offices)  # and the alert condition finds it, naming the day
    assert branch == "bo1" and f"{OLD:%Y-%m-%d}" in sentence
    found = reconcile(offices, "--from", OLD.isoformat(), "--to", OLD.isoformat())
    assert found.returncode == 1 and f"bo1 {OLD} different: branch 5 sale(s)" in found.stdout
    assert "Head Office 5 sale(s)" in found.stdout  # one row fewer, one row more: only the digest tells
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        ask_branch(ho, "bo1", OLD, Ask.SALES)
        differs = wait_for(lambda: (d := sale_differences(ho, "bo1", OLD)).answered_at and d, 30, "the branch's sales")
        assert (differs.missing, differs.extra, differs.changed) == ([removed], [9999], [edited])
    with running(IntakeConsumer(offices.ho)):  # the branch's agent need not run: the command sends
        for _ in range(2):  # a resend can be repeated
            done = resend(offices, OLD)
            assert done.returncode == 0, done.stderr
            wait_for(lambda: all_certified(offices, [OLD]), 30, "the day to be certified by the resend")
    assert {r[0]: tuple(r) for r in _held_rows(ho)} == before  # edited back, deleted back, extra gone
    assert _held_qty(offices, deleted_here) is None  # a sale deleted at the branch never comes back
    assert reconcile(offices).returncode == 0
    assert day_alerts(offices) == []
    sums, grouped, _emptied, _held = sums_and_group_by(ho)  # the window's sums are repaired with the day
    assert sums == grouped


def _held_rows(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(text("SELECT branch_sale_id, sale_date, region, product, qty, cost, amt, tax, total "
                                 "FROM sales WHERE branch = 'bo1' ORDER BY branch_sale_id")).all()


def test_a_head_office_restored_from_an_older_dump_finds_every_day_it_lost_and_resends_repair_them(make_offices, tmp_path):
    offices = make_offices(branches=1)
    bo1, ho = offices.engine("bo1"), offices.engine("ho")
    a_day, b_day, c_day = OLD, OLD + dt.timedelta(days=1), OLD + dt.timedelta(days=2)
    doomed, *_ = insert_sales(bo1, 4, day=a_day)
    insert_sales(bo1, 4, day=b_day)
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        wait_for(lambda: all_certified(offices, [a_day, b_day]), 60, "both days certified")
    dump = tmp_path / "ho.sql"
    dump_database(offices.ho.db_url, dump)
    # The branches keep selling: more sales of b and c, a sale of a deleted; all of it reaches the Head Office.
    insert_sales(bo1, 2, start=20, day=b_day)
    insert_sales(bo1, 3, start=30, day=c_day)
    delete_sale(bo1, doomed)
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        wait_for(lambda: all_certified(offices, [a_day, b_day, c_day]) and _held_qty(offices, doomed) is None, 60,
                 "every day certified")
    ho.dispose()
    restore_database(offices.ho.db_url, dump)  # the Head Office goes back to the older dump
    assert _held_qty(offices, doomed) is not None  # the deleted sale is back there, for now
    insert_sales(bo1, 1, start=40, day=TODAY)  # and the branch sells on
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        wait_for(lambda: [states(offices).get(d) for d in (a_day, b_day, c_day)] == [DayState.DIFFERENT] * 3, 60,
                 "each day the Head Office lost to show different")
        wait_for(lambda: states(offices).get(TODAY) is DayState.CERTIFIED, 60, "today's sale, sold after the restore")
        repaired = sync_command("resend", "--config", str(offices.paths["bo1"]), "--from", a_day.isoformat(),
                                "--to", c_day.isoformat())
        assert repaired.returncode == 0, repaired.stderr
        wait_for(lambda: all_certified(offices, [a_day, b_day, c_day, TODAY]), 60, "every day certified again")
    assert _held_qty(offices, doomed) is None  # the delete holds: removed again, never resurrected
    with ho.connect() as conn:
        assert head_office_totals(conn, ho_sales, "bo1") == {d: t for d, t in _branch_all(bo1).items()}
    assert reconcile(offices).returncode == 0
    sums, grouped, _emptied, _held = sums_and_group_by(ho)
    assert sums == grouped


def _branch_all(engine) -> dict:
    with engine.connect() as conn:
        return branch_totals(conn, bo_sales)


def test_a_branch_can_only_report_its_own_days(make_offices):
    from sync import protocol
    from tests.harness import dead_letters, publish_raw

    offices = make_offices(branches=2)
    totals = protocol.ReportedDay(
        DayTotals(OLD, 1, 1, Decimal("1.00"), Decimal("0.07"), Decimal("1.07"), 5), False)
    body = protocol.encode_day_totals(protocol.DayTotalsReport("bo2", "some-origin", 1, 0, [totals]))
    with running(IntakeConsumer(offices.ho)):
        publish_raw(offices, body, branch="bo1")  # through bo1's own exchange, in bo2's name
        parked = wait_for(lambda: dead_letters(offices.engine("ho")), 30, "the message parked")
    assert "speaks for branch bo2" in parked[0].reason and parked[0].branch == "bo1"
    with offices.engine("ho").connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM sync_day_totals")).scalar_one() == 0

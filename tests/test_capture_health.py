"""Capture that stops working is noticed, said everywhere, and repaired by init-db.

Reproduced on a7d5714: after a year-end archive (`RENAME TABLE sales TO sales_old;
CREATE TABLE sales LIKE sales_old`) the triggers stayed on the old table, init-db saw
their names and did nothing, new sales were never queued and status said
"pending 0"; after TRUNCATE the ids restarted and overwrote Head Office rows.
"""
from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay
from tests.harness import (
    INSERT,
    ROOT,
    assert_converged,
    branch_rows,
    change_qty,
    finish,
    head_office_rows,
    insert_sales,
    running,
    sale_values,
    spawn,
    wait_for,
)


def sync_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sync", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def run_sql(engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def synced(offices, count: int) -> set[tuple]:
    insert_sales(offices.engine("bo1"), count)
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        assert_converged(offices)
    return head_office_rows(offices.engine("ho"))


def test_a_year_end_table_swap_is_reported_everywhere_and_repaired_by_init_db(offices):
    bo = offices.engine("bo1")
    before = synced(offices, 10)
    run_sql(bo, "RENAME TABLE sales TO sales_2025", "CREATE TABLE sales LIKE sales_2025")
    insert_sales(bo, 3, start=50)  # ids 1..3 again, and no trigger sees them

    status = sync_command("status", "--config", str(offices.paths["bo1"]))
    assert status.returncode != 0 and "capture" in status.stdout and "not installed" in status.stdout, status.stdout
    with running(IntakeConsumer(offices.ho)):
        once = spawn("bo_app.py", offices.paths["bo1"], "--once")
        said = finish(once)
        assert once.returncode != 0 and "capture" in said and "Traceback" not in said, said
        ho_status = wait_for(lambda: (s := sync_command("status", "--config", str(offices.paths["ho"])))
                             and "capture" in s.stdout and s, 30, "the Head Office to hear that bo1's capture is broken")
        assert "bo1" in ho_status.stdout

    # The archived year stays at the Head Office: the operator says so once.
    repaired = sync_command("init-db", "--config", str(offices.paths["bo1"]), "--vanished", "keep")
    assert repaired.returncode == 0, repaired.stderr
    assert "3 sale(s) written while capture was off" in repaired.stdout and "renumbered" in repaired.stdout, repaired.stdout
    assert "10 sale(s) removed without capture are kept at the Head Office" in repaired.stdout, repaired.stdout
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        new = branch_rows(bo, "bo1")
        wait_for(lambda: head_office_rows(offices.engine("ho")) == before | new, 60,
                 "the three sales, renumbered, beside the ten the Head Office already held")
    assert min(row[1] for row in new) > 10
    assert sync_command("status", "--config", str(offices.paths["bo1"])).returncode == 0


def test_truncate_is_noticed_and_a_reused_sale_number_never_overwrites_an_older_head_office_row(offices):
    bo = offices.engine("bo1")
    before = synced(offices, 10)
    run_sql(bo, "TRUNCATE TABLE sales")
    with pytest.raises(DBAPIError, match="was used by an earlier sale"):
        with bo.begin() as conn:
            conn.execute(INSERT, sale_values(99))
    status = sync_command("status", "--config", str(offices.paths["bo1"]))
    assert status.returncode != 0 and "10 sale(s)" in status.stdout and "without capture" in status.stdout, status.stdout

    repaired = sync_command("init-db", "--config", str(offices.paths["bo1"]), "--vanished", "keep")
    assert repaired.returncode == 0, repaired.stderr
    insert_sales(bo, 1, start=99)
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        wait_for(lambda: len(head_office_rows(offices.engine("ho"))) == 11, 60, "the new sale beside the old ones")
    assert before < head_office_rows(offices.engine("ho"))
    assert sync_command("status", "--config", str(offices.paths["bo1"])).returncode == 0


def test_a_trigger_with_the_right_name_but_another_definition_is_noticed_and_reinstalled(offices):
    bo = offices.engine("bo1")
    synced(offices, 3)
    run_sql(bo, "DROP TRIGGER sales_capture_update",
            "CREATE TRIGGER sales_capture_update AFTER UPDATE ON sales FOR EACH ROW SET @ignored = NEW.id")
    change_qty(bo, 1, qty=40)
    status = sync_command("status", "--config", str(offices.paths["bo1"]))
    assert status.returncode != 0 and "sales_capture_update" in status.stdout, status.stdout
    assert sync_command("init-db", "--config", str(offices.paths["bo1"])).returncode == 0
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        assert_converged(offices)  # the update made while capture was wrong arrives too


def test_sales_written_while_capture_was_off_are_found_and_queued_by_init_db(offices):
    bo = offices.engine("bo1")
    synced(offices, 5)
    run_sql(bo, "DROP TRIGGER sales_capture_insert", "DROP TRIGGER sales_capture_update")
    insert_sales(bo, 2, start=40)
    change_qty(bo, 2, qty=33)
    status = sync_command("status", "--config", str(offices.paths["bo1"]))
    assert status.returncode != 0 and "3 sale(s)" in status.stdout, status.stdout
    assert sync_command("init-db", "--config", str(offices.paths["bo1"])).returncode == 0
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        assert_converged(offices)

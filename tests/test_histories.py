"""A branch database restored from a backup, copied, or re-created is noticed whenever its
second history meets the first, whatever the clocks and the order of arrival; the
second history is parked, both sides are told, and only a person adopts it."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

from sqlalchemy import text

from sync.intake import IntakeConsumer
from sync.outbox import Outbox
from sync.relay import OutboxRelay
from sync.status import branch_progress
from tests.harness import (
    ROOT,
    assert_converged,
    branch_rows,
    changes_body,
    dead_letters,
    dump_database,
    head_office_rows,
    insert_sales,
    publish_raw,
    restore_database,
    running,
    upsert,
    wait_for,
)
from tests.test_summaries import sums_and_group_by


def bo1_at_head_office(offices) -> set[tuple]:
    return {r for r in head_office_rows(offices.engine("ho")) if r[0] == "bo1"}


def alert_of(offices, code: str = "bo1") -> str | None:
    return {p.code: p.alert for p in branch_progress(offices.engine("ho"))}[code]


def sync_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sync", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def restore_scenario(offices, tmp_path, consumers: int = 1):
    """80 sales synced, a backup, 20 more synced, the backup restored, 30 new sales, then a sync."""
    bo, url = offices.engine("bo1"), offices.branch("bo1").db_url
    insert_sales(bo, 80)
    with running(*[IntakeConsumer(offices.ho) for _ in range(consumers)]):
        with running(OutboxRelay(offices.branch("bo1"))):
            assert_converged(offices)
        dump_database(url, tmp_path / "bo1.sql")
        insert_sales(bo, 20, start=100)
        with running(OutboxRelay(offices.branch("bo1"))):
            assert_converged(offices)
        before = bo1_at_head_office(offices)
        bo.dispose()
        restore_database(url, tmp_path / "bo1.sql")
        insert_sales(bo, 30, start=200)  # new sales reuse the ids and seqs of the 20 lost ones, and go beyond
        with running(OutboxRelay(offices.branch("bo1"))):
            parked = wait_for(lambda: dead_letters(offices.engine("ho")), 60, "the second history to be parked")
            wait_for(lambda: Outbox(bo).history_problem(), 30, "the branch to hear it is held back")
    return before, parked


def test_a_branch_restored_from_backup_that_catches_up_is_noticed_and_never_mixed_in(offices, tmp_path):
    # Reproduced on a7d5714: the rewind check only fired while the branch's sequence was
    # below the Head Office's mark, so 20 sales differed and nobody was told.
    before, parked = restore_scenario(offices, tmp_path)
    assert all("two histories" in p.reason for p in parked)
    assert bo1_at_head_office(offices) == before, "the second history was mixed into the first"
    assert "two histories" in alert_of(offices)
    status = sync_command("status", "--config", str(offices.paths["bo1"]))
    assert "two histories" in status.stdout and status.returncode != 0, status.stdout


def test_two_consumers_do_not_let_the_order_of_arrival_mix_two_histories(offices, tmp_path):
    before, _parked = restore_scenario(offices, tmp_path, consumers=2)
    assert bo1_at_head_office(offices) == before
    assert "two histories" in alert_of(offices)


def test_a_branch_clock_far_in_the_future_does_not_switch_the_check_off(offices):
    # a7d5714 compared the times messages were built: one message dated years ahead
    # turned the check off until that date.
    with running(IntakeConsumer(offices.ho)):
        publish_raw(offices, changes_body("bo1", "db", [upsert(1, 1, qty=1), upsert(2, 2, qty=2)],
                                          high_water=2, built_at_ms=4_102_444_800_000))  # 2100-01-01
        wait_for(lambda: len(bo1_at_head_office(offices)) == 2, 30, "the first history")
        # The same seqs again, with other contents: a second history of the same database.
        publish_raw(offices, changes_body("bo1", "db", [upsert(1, 1, qty=7), upsert(2, 2, qty=8), upsert(3, 3, qty=9)],
                                          high_water=3, built_at_ms=1_700_000_000_000))
        (parked,) = wait_for(lambda: dead_letters(offices.engine("ho")), 30, "the second history to be parked")
    assert "two histories" in parked.reason
    assert {r[1]: r[5] for r in bo1_at_head_office(offices)} == {1: 1, 2: 2}


def test_a_copy_of_a_branch_database_running_beside_the_original_is_noticed(offices, tmp_path):
    bo, url = offices.engine("bo1"), offices.branch("bo1").db_url
    insert_sales(bo, 10)
    with running(IntakeConsumer(offices.ho)):
        with running(OutboxRelay(offices.branch("bo1"))):
            assert_converged(offices)
        dump_database(url, tmp_path / "bo1.sql")
        clone_url = url.rsplit("/", 1)[0] + f"/bs_{offices.tag}_clone"
        restore_database(url, tmp_path / "bo1.sql", database=f"bs_{offices.tag}_clone")
        clone = dataclasses.replace(offices.branch("bo1"), db_url=clone_url)
        from models.schema import make_engine

        clone_engine = make_engine(clone_url)
        try:
            insert_sales(bo, 5, start=100, product="Paper")
            insert_sales(clone_engine, 5, start=300, product="Pens")
            with running(OutboxRelay(offices.branch("bo1")), OutboxRelay(clone)):
                wait_for(lambda: dead_letters(offices.engine("ho")), 60, "one of the two copies to be parked")
            original, copy = branch_rows(bo, "bo1"), branch_rows(clone_engine, "bo1")
        finally:
            clone_engine.dispose()
            with offices.engine("ho").connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS `bs_{offices.tag}_clone`"))
    held = bo1_at_head_office(offices)
    assert held <= original or held <= copy, "rows of the copy and of the original were mixed"
    assert "two histories" in alert_of(offices)


def test_an_operator_adopts_the_new_history_deliberately_and_the_head_office_then_equals_the_branch(offices, tmp_path):
    before, _parked = restore_scenario(offices, tmp_path)
    rejoined = sync_command("rejoin", "--config", str(offices.paths["bo1"]))
    assert rejoined.returncode == 0, rejoined.stderr
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        wait_for(lambda: len(dead_letters(offices.engine("ho"))) >= 2, 60, "the rejoined branch to be held back")
        adopted = sync_command("adopt", "--config", str(offices.paths["ho"]), "--branch", "bo1")
        assert adopted.returncode == 0, adopted.stderr
        assert "archived 100" in adopted.stdout, adopted.stdout
        assert_converged(offices, timeout=120)
    assert alert_of(offices) is None
    with offices.engine("ho").connect() as conn:
        archived = conn.execute(text("SELECT COUNT(*) FROM sync_archive WHERE branch = 'bo1'")).scalar_one()
    assert archived == len(before) == 100
    sums, grouped, _emptied, held = sums_and_group_by(offices.engine("ho"))   # the old history's sums went with its rows
    assert sums == grouped and all(kept == counted for _code, kept, counted in held)


def test_a_redelivered_old_message_is_not_mistaken_for_a_second_history(offices):
    with running(IntakeConsumer(offices.ho)):
        newer = changes_body("bo1", "db", [upsert(20, 2, qty=2)], high_water=20, built_at_ms=2_000_000)
        older = changes_body("bo1", "db", [upsert(10, 1, qty=1)], high_water=10, built_at_ms=1_000_000)
        for body in (newer, older, newer, older):
            publish_raw(offices, body)
        wait_for(lambda: len(head_office_rows(offices.engine("ho"))) == 2, 30, "both messages to be applied")
        publish_raw(offices, changes_body("bo1", "db", [upsert(30, 3, qty=3)]))
        wait_for(lambda: len(head_office_rows(offices.engine("ho"))) == 3, 30, "the next message")
    assert dead_letters(offices.engine("ho")) == []

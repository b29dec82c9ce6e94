"""A branch database restored from a backup or re-created is noticed, and its
second history is never mixed into the first at the Head Office."""
from __future__ import annotations

import subprocess

from sqlalchemy.engine import make_url

from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay
from sync.status import branch_progress
from tests.harness import assert_converged, dead_letters, head_office_rows, insert_sales, running, wait_for


def _client_args(url: str) -> list[str]:
    u = make_url(url)
    args = ["-h", u.host or "127.0.0.1", "-P", str(u.port or 3306), "-u", u.username or "root"]
    return args + ([f"-p{u.password}"] if u.password else [])


def test_a_branch_database_restored_from_an_older_backup_is_noticed_and_never_mixed_in(offices, tmp_path):
    bo, url = offices.engine("bo1"), offices.branch("bo1").db_url
    database = make_url(url).database
    insert_sales(bo, 10)
    with running(IntakeConsumer(offices.ho)):
        with running(OutboxRelay(offices.branch("bo1"))):
            assert_converged(offices)
        backup = tmp_path / "bo1.sql"
        with backup.open("w") as out:
            subprocess.run(["mysqldump", *_client_args(url), "--single-transaction", "--triggers", database],
                           stdout=out, check=True, timeout=60)
        insert_sales(bo, 5, start=100)               # sales made after the backup...
        with running(OutboxRelay(offices.branch("bo1"))):
            assert_converged(offices)
        before = head_office_rows(offices.engine("ho"))
        bo.dispose()
        with backup.open() as dump:                  # ...then the branch restores last night's backup
            subprocess.run(["mysql", *_client_args(url), database], stdin=dump, check=True, timeout=60)
        insert_sales(bo, 2, start=200)               # new sales reuse the ids and seqs of the lost ones
        with running(OutboxRelay(offices.branch("bo1"))):
            (parked,) = wait_for(lambda: dead_letters(offices.engine("ho")), 30, "the rewound history to be refused")
    assert "sequence went backwards" in parked.reason and "restored from an older backup" in parked.reason
    assert head_office_rows(offices.engine("ho")) == before, "the second history was mixed into the first"
    alert = {p.code: p.alert for p in branch_progress(offices.engine("ho"))}["bo1"]
    assert alert and "went backwards" in alert


def test_a_redelivered_old_message_is_not_mistaken_for_a_restored_database(offices):
    from tests.harness import changes_body, publish_raw, upsert

    with running(IntakeConsumer(offices.ho)):
        publish_raw(offices, changes_body("bo1", "db", [upsert(20, 2, qty=2)], high_water=20, built_at_ms=2_000_000))
        publish_raw(offices, changes_body("bo1", "db", [upsert(10, 1, qty=1)], high_water=10, built_at_ms=1_000_000))
        wait_for(lambda: len(head_office_rows(offices.engine("ho"))) == 2, 30, "both messages to be applied")
    assert dead_letters(offices.engine("ho")) == []

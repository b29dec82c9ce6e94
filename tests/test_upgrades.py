"""Upgrading an office loses nothing.

The previous release (commit a7d5714, the last before migrations and per-branch
queues) is run from git history, in a worktree of its own made once per test
session, as the old branch and the old Head Office, in subprocesses with this
checkout's interpreter.  Its databases, made with real traffic, are upgraded in
place by today's ``migrate`` and today's agent and consumer carry on; its branch
agent syncs to today's Head Office; what it parked for its version is applied
once the Head Office is upgraded.  Today's forward rule (a message of a version
this code does not read is parked, and applied once code that reads it runs) is
tested in process.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pika
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from models.migrations import VERSION_TABLE, Role, Standing, head, schema_status
from models.schema import UNREAD_VERSION
from sync import dead_letters, protocol
from sync.broker import INTAKE_KEY, Names
from sync.intake import IntakeConsumer
from sync.office import init_database
from sync.protocol import Report
from sync.protocol.messages import _KEYS
from sync.relay import OutboxRelay
from tests.harness import (
    ROOT,
    Offices,
    branch_rows,
    change_qty,
    changes_body,
    delete_sale,
    head_office_rows,
    insert_sales,
    outbox_states,
    output,
    publish_raw,
    running,
    stop,
    upsert,
    wait_for,
)

PREVIOUS_RELEASE = "a7d5714"
PYTHON = sys.executable  # this checkout's interpreter runs the previous release's code too

# The columns of the first release's tables, in its order: what it wrote must read the same after the upgrade.
FIRST_RELEASE_READS = {
    "branch": {
        "sales": "SELECT id, sale_date, region, product, qty, cost, amt, tax, total FROM sales ORDER BY id",
        "sync_outbox": "SELECT seq, sale_id, op, sale_date, region, product, qty, cost, amt, tax, total, state, "
                       "captured_at, sent_at, applied_at, note FROM sync_outbox ORDER BY seq",
        "sync_state": "SELECT name, value FROM sync_state ORDER BY name",
    },
    "head_office": {
        "sales": "SELECT id, branch, branch_sale_id, sale_date, region, product, qty, cost, amt, tax, total, version, "
                 "applied_at FROM sales ORDER BY id",
        "sync_tombstones": "SELECT branch, branch_sale_id, version, deleted_at FROM sync_tombstones ORDER BY branch, "
                           "branch_sale_id",
        "sync_branches": "SELECT code, name, origin, last_seq, changes_applied, last_applied_at, high_water, "
                         "high_water_at_ms, alert FROM sync_branches ORDER BY code",
        # (their states are compared apart: migrate queues again what the new release reads)
        "sync_dead_letters": "SELECT id, received_at, fingerprint, reason, message_id, properties, body, resolved_at "
                             "FROM sync_dead_letters ORDER BY id",
    },
}


# ---------------------------------------------------------------- the previous release, from git history
@dataclass
class PreviousRelease:
    """A worktree of the previous release; its programs run with cwd there, so they import its code."""

    src: Path

    def env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([PYTHON, *args], cwd=self.src, env=self.env(), capture_output=True, text=True,
                              timeout=timeout)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        log = tempfile.NamedTemporaryFile("w+", prefix="previous-", suffix=".log", delete=False)
        process = subprocess.Popen([PYTHON, *args], cwd=self.src, env=self.env(), stdout=log,
                                   stderr=subprocess.STDOUT, text=True)
        process.log_path = log.name  # type: ignore[attr-defined]
        log.close()
        return process


@pytest.fixture(scope="session")
def previous_release(tmp_path_factory):
    where = tmp_path_factory.mktemp("previous-release") / "src"
    made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), PREVIOUS_RELEASE],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, f"cannot check out the previous release {PREVIOUS_RELEASE}: {made.stderr}"
    try:
        yield PreviousRelease(where)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)], capture_output=True,
                       timeout=120)


@pytest.fixture
def bare_offices(tmp_path):
    """Office files, names and cleanup, but no database yet (the previous release makes its own)."""
    made: list[Offices] = []

    def make(branches: int = 1) -> Offices:
        offices = Offices(tmp_path, branches=branches)
        made.append(offices)
        return offices

    yield make
    for offices in made:
        offices.cleanup()


def _old_head_office_file(offices: Offices, branches: list[str]) -> Path:
    """The Head Office's file for the previous release, knowing only ``branches`` (its format is today's subset)."""
    lines = [line for line in offices.paths["ho"].read_text().splitlines() if not line.startswith("branches =")]
    known = ", ".join(f'{code} = "{offices.branch(code).name}"' for code in branches)
    path = offices.dir / "ho-previous.toml"
    path.write_text("\n".join([*lines, f"branches = {{ {known} }}"]) + "\n", encoding="utf-8")
    return path


def _start_old_head_office(previous: PreviousRelease, config: Path) -> subprocess.Popen[str]:
    process = previous.spawn("ho_app.py", "--config", str(config), "--headless")
    wait_for(lambda: "consumer online" in output(process) or process.poll() is not None, 60,
             "the previous release's consumer to come online")
    assert process.poll() is None, output(process)
    return process


def _old_once(previous: PreviousRelease, offices: Offices, code: str = "bo1") -> str:
    done = previous.run("bo_app.py", "--config", str(offices.paths[code]), "--once")
    assert done.returncode == 0, done.stderr
    return done.stdout


def _old_until_applied(previous: PreviousRelease, offices: Offices, changes: int, passes: int = 5) -> str:
    """Run the previous release's ``--once`` until its receipts say all ``changes`` were applied; what it said."""
    engine = offices.engine("bo1")
    said = ""
    for _ in range(passes):
        said += _old_once(previous, offices)
        if outbox_states(engine) == {2: changes}:
            return said
        time.sleep(1)
    raise AssertionError(f"the previous branch's changes were not all applied: outbox states {outbox_states(engine)}")


def _read(engine: Engine, role: str) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {name: [tuple(r) for r in conn.execute(text(sql))] for name, sql in FIRST_RELEASE_READS[role].items()}


def _on_intake(offices: Offices, body: bytes, properties: pika.BasicProperties) -> None:
    """Publish to the shared intake that the previous release's Head Office reads (it declared it)."""
    connection = pika.BlockingConnection(pika.URLParameters(offices.amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(Names(offices.prefix).intake_exchange, INTAKE_KEY, body, properties, mandatory=True)
    finally:
        connection.close()


def _letters(engine: Engine) -> dict[int, tuple]:
    with engine.connect() as conn:
        return {r[0]: tuple(r[1:]) for r in conn.execute(text(
            "SELECT id, state, reason, claimed_branch, attempts FROM sync_dead_letters ORDER BY id"))}


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def _today(*args: str) -> subprocess.CompletedProcess[str]:
    """Today's program or command, without an X display: a window's refusal then goes to stderr alone (its
    dialog, shown where there is a display, is tests/gui/test_refusal_dialog.py's)."""
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    return subprocess.run([PYTHON, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


# ---------------------------------------------------------------- the tests
def test_the_previous_releases_databases_upgrade_in_place_with_outbox_and_dead_letters_and_sync_carries_on(
        previous_release, bare_offices):
    """bo1 and the Head Office run the previous release: bo1's outbox holds applied, sent (waiting in the
    broker) and pending changes; the Head Office parked a message from a branch it did not know, an
    undecodable one and one of today's version 2.  bo3 was upgraded first: its changes wait in its own
    queue, which the previous Head Office never reads.  After ``migrate``, all of it arrives."""
    offices = bare_offices(branches=3)  # today's Head Office knows bo2; the previous one did not
    old_ho_file = _old_head_office_file(offices, ["bo1"])
    for path in (old_ho_file, offices.paths["bo1"]):
        made = previous_release.run("-m", "sync", "init-db", "--config", str(path))
        assert made.returncode == 0, made.stderr
    init_database(offices.branch("bo3"))  # bo3 is upgraded before its Head Office
    bo1, bo3, ho = offices.engine("bo1"), offices.engine("bo3"), offices.engine("ho")

    # Real traffic through the previous release: applied changes, and dead letters at its Head Office.
    old_ho = _start_old_head_office(previous_release, old_ho_file)
    try:
        ids = insert_sales(bo1, 4)
        change_qty(bo1, ids[0], 5)
        delete_sale(bo1, ids[1])
        _old_once(previous_release, offices)
        _on_intake(offices, changes_body("bo2", "a-branch-it-did-not-know", [upsert(1, 1, 3)]),
                   pika.BasicProperties(content_encoding="zlib", delivery_mode=2))
        _on_intake(offices, b"\x00 not a message", pika.BasicProperties(content_encoding="zlib", delivery_mode=2))
        # A message of today's protocol version 2 (a branch's report) reaching the previous Head Office.
        report = Report("bo1", "origin-of-a-newer-bo1", int(time.time() * 1000), True, None, 11, 42)
        _on_intake(offices, protocol.encode_report(report), protocol.report_properties("bo1", report.origin, 1, None))
        insert_sales(bo3, 3, start=30, region="North")
        OutboxRelay(offices.branch("bo3")).run_once(receipt_wait=0.2)  # its own queue, which the old one never reads
        wait_for(lambda: head_office_rows(ho) == branch_rows(bo1, "bo1") and _count(ho, "sync_dead_letters") == 3, 60,
                 "the previous Head Office to apply bo1's sales and park three messages")
        _old_until_applied(previous_release, offices, 6)
    finally:
        stop(old_ho)
    ids += insert_sales(bo1, 3, start=10)
    change_qty(bo1, ids[2], 7)
    _old_once(previous_release, offices)  # confirmed by the broker; they wait in the intake queue, never applied
    insert_sales(bo1, 2, start=20)  # still pending
    assert outbox_states(bo1) == {0: 2, 1: 4, 2: 6} and outbox_states(bo3) == {1: 3}
    with ho.connect() as conn:
        old_reasons = dict(conn.execute(text("SELECT id, reason FROM sync_dead_letters")).all())
    version_letter = next(i for i, why in old_reasons.items() if "version 2" in why)
    assert old_reasons[version_letter].startswith("message version 2 is not supported")
    before = {"bo1": _read(bo1, "branch"), "ho": _read(ho, "head_office")}

    # Today's programs refuse the old databases in one sentence, touching nothing.
    for program, code, extra in (("bo_app.py", "bo1", "--once"), ("ho_app.py", "ho", "--headless")):
        refused = _today(program, "--config", str(offices.paths[code]), extra)
        assert refused.returncode == 6, refused.stderr
        assert refused.stderr.count("\n") == 1 and "schema revision 0001, older than this program's" in refused.stderr
        assert f"python -m sync migrate --config {offices.paths[code]}" in refused.stderr
    assert {"bo1": _read(bo1, "branch"), "ho": _read(ho, "head_office")} == before

    # Upgraded in place: everything the previous release wrote reads the same.
    said = {}
    for code in ("ho", "bo1"):
        migrated = _today("-m", "sync", "migrate", "--config", str(offices.paths[code]))
        assert migrated.returncode == 0, migrated.stderr
        assert f"upgraded from schema revision 0001 to {head(Role.BRANCH if code == 'bo1' else Role.HEAD_OFFICE)}" \
            in migrated.stdout
        said[code] = migrated.stdout
    assert "1 parked message(s) of a protocol version this release reads are queued again" in said["ho"]
    after = {"bo1": _read(bo1, "branch"), "ho": _read(ho, "head_office")}
    added = {("bo1", "sync_state"): {("catalogue_version", "0")}}  # what a migration adds beside them (0004)
    for code, tables in before.items():
        for table, rows in tables.items():
            kept = [row for row in after[code][table] if tuple(row) not in added.get((code, table), set())]
            assert kept == rows, f"{code}.{table} changed in the upgrade"
    assert schema_status(bo1, Role.BRANCH).standing is Standing.CURRENT
    assert schema_status(ho, Role.HEAD_OFFICE).standing is Standing.CURRENT
    assert {i: state for i, (state, *_rest) in _letters(ho).items()} == {
        i: "queued" if i == version_letter else "parked" for i in old_reasons}
    assert _letters(ho)[version_letter][2] == "bo1"  # the branch the previous release recorded is kept as claimed

    # Today's agent and consumer carry on: what was sent and what was pending arrive, the parked report is
    # applied, and the letter from the branch the old Head Office did not know can be retried.
    init_database(offices.ho)  # as today's Head Office program does when it starts: registers bo2
    consumer = IntakeConsumer(offices.ho)
    with running(consumer):
        wait_for(lambda: _letters(ho)[version_letter][0] == "retried", 30, "the parked report to be applied")
        with ho.connect() as conn:
            assert conn.execute(text("SELECT pending_reported, capture_ok FROM sync_branches WHERE code = 'bo1'")).one() \
                == (11, True)
        from_bo2 = next(i for i, why in old_reasons.items() if "'bo2'" in why)
        consumer.retry_dead_letter(from_bo2)
        wait_for(lambda: _letters(ho)[from_bo2][0] == "retried", 30, "the retried letter of bo2 to be applied")
        with running(OutboxRelay(offices.branch("bo1")), OutboxRelay(offices.branch("bo3"))):
            wait_for(lambda: {r for r in head_office_rows(ho) if r[0] != "bo2"} == branch_rows(bo1, "bo1")
                     | branch_rows(bo3, "bo3") and outbox_states(bo1) == {2: 12} and outbox_states(bo3) == {2: 3}, 60,
                     "today's Head Office to hold every sale of both branches, each applied")
    with ho.connect() as conn:
        assert conn.execute(text("SELECT branch_sale_id, qty FROM sales WHERE branch = 'bo2'")).all() == [(1, 3)]
        assert conn.execute(text("SELECT alert FROM sync_branches WHERE code = 'bo1'")).scalar() is None
    garbage = next(i for i in old_reasons if i not in (version_letter, from_bo2))
    assert _letters(ho)[garbage][0] == "parked"


def test_a_branch_of_the_previous_release_syncs_to_todays_head_office_exactly_once(previous_release, bare_offices):
    offices = bare_offices(branches=1)
    init_database(offices.ho)
    made = previous_release.run("-m", "sync", "init-db", "--config", str(offices.paths["bo1"]))
    assert made.returncode == 0, made.stderr
    bo1, ho = offices.engine("bo1"), offices.engine("ho")
    ids = insert_sales(bo1, 6)
    ids += insert_sales(bo1, 2, start=50, product="Pens", cost="0.05")
    change_qty(bo1, ids[0], 9, cost="13.37")
    delete_sale(bo1, ids[1])
    with running(IntakeConsumer(offices.ho)):
        assert "bo1: sent 10 change(s)" in _old_until_applied(previous_release, offices, 10)
        assert head_office_rows(ho) == branch_rows(bo1, "bo1")
        # The previous agent sends them all again (as after a crash before it marked them sent): nothing changes.
        with bo1.begin() as conn:
            conn.execute(text("UPDATE sync_outbox SET state = 0, sent_at = NULL, applied_at = NULL"))
        assert "bo1: sent 10 change(s)" in _old_until_applied(previous_release, offices, 10)
    assert head_office_rows(ho) == branch_rows(bo1, "bo1")
    with ho.connect() as conn:
        assert conn.execute(text("SELECT alert FROM sync_branches WHERE code = 'bo1'")).scalar() is None
        assert conn.execute(text("SELECT COUNT(*) FROM sync_dead_letters")).scalar() == 0
        assert conn.execute(text("SELECT COUNT(*) FROM sync_ledger WHERE branch = 'bo1'")).scalar() == 10


def test_a_message_of_a_newer_version_is_parked_with_its_version_and_applied_once_code_that_reads_it_runs(
        make_offices, monkeypatch):
    offices = make_offices(branches=1)
    ho, newer = offices.engine("ho"), protocol.VERSION + 1
    origin = "a-newer-branch"
    publish_raw(offices, changes_body("bo1", origin, [upsert(1, 1, 4), upsert(2, 2, 6)], version=newer), branch="bo1")
    publish_raw(offices, changes_body("bo1", origin, [upsert(3, 3, 8)], version=newer + 1), branch="bo1")
    consumer = IntakeConsumer(offices.ho)
    with running(consumer):
        wait_for(lambda: len(_letters(ho)) == 2, 30, "both messages to be parked")
        letters = _letters(ho)
        reasons = sorted(why for _state, why, _claimed, _n in letters.values())
        assert reasons == [f"message version {v} is not supported here (this office reads versions 1 to "
                           f"{protocol.VERSION})" for v in (newer, newer + 1)]
        assert head_office_rows(ho) == set()
        with ho.connect() as conn:
            assert set(conn.execute(text("SELECT outcome FROM sync_dead_letter_attempts")).scalars()) == {UNREAD_VERSION}
        assert dead_letters.queue_readable_again(ho) == 0  # nothing here reads them yet

        # The upgrade: code that reads changes of the newer version (as a release that adds it would register).
        monkeypatch.setitem(_KEYS, (protocol.CHANGES, newer), _KEYS[(protocol.CHANGES, 1)])
        assert dead_letters.queue_readable_again(ho) == 1  # what `migrate` does; only the one it reads
        wait_for(lambda: len(head_office_rows(ho)) == 2, 30, "the newer message's sales to be applied")
    letters = _letters(ho)
    assert sorted(state for state, *_ in letters.values()) == ["parked", "retried"]
    assert {(r[1], r[5]) for r in head_office_rows(ho)} == {(1, 4), (2, 6)}


def test_an_app_or_command_refuses_a_database_older_or_newer_than_its_code_in_one_sentence_touching_nothing(
        make_offices):
    offices = make_offices(branches=1)
    engines = {"bo1": offices.engine("bo1"), "ho": offices.engine("ho")}

    def checksums() -> dict[str, list[tuple]]:
        sums = {}
        for code, engine in engines.items():
            with engine.connect() as conn:
                tables = [t for (t,) in conn.execute(text("SHOW TABLES"))]
                sums[code] = [tuple(r) for r in conn.execute(text(f"CHECKSUM TABLE {', '.join(tables)}"))]
        return sums

    def set_revision(revision: str) -> None:  # what an older or a newer release would have recorded
        for engine in engines.values():
            with engine.begin() as conn:
                conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = :r"), {"r": revision})

    runs = {  # each program in each of its modes (a window refuses before it opens), each command that reads data
        "older": [("bo_app.py", "bo1", "--headless"), ("ho_app.py", "ho", "--headless"), ("bo_app.py", "bo1"),
                  ("-m sync status", "bo1"), ("-m sync rejoin", "bo1"), ("-m sync adopt", "ho", "--branch", "bo1"),
                  ("-m sync init-db", "ho")],
        "newer": [("bo_app.py", "bo1", "--once"), ("ho_app.py", "ho", "--headless"), ("ho_app.py", "ho"),
                  ("-m sync status", "ho"), ("-m sync init-db", "bo1"), ("-m sync migrate", "bo1")],
    }
    for standing, revision in (("older", "0001"), ("newer", "9999")):
        set_revision(revision)
        before = checksums()
        for program, code, *extra in runs[standing]:
            done = _today(*program.split(), "--config", str(offices.paths[code]), *extra)
            said = done.stderr.strip()
            assert done.returncode == 6, (program, code, done.returncode, said)
            assert "\n" not in said and "Traceback" not in said, (program, said)
            role = Role.BRANCH if code == "bo1" else Role.HEAD_OFFICE
            if standing == "older":
                assert f"schema revision 0001, older than this program's {head(role)}; run `python -m sync migrate " \
                       f"--config {offices.paths[code]}`" in said, (program, said)
            else:
                assert f"schema revision 9999, which a newer release of Branch Sync wrote (this program knows up to " \
                       f"{head(role)}); install that release here" in said, (program, said)
            assert "nothing was touched" in said.lower(), (program, said)
        assert checksums() == before, standing

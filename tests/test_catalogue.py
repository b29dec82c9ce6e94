"""The catalogue the Head Office governs reaches every branch, whatever the link and the processes do, and an
import is checked whole before it changes anything.  Real MariaDB and RabbitMQ, private offices."""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import subprocess
import sys
import time
from decimal import Decimal

import pika
from sqlalchemy import text

from devtools.linkproxy import LinkProxy
from models.catalogue import add_product as add
from models.catalogue import find_product, held_version, off_price_sales, set_active, set_price
from models.schema import make_engine
from sync import protocol
from sync.__main__ import main
from sync.agent_session import RECEIPT_PREFETCH
from sync.broker import Names
from sync.intake import IntakeConsumer
from sync.office import init_database
from sync.relay import OutboxRelay
from tests.harness import AMQP_URL, BROKER, ROOT, insert_sales, kill9, running, spawn, stop, via_port, wait_for, with_amqp

TODAY = dt.date.today()
LATER = TODAY + dt.timedelta(days=5)  # the branch's clock, days on: a future-dated price is in effect
MANY = 10_000


def show(offices, code: str, day: dt.date) -> str:
    """What `python -m sync catalogue show --date day` prints at an office."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["catalogue", "show", "--config", str(offices.paths[code]), "--date", day.isoformat()]) == 0
    return out.getvalue()


def version(offices, code: str) -> int:
    with offices.engine(code).connect() as conn:
        return held_version(conn, head_office=code == "ho")


def holds_the_head_offices(offices, code: str) -> bool:
    return version(offices, code) == version(offices, "ho")


def add_many(engine, count: int) -> None:
    """``count`` products at the Head Office in one statement each for products and prices (a large catalogue)."""
    with engine.begin() as conn:
        start = conn.execute(text("SELECT version FROM catalogue_counter WHERE id = 1 FOR UPDATE")).scalar_one()
        first = conn.execute(text("SELECT COALESCE(MAX(id), 0) + 1 FROM catalogue_products")).scalar_one()
        conn.execute(text("INSERT INTO catalogue_products (id, name, name_key, active, version) VALUES (:i, :n, :k, 1, :v)"),
                     [{"i": first + i, "n": f"Item {i:05d}", "k": f"item {i:05d}", "v": start + 1 + i} for i in range(count)])
        conn.execute(text("INSERT INTO catalogue_prices (product_id, effective_from, cost, version) "
                          "VALUES (:i, '2020-01-01', :c, :v)"),
                     [{"i": first + i, "c": f"{1 + i % 500}.{i % 100:02d}", "v": start + 1 + count + i}
                      for i in range(count)])
        conn.execute(text("UPDATE catalogue_counter SET version = :v WHERE id = 1"), {"v": start + 2 * count})


def ready_in(offices, queue: str) -> int:
    """Messages ready in a queue (-1 until the queue exists)."""
    connection = pika.BlockingConnection(pika.URLParameters(offices.amqp_url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    except pika.exceptions.ChannelClosedByBroker:
        return -1
    finally:
        connection.close()


def test_a_new_price_a_future_price_a_retired_and_a_new_product_reach_three_branches_through_cuts_and_kill_9(offices):
    ho = offices.engine("ho")
    add_many(ho, MANY)                                  # every branch's first catalogue is a 10,000-product snapshot
    bo3_queue = Names(offices.prefix).receipts_queue("bo3")
    with LinkProxy(BROKER) as link, running(
            IntakeConsumer(offices.ho), OutboxRelay(with_amqp(offices.branch("bo1"), via_port(AMQP_URL, link.port))),
            OutboxRelay(offices.branch("bo2"))):
        agent = spawn("bo_app.py", offices.paths["bo3"], "--headless")
        try:                                            # bo3 says it holds nothing: its snapshot, killed mid-way
            wait_for(lambda: ready_in(offices, bo3_queue) == 0 and sent_to(offices, "bo3"), 60,
                     "bo3's agent to take its snapshot")
            kill9(agent)
            assert version(offices, "bo3") == 0, "the kill came too late to be mid-snapshot"
            agent = spawn("bo_app.py", offices.paths["bo3"], "--headless")
            for code in offices.codes:
                wait_for(lambda c=code: holds_the_head_offices(offices, c), 90, f"{code} to hold the first snapshot")
        finally:
            stop(agent)                                 # bo3 goes offline for days

        link.cut()                                      # bo1 loses its link through the changes
        with ho.begin() as conn:
            set_price(conn, find_product(conn, "Pens").id, Decimal("2.50"), TODAY)
            set_price(conn, find_product(conn, "Paper").id, Decimal("14.00"), LATER)
            set_active(conn, find_product(conn, "Toner").id, False)
            add(conn, "Glue", Decimal("1.20"), TODAY)
        wait_for(lambda: holds_the_head_offices(offices, "bo2"), 30, "bo2 to receive the changes")
        wait_for(lambda: ready_in(offices, bo3_queue) == 1, 30, "the changes to wait in offline bo3's queue")
        assert not holds_the_head_offices(offices, "bo1")
        with ho.begin() as conn:                       # one more change: still one message waiting for bo3
            set_price(conn, find_product(conn, "Pens").id, Decimal("2.55"), LATER)
        time.sleep(3)                                   # (more than a check of the Head Office's)
        assert ready_in(offices, bo3_queue) == 1, "an offline branch is sent one message, not one per change"
        link.restore()
        wait_for(lambda: holds_the_head_offices(offices, "bo1"), 60, "bo1 to receive the changes once its link is back")
        with running(OutboxRelay(offices.branch("bo3"))):  # bo3 back: what waited, then the rest
            wait_for(lambda: holds_the_head_offices(offices, "bo3"), 60, "bo3 to catch up")

    for day in (TODAY, LATER):
        expected = show(offices, "ho", day)
        assert all(show(offices, code, day) == expected for code in offices.codes), day
    today, later = show(offices, "bo1", TODAY), show(offices, "bo1", LATER)  # no link now: each branch's own clock
    assert "Pens,2.50\n" in today and "Glue,1.20\n" in today and "Toner" not in today and "Paper,12.95\n" in today
    assert "Paper,14.00\n" in later and "Pens,2.55\n" in later and len(later.splitlines()) == 1 + 8 + MANY
    with ho.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM sync_dead_letters")).scalar_one() == 0


def heard_holding(offices, code: str) -> int | None:
    """The catalogue version the Head Office heard the branch hold."""
    with offices.engine("ho").connect() as conn:
        return conn.execute(text("SELECT catalogue_held FROM sync_branches WHERE code = :c"), {"c": code}).scalar_one()


def sent_to(offices, code: str) -> bool:
    with offices.engine("ho").connect() as conn:
        return conn.execute(text("SELECT catalogue_sent_at IS NOT NULL FROM sync_branches WHERE code = :c"),
                            {"c": code}).scalar_one() == 1


def test_a_kill_9_of_the_head_office_while_it_sends_snapshots_loses_nothing_and_parks_nothing(offices):
    ho = offices.engine("ho")
    add_many(ho, MANY)
    with running(*[OutboxRelay(b) for b in offices.branches]):
        consumer = spawn("ho_app.py", offices.paths["ho"], "--headless")
        try:
            wait_for(lambda: any(holds_the_head_offices(offices, b) for b in offices.codes), 90, "a first snapshot")
            kill9(consumer)
            with ho.begin() as conn:                    # a change while the Head Office's consumer is down
                set_price(conn, find_product(conn, "Pens").id, Decimal("2.60"), TODAY)
            consumer = spawn("ho_app.py", offices.paths["ho"], "--headless")
            for code in offices.codes:
                wait_for(lambda c=code: holds_the_head_offices(offices, c), 90, f"{code} to hold the catalogue")
        finally:
            stop(consumer)
    expected = show(offices, "ho", TODAY)
    assert "Pens,2.60\n" in expected and all(show(offices, code, TODAY) == expected for code in offices.codes)
    with ho.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM sync_dead_letters")).scalar_one() == 0


def test_a_branch_database_re_created_from_scratch_receives_the_whole_catalogue(offices):
    ho = offices.engine("ho")
    with ho.begin() as conn:
        set_price(conn, find_product(conn, "Pens").id, Decimal("2.75"), TODAY)
    bo1 = offices.branch("bo1")
    with running(IntakeConsumer(offices.ho)):
        with running(OutboxRelay(bo1)):
            wait_for(lambda: holds_the_head_offices(offices, "bo1"), 30, "bo1 to hold the catalogue")
        offices.engine("bo1").dispose()
        with make_engine(offices.db_root + "/").begin() as conn:
            conn.execute(text(f"DROP DATABASE `{bo1.db_url.rsplit('/', 1)[1]}`"))
        init_database(bo1)                              # a new, empty database: the catalogue of the first release
        assert version(offices, "bo1") == 0 and "Pens,2.19" in show(offices, "bo1", TODAY)
        with running(OutboxRelay(bo1)):                 # it says it holds nothing
            wait_for(lambda: holds_the_head_offices(offices, "bo1"), 30, "the re-created branch to get the catalogue")
    assert show(offices, "bo1", TODAY) == show(offices, "ho", TODAY) and "Pens,2.75" in show(offices, "bo1", TODAY)


def run_import(offices, path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sync", "catalogue", "import", "--config", str(offices.paths["ho"]),
                           str(path), *extra], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_an_import_names_every_bad_line_holds_a_sweeping_one_and_force_applies_it(make_offices, tmp_path):
    offices = make_offices(branches=1)
    before = version(offices, "ho")
    bad = tmp_path / "bad.csv"
    bad.write_text("product,cost,effective_from,active\nPens,2.50,,\nGlue,one,,\nPaper,13.00,2026-13-01,\n"
                   "Toner,60.00,,perhaps\n pens ,2.60,,\n", encoding="utf-8")
    refused = run_import(offices, bad)
    lines = refused.stderr.splitlines()
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert [line.split(":")[0] for line in lines[:4]] == ["Line 3", "Line 4", "Line 5", "Line 6"]
    assert "“one”" in lines[0] and "YYYY-MM-DD" in lines[1] and "yes nor no" in lines[2] and "line 2" in lines[3]
    assert lines[-1].startswith("Nothing was changed") and version(offices, "ho") == before

    sweeping = tmp_path / "sweeping.csv"
    sweeping.write_text("product,cost,active\nPaper,1.30,yes\nPens,0.20,no\nPencils,0.09,no\nToner,6.45,yes\n",
                        encoding="utf-8")
    held = run_import(offices, sweeping)
    assert held.returncode == 1 and "more than a fifth" in held.stderr and version(offices, "ho") == before
    jumps = tmp_path / "jumps.csv"
    jumps.write_text("product,cost\nPaper,1.30\nPens,0.22\nToner,6.45\n", encoding="utf-8")
    held = run_import(offices, jumps)
    assert held.returncode == 1 and "3 prices by more than half" in held.stderr and version(offices, "ho") == before

    forced = run_import(offices, sweeping, "--force")
    assert forced.returncode == 0 and "2 retired" in forced.stdout
    shown = show(offices, "ho", TODAY)
    assert "Paper,1.30\n" in shown and "Toner,6.45\n" in shown and "Pens" not in shown and "Pencils" not in shown
    again = run_import(offices, sweeping, "--force")
    assert again.returncode == 0 and "changes nothing" in again.stdout


def test_the_head_office_sees_a_sale_at_another_cost_than_the_catalogues_as_off_price(offices):
    insert_sales(offices.engine("bo1"), 1, product="Pens", cost="2.19", day=TODAY)   # the catalogue's cost
    insert_sales(offices.engine("bo1"), 1, start=1, product="Pens", cost="1.99", day=TODAY)
    with running(IntakeConsumer(offices.ho), OutboxRelay(dataclasses.replace(offices.branch("bo1")))):
        wait_for(lambda: len(off_price(offices)) == 1, 30, "the off-price sale to reach the Head Office")
        wait_for(lambda: heard_holding(offices, "bo1") == version(offices, "ho"), 30, "bo1 to say it holds the catalogue")
    (sale,) = off_price(offices)
    assert sale[2:] == ("Pens", TODAY, Decimal("1.99"), Decimal("2.19"))
    status = subprocess.run([sys.executable, "-m", "sync", "status", "--config", str(offices.paths["ho"])], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert "off-price sales of the last 31 days (cost not the catalogue's on their date): 1" in status.stdout
    assert "catalogue up to date" in status.stdout


def off_price(offices) -> list:
    with offices.engine("ho").connect() as conn:
        return off_price_sales(conn)


def run_once(offices, code: str) -> subprocess.CompletedProcess:
    """``bo_app.py --once`` as cron runs it: a process of its own, to its end."""
    return subprocess.run([sys.executable, "bo_app.py", "--config", str(offices.paths[code]), "--once"], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)


def test_a_branch_run_once_from_cron_leaves_holding_the_catalogue_the_head_office_has_now(offices):
    ho, bo1 = offices.engine("ho"), offices.engine("bo1")
    with running(IntakeConsumer(offices.ho)):
        for price, start in (("2.40", 0), ("2.45", 10)):  # a new branch's first run, then a later night's run
            with ho.begin() as conn:
                set_price(conn, find_product(conn, "Pens").id, Decimal(price), TODAY)
            insert_sales(bo1, 3, start=start, day=TODAY)   # the day's sales, which the run sends
            once = run_once(offices, "bo1")
            assert once.returncode == 0, once.stderr
            assert f"Pens,{price}\n" in show(offices, "bo1", TODAY), f"the run left without the price {price}"
            assert show(offices, "bo1", TODAY) == show(offices, "ho", TODAY)
            assert f"catalogue at version {version(offices, 'ho')}" in once.stdout, once.stdout
        # A night without sales: the change the Head Office sent meanwhile waits in the queue; the run takes it.
        with ho.begin() as conn:
            set_price(conn, find_product(conn, "Pens").id, Decimal("2.50"), TODAY)
        wait_for(lambda: ready_in(offices, Names(offices.prefix).receipts_queue("bo1")) == 1, 30,
                 "the change to wait in bo1's queue")
        once = run_once(offices, "bo1")
        assert once.returncode == 0, once.stderr
        assert "Pens,2.50\n" in show(offices, "bo1", TODAY), "a run with nothing to send left without the price"


def test_a_run_once_with_nothing_to_send_takes_a_catalogue_waiting_behind_more_than_the_prefetch(offices):
    ho, bo1 = offices.engine("ho"), offices.engine("bo1")
    queue = Names(offices.prefix).receipts_queue("bo1")
    with running(IntakeConsumer(offices.ho)):
        insert_sales(bo1, 1, day=TODAY)
        assert run_once(offices, "bo1").returncode == 0  # bo1 said what it holds: the Head Office sends it changes
        wait_for(lambda: ready_in(offices, queue) == 0, 30, "bo1's queue to be empty")
        connection = pika.BlockingConnection(pika.URLParameters(offices.amqp_url))
        try:  # a branch away for long: many messages for it (asks to sync) before the change
            channel = connection.channel()
            for _ in range(RECEIPT_PREFETCH + 36):
                channel.basic_publish(Names(offices.prefix).receipts_exchange, "bo1", protocol.encode_sync_request(),
                                      pika.BasicProperties(type=protocol.SYNC_REQUEST, headers={"x-sync-version": 1},
                                                           content_encoding="zlib", delivery_mode=2))
        finally:
            connection.close()
        with ho.begin() as conn:
            set_price(conn, find_product(conn, "Pens").id, Decimal("2.65"), TODAY)
        wait_for(lambda: ready_in(offices, queue) == RECEIPT_PREFETCH + 37, 30, "the change to wait behind them")
        once = run_once(offices, "bo1")
    assert once.returncode == 0, once.stderr
    assert "Pens,2.65\n" in show(offices, "bo1", TODAY), "the run left without the change waiting for it"
    assert f"catalogue at version {version(offices, 'ho')}" in once.stdout, once.stdout


def test_a_run_once_with_nothing_to_send_over_a_slow_link_takes_the_whole_snapshot_waiting_for_it(offices, tmp_path):
    ho, bo1 = offices.engine("ho"), offices.engine("bo1")
    with running(IntakeConsumer(offices.ho)):
        insert_sales(bo1, 1, day=TODAY)
        assert run_once(offices, "bo1").returncode == 0  # bo1 said what it holds: the Head Office sends it changes
        add_many(ho, MANY)  # far behind now: a snapshot of 10,000 products waits in bo1's queue
        queue = Names(offices.prefix).receipts_queue("bo1")
        wait_for(lambda: ready_in(offices, queue) == 1, 60, "the snapshot to wait in bo1's queue")
        with LinkProxy(BROKER, rate_bps=100_000, rtt=0.2) as link:  # the snapshot takes seconds to come down
            slow = tmp_path / "bo1-slow.toml"
            slow.write_text(offices.paths["bo1"].read_text().replace(
                f'amqp_urls = ["{offices.amqp_url}"]', f'amqp_urls = ["{via_port(offices.amqp_url, link.port)}"]'))
            assert via_port(offices.amqp_url, link.port) in slow.read_text()
            once = subprocess.run([sys.executable, "bo_app.py", "--config", str(slow), "--once"], cwd=ROOT,
                                  capture_output=True, text=True, timeout=180)
        assert once.returncode == 0, once.stderr
        assert show(offices, "bo1", TODAY) == show(offices, "ho", TODAY), "the run left without the whole snapshot"
        assert f"catalogue at version {version(offices, 'ho')}" in once.stdout, once.stdout

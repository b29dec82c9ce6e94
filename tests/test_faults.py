"""Link cuts, kill -9 and broker restarts: afterwards the Head Office equals the branches,
with no sale lost, none duplicated, and deleted sales absent."""
from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import time

import pytest

from devtools.linkproxy import LinkProxy
from sync import events
from sync.broker import LinkDown, connect
from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay
from tests.harness import (
    AMQP_URL,
    BROKER,
    RABBITMQCTL,
    ROOT,
    assert_converged,
    change_qty,
    delete_sale,
    finish,
    head_office_rows,
    insert_sales,
    kill9,
    outbox_states,
    running,
    spawn,
    stop,
    via_port,
    wait_for,
    with_amqp,
)


def proxied(url: str, port: int) -> str:
    return via_port(url, port)


def test_sale_saved_offline_reaches_head_office_after_link_returns(offices, caplog):
    bo = offices.engine("bo1")
    seen = []
    with LinkProxy(BROKER) as link:
        link.cut()
        relay = OutboxRelay(with_amqp(offices.branch("bo1"), proxied(AMQP_URL, link.port)), on_event=seen.append)
        with caplog.at_level(logging.INFO, logger="sync.bo1"), running(IntakeConsumer(offices.ho), relay):
            wait_for(lambda: relay.state == events.OFFLINE, 10, "the agent to report offline")
            ids = insert_sales(bo, 20)            # the branch keeps working offline
            change_qty(bo, ids[0], qty=44)
            delete_sale(bo, ids[1])
            attempts = wait_for(lambda: sum(1 for e in seen if getattr(e, "state", None) == events.CONNECTING) >= 5,
                                30, "the agent to keep retrying")
            assert attempts and head_office_rows(offices.engine("ho")) == set()
            offline_lines = [r for r in caplog.records if r.name == "sync.bo1" and "offline" in r.getMessage()]
            assert len(offline_lines) == 1, "retries against a dead link must not flood the log"
            link.restore()
            assert_converged(offices)


def test_link_cut_in_the_middle_of_a_batch_loses_and_duplicates_nothing(offices):
    bo = offices.engine("bo1")
    insert_sales(bo, 20_000)
    with LinkProxy(BROKER) as link:
        cfg = dataclasses.replace(with_amqp(offices.branch("bo1"), proxied(AMQP_URL, link.port)), batch_rows=500)
        with running(IntakeConsumer(offices.ho), OutboxRelay(cfg)):
            wait_for(lambda: outbox_states(bo).get(1, 0) + outbox_states(bo).get(2, 0) >= 2_000, 60, "part of the backlog sent")
            link.cut()
            assert outbox_states(bo).get(0, 0) > 0, "the cut came too late to be mid-stream"
            time.sleep(1)  # the link stays down a moment, as it does
            link.restore()
            assert_converged(offices, timeout=120)
    assert len(head_office_rows(offices.engine("ho"))) == 20_000


@pytest.mark.parametrize("window", [1, 3])
def test_a_backlog_goes_with_publish_window_messages_in_flight_each_on_its_own_connection(offices, window):
    bo = offices.engine("bo1")
    insert_sales(bo, 6_000)
    with LinkProxy(BROKER, rtt=0.05) as link:
        cfg = dataclasses.replace(with_amqp(offices.branch("bo1"), proxied(AMQP_URL, link.port)),
                                  batch_rows=300, publish_window=window)
        with running(IntakeConsumer(offices.ho)):
            passed = OutboxRelay(cfg).run_once()
            assert passed.sent == 6_000, "each change is published once"
            assert_converged(offices)
        # The agent's own connection, plus one per lane when there are lanes.
        assert link.connections == (1 if window == 1 else 1 + window)
    assert len(head_office_rows(offices.engine("ho"))) == 6_000
    assert outbox_states(bo) == {2: 6_000}


def test_a_link_that_resets_as_it_opens_never_ends_the_agent_or_the_consumer(offices):
    # A cut link accepts and resets at once.  pika then sometimes raises a bare
    # ValueError ("Expected connected socket") instead of a connection error; once
    # that ended the agent's thread and left a backlog pending for good.
    with LinkProxy(BROKER) as link:
        link.cut()
        branch = with_amqp(offices.branch("bo1"), proxied(AMQP_URL, link.port))
        for _ in range(300):
            with pytest.raises(LinkDown, match="cannot reach the message broker"):
                connect(branch)
        fast = {"backoff_initial_seconds": 0.01, "backoff_max_seconds": 0.05}
        relay = OutboxRelay(dataclasses.replace(branch, **fast))
        consumer = IntakeConsumer(dataclasses.replace(with_amqp(offices.ho, proxied(AMQP_URL, link.port)), **fast))
        insert_sales(offices.engine("bo1"), 50)
        with running(consumer, relay):
            time.sleep(5)  # a few hundred reset connects each
            assert relay.is_alive() and consumer.is_alive()
            link.restore()
            assert_converged(offices)


def test_kill_9_of_the_branch_agent_during_publish_loses_and_duplicates_nothing(offices):
    bo = offices.engine("bo1")
    insert_sales(bo, 30_000)
    env = {"SYNC_BATCH_ROWS": "500"}
    with running(IntakeConsumer(offices.ho)):
        agent = spawn("bo_app.py", offices.paths["bo1"], "--headless", env=env)
        wait_for(lambda: outbox_states(bo).get(1, 0) + outbox_states(bo).get(2, 0) >= 1_000, 60, "the agent to be publishing")
        kill9(agent)
        assert outbox_states(bo).get(0, 0) > 0, "the kill came too late to be mid-stream"
        delete_sale(bo, 1)
        agent = spawn("bo_app.py", offices.paths["bo1"], "--headless", env=env)
        try:
            assert_converged(offices, timeout=120)
        finally:
            stop(agent)
    assert len(head_office_rows(offices.engine("ho"))) == 29_999


def test_kill_9_of_the_head_office_consumer_during_apply_loses_and_duplicates_nothing(offices):
    for b in offices.branches:
        insert_sales(offices.engine(b.code), 10_000)
    ho = offices.engine("ho")
    with running(*[OutboxRelay(dataclasses.replace(b, batch_rows=500)) for b in offices.branches]):
        consumer = spawn("ho_app.py", offices.paths["ho"], "--headless")
        wait_for(lambda: len(head_office_rows(ho)) >= 2_000, 60, "the consumer to be applying")
        kill9(consumer)
        assert len(head_office_rows(ho)) < 30_000, "the kill came too late to be mid-stream"
        consumer = spawn("ho_app.py", offices.paths["ho"], "--headless")
        try:
            assert_converged(offices, timeout=180)
        finally:
            stop(consumer)
    assert len(head_office_rows(ho)) == 30_000


def rabbitmqctl(*args: str) -> None:
    subprocess.run([*RABBITMQCTL, *args], check=True, capture_output=True, timeout=120)


def test_a_rabbitmq_restart_mid_stream_loses_and_duplicates_nothing(offices):
    for b in offices.branches:
        insert_sales(offices.engine(b.code), 5_000)
    relays = [OutboxRelay(dataclasses.replace(b, batch_rows=250)) for b in offices.branches]
    with running(IntakeConsumer(offices.ho), *relays):
        wait_for(lambda: len(head_office_rows(offices.engine("ho"))) >= 500, 60, "delivery to be under way")
        rabbitmqctl("stop_app")
        try:
            insert_sales(offices.engine("bo2"), 100, start=50_000)  # written while the broker is down
        finally:
            rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
        assert_converged(offices, timeout=180)
    assert len(head_office_rows(offices.engine("ho"))) == 15_100


def test_once_sends_everything_waits_for_confirms_and_exits_zero(offices):
    insert_sales(offices.engine("bo1"), 300)
    with running(IntakeConsumer(offices.ho)):
        done = spawn("bo_app.py", offices.paths["bo1"], "--once")
        out = finish(done)
        assert done.returncode == 0, out
        assert "sent 300 change(s)" in out
        assert outbox_states(offices.engine("bo1")).get(0, 0) == 0
        assert_converged(offices)


def test_once_exits_non_zero_with_one_clear_line_when_the_broker_is_unreachable(offices):
    insert_sales(offices.engine("bo1"), 3)
    done = spawn("bo_app.py", offices.paths["bo1"], "--once", env={"SYNC_AMQP_URL": "amqp://guest:secret@127.0.0.1:1/%2F"})
    out = finish(done)
    assert done.returncode != 0
    assert "cannot reach the message broker" in out and "Traceback" not in out and "secret" not in out
    assert outbox_states(offices.engine("bo1")) == {0: 3}


def test_outside_its_sync_window_the_agent_stays_offline_until_sync_now(offices):
    import datetime as dt

    from config import SyncWindow

    later = (dt.datetime.now() + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    end = (dt.datetime.now() + dt.timedelta(hours=3)).time().replace(second=0, microsecond=0)
    cfg = dataclasses.replace(offices.branch("bo1"), sync_windows=(SyncWindow(later, end),))
    seen = []
    relay = OutboxRelay(cfg, on_event=seen.append)
    insert_sales(offices.engine("bo1"), 5)
    with running(IntakeConsumer(offices.ho), relay):
        wait_for(lambda: relay.state == events.OUTSIDE_WINDOW, 10, "the agent to wait for its window")
        assert outbox_states(offices.engine("bo1")) == {0: 5}
        relay.sync_now()
        finished = wait_for(lambda: [e for e in seen if isinstance(e, events.SyncFinished)], 30, "sync now to finish")
        assert finished[0].ok and "5 change(s) sent" in finished[0].message
        assert_converged(offices)
        wait_for(lambda: relay.state == events.OUTSIDE_WINDOW, 10, "the agent to go offline again after the sync")


def test_status_reports_branch_counts_and_head_office_progress(offices):
    insert_sales(offices.engine("bo1"), 4)
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        assert_converged(offices)
    insert_sales(offices.engine("bo1"), 2, start=10)
    bo = subprocess.run([sys.executable, "-m", "sync", "status", "--config", str(offices.paths["bo1"])],
                        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert "pending 2, sent 0, applied 4" in bo.stdout and "answers" in bo.stdout
    ho = subprocess.run([sys.executable, "-m", "sync", "status", "--config", str(offices.paths["ho"])],
                        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert "bo1" in ho.stdout and "dead letters parked: 0" in ho.stdout
    assert [line for line in ho.stdout.splitlines() if line.strip().startswith("bo1")][0].split()[3] == "4"


def test_with_the_branch_database_down_the_agent_waits_and_recovers(offices):
    from sqlalchemy.engine import make_url

    from models.schema import make_engine

    insert_sales(offices.engine("bo1"), 5)
    url = make_url(offices.branch("bo1").db_url)
    seen = []
    with LinkProxy((url.host, url.port or 3306)) as db_link:
        engine = make_engine(url.set(port=db_link.port))
        db_link.cut()
        relay = OutboxRelay(offices.branch("bo1"), on_event=seen.append, engine=engine)
        with running(IntakeConsumer(offices.ho), relay):
            wait_for(lambda: any(isinstance(e, events.LinkStatus) and e.error and "branch database is not answering" in e.error
                                 for e in seen), 30, "the agent to say the branch database is down")
            assert relay.is_alive()
            db_link.restore()
            assert_converged(offices)
        engine.dispose()


def test_a_message_that_keeps_failing_is_parked_by_the_broker_never_dropped(offices):
    import pika

    from sync.broker import Names
    from tests.harness import changes_body, dead_letters, publish_raw, upsert

    publish_raw(offices, changes_body("bo1", "db", [upsert(1, 1, qty=1)]))
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    names = Names(offices.ho.topology_prefix)
    for _ in range(60):  # a consumer that fails on it again and again
        method, _props, _body = channel.basic_get(names.intake_queue)
        if method is None:
            break
        channel.basic_nack(method.delivery_tag, requeue=True)
    assert channel.queue_declare(names.intake_queue, passive=True).method.message_count == 0
    connection.close()
    with running(IntakeConsumer(offices.ho)):
        (parked,) = wait_for(lambda: dead_letters(offices.engine("ho")), 30, "the parked message to be recorded")
    assert "delivery_limit" in parked.reason or "delivery limit" in parked.reason

"""The Head Office applies each change once, in effect, whatever the order or the repeats,
and parks what it cannot apply with the reason."""
from __future__ import annotations

import dataclasses

from sqlalchemy import text

from devtools.linkproxy import LinkProxy
from models.schema import make_engine
from sync import events
from sync.dead_letters import discard as discard_dead_letter
from sync.intake import IntakeConsumer
from sync.outbox import Outbox
from sync.protocol import encode_changes
from sync.relay import OutboxRelay
from tests.harness import (
    assert_converged,
    change_qty,
    changes_body,
    dead_letters,
    delete_sale,
    head_office_rows,
    insert_sales,
    publish_raw,
    running,
    upsert,
    wait_for,
)


def held(offices) -> dict:
    return {(r[0], r[1]): r for r in head_office_rows(offices.engine("ho"))}


def applied_count(offices, branch="bo1") -> int:
    with offices.engine("ho").connect() as conn:
        return conn.execute(text("SELECT changes_applied FROM sync_branches WHERE code=:b"), {"b": branch}).scalar_one()


def test_the_same_message_delivered_twice_changes_nothing(offices):
    bo = offices.engine("bo1")
    insert_sales(bo, 10)
    outbox = Outbox(bo)
    body, _ = encode_changes("bo1", outbox.origin(), outbox.pending_batch(100), outbox.high_water(), 1_700_000_000_000)
    with running(IntakeConsumer(offices.ho)):
        publish_raw(offices, body)
        wait_for(lambda: len(held(offices)) == 10, 30, "the first copy to be applied")
        before = held(offices)
        publish_raw(offices, body)
        publish_raw(offices, body)
        wait_for(lambda: _intake_empty(offices), 30, "the copies to be consumed")
        assert held(offices) == before
        assert applied_count(offices) == 10
        assert dead_letters(offices.engine("ho")) == []


def _intake_empty(offices) -> bool:
    import pika

    from tests.harness import AMQP_URL

    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        q = connection.channel().queue_declare(f"{offices.ho.topology_prefix}.intake", passive=True)
        return q.method.message_count == 0
    finally:
        connection.close()


def test_messages_out_of_order_leave_the_newest_state_and_never_resurrect_a_delete(offices):
    send = [  # (seq, change) as they arrive: newest first, then the older ones
        changes_body("bo1", "db-1", [[3, 1, "d"]]),
        changes_body("bo1", "db-1", [upsert(1, 1, qty=1)]),
        changes_body("bo1", "db-1", [upsert(2, 1, qty=2)]),
        changes_body("bo1", "db-1", [upsert(5, 2, qty=5)]),
        changes_body("bo1", "db-1", [upsert(4, 2, qty=4)]),
    ]
    with running(IntakeConsumer(offices.ho)):
        for body in send:
            publish_raw(offices, body)
        wait_for(lambda: _intake_empty(offices) and ("bo1", 2) in held(offices), 30, "all five to be consumed")
    rows = held(offices)
    assert ("bo1", 1) not in rows, "an older upsert resurrected a deleted sale"
    assert rows[("bo1", 2)][5] == 5, "an older upsert rolled back a newer one"


def test_poison_messages_are_dead_lettered_with_their_reason_and_the_good_ones_applied(offices):
    messages = [
        changes_body("bo1", "db-1", [upsert(1, 1, qty=1)]),
        b"\x00\x01 this is not a message",
        changes_body("bo1", "db-1", [upsert(2, 2, qty=2)], version=99),
        changes_body("bo1", "db-1", [upsert(3, 3, qty=3), [4, 4, "u", "2021-04-30", "East", "Pens", -2, "2.19", "-4.38",
                                                           "0.00", "-4.38"], upsert(5, 5, qty=5)]),
        changes_body("bo9", "db-9", [upsert(1, 1, qty=1)]),
        changes_body("bo1", "db-1", [upsert(6, 6, qty=6)]),
    ]
    with running(IntakeConsumer(offices.ho)) as (consumer,):
        for body in messages:
            publish_raw(offices, body)
        parked = wait_for(lambda: len(dead_letters(offices.engine("ho"))) == 4 and dead_letters(offices.engine("ho")),
                          30, "four dead letters")
        wait_for(lambda: len(held(offices)) == 4, 30, "the four good sales")
        assert consumer.is_alive()
    assert sorted(k[1] for k in held(offices)) == [1, 3, 5, 6]
    reasons = " | ".join(r.reason for r in parked)
    for expected in ("not valid zlib", "version 99 is not supported", "Qty must be at least 1", "'bo9' is not one"):
        assert expected in reasons
    assert all(r.state == "parked" for r in parked)


def test_the_head_office_database_down_for_a_while_delays_but_loses_nothing(offices):
    host_port = make_engine(offices.ho.db_url).url
    with LinkProxy((host_port.host, host_port.port or 3306)) as proxy:
        via_proxy = offices.ho.db_url.replace(f"{host_port.host}:{host_port.port or 3306}", f"127.0.0.1:{proxy.port}")
        engine = make_engine(via_proxy, isolation_level="READ COMMITTED")
        consumer = IntakeConsumer(offices.ho, engine=engine)
        with running(consumer):
            wait_for(lambda: consumer.state == "online", 10, "the consumer to start")
            proxy.cut()
            for seq in range(1, 6):
                publish_raw(offices, changes_body("bo1", "db-1", [upsert(seq, seq, qty=seq)]))
            wait_for(lambda: consumer.state == "waiting for database", 30,
                     "the consumer to notice its database is down")
            assert held(offices) == {} and dead_letters(offices.engine("ho")) == []
            proxy.restore()
            wait_for(lambda: len(held(offices)) == 5, 60, "the consumer to catch up once the database returns")
        engine.dispose()
    assert dead_letters(offices.engine("ho")) == []


def test_a_replaced_branch_database_is_refused_and_never_mixed_in(offices):
    with running(IntakeConsumer(offices.ho)):
        publish_raw(offices, changes_body("bo1", "db-old", [upsert(1, 1, qty=1)]))
        wait_for(lambda: len(held(offices)) == 1, 30, "the first history to be applied")
        publish_raw(offices, changes_body("bo1", "db-new", [upsert(1, 1, qty=9), upsert(2, 2, qty=2)]))
        (parked,) = wait_for(lambda: dead_letters(offices.engine("ho")), 30, "the second history to be refused")
    assert "re-created or replaced" in parked.reason
    from sync.status import branch_progress

    assert "database replaced" in {p.code: p for p in branch_progress(offices.engine("ho"))}["bo1"].alert
    assert held(offices)[("bo1", 1)][5] == 1 and ("bo1", 2) not in held(offices)


def test_a_parked_message_can_be_retried_once_the_cause_is_fixed_or_discarded(offices):
    only_bo1 = dataclasses.replace(offices.ho, branches={"bo1": "East Branch"})
    with running(IntakeConsumer(only_bo1)):
        publish_raw(offices, changes_body("bo2", "db-2", [upsert(1, 1, qty=3)]))
        publish_raw(offices, changes_body("bo3", "db-3", [upsert(1, 1, qty=4)]))
        wait_for(lambda: len(dead_letters(offices.engine("ho"))) == 2, 30, "both to be parked (branches unknown)")
    first, second = dead_letters(offices.engine("ho"))
    with running(IntakeConsumer(offices.ho)) as (consumer,):  # bo2 and bo3 now registered
        consumer.retry_dead_letter(first.id)
        wait_for(lambda: ("bo2", 1) in held(offices), 30, "the retried message to be applied")
    assert discard_dead_letter(offices.engine("ho"), second.id)
    states = {r.id: r.state for r in dead_letters(offices.engine("ho"))}
    assert states == {first.id: "retried", second.id: "discarded"}
    assert ("bo3", 1) not in held(offices)


def test_when_branch_logins_are_required_a_message_without_its_branch_login_is_refused(make_offices):
    offices = make_offices(require_branch_login=True)
    with running(IntakeConsumer(offices.ho)):
        publish_raw(offices, changes_body("bo1", "db-1", [upsert(1, 1, qty=1)]))  # no user_id: anyone could have sent it
        (parked,) = wait_for(lambda: dead_letters(offices.engine("ho")), 30, "the anonymous message to be refused")
    assert "a branch may only send its own changes" in parked.reason
    assert held(offices) == {}


def test_two_consumers_on_one_queue_apply_every_change_once_with_updates_and_deletes_in_flight(offices):
    # Several Head Office consumers may share the intake queue (throughput, failover):
    # the per-branch lock row orders the applies of a branch, whoever takes them.
    applied_by = {0: 0, 1: 0}

    def counter(n):
        def count(event):
            if isinstance(event, events.RowsApplied):
                applied_by[n] += event.upserts + event.deletes
        return count

    ho = dataclasses.replace(offices.ho, prefetch=2)
    consumers = [IntakeConsumer(ho, on_event=counter(n)) for n in (0, 1)]
    for b in offices.branches:
        insert_sales(offices.engine(b.code), 3_000)
    relays = [OutboxRelay(dataclasses.replace(b, batch_rows=100)) for b in offices.branches]
    with running(*consumers, *relays):
        wait_for(lambda: all(applied_by.values()), 60, "both consumers to be applying")
        for b in offices.branches:  # changes made while both consume, to rows sent and not yet sent
            engine = offices.engine(b.code)
            for sale_id in (1, 1_500, 2_999):
                change_qty(engine, sale_id, qty=sale_id % 50 + 1)
            delete_sale(engine, 2)
            delete_sale(engine, 3_000)
        assert_converged(offices, timeout=120)
    assert len(head_office_rows(offices.engine("ho"))) == 3 * 2_998
    assert dead_letters(offices.engine("ho")) == []
    assert applied_by[0] > 0 and applied_by[1] > 0

"""The life of a dead letter: parked with its reason and its real sender, retried by a
person as often as needed (each attempt kept), discarded, and never lost to a brief
database outage or to the size of what it carried."""
from __future__ import annotations

import dataclasses
import threading

from sqlalchemy import text

from devtools.linkproxy import LinkProxy
from models.schema import make_engine
from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay
from tests.harness import (
    changes_body,
    dead_letter_records,
    head_office_rows,
    insert_sales,
    outbox_states,
    publish_raw,
    running,
    upsert,
    wait_for,
)


def attempts(engine, dead_letter_id: int) -> list:
    with engine.connect() as conn:
        return conn.execute(text("SELECT outcome, reason FROM sync_dead_letter_attempts WHERE dead_letter_id = :i "
                                 "ORDER BY id"), {"i": dead_letter_id}).all()


def test_a_retry_that_fails_again_is_parked_again_visibly_with_every_attempt_kept(offices):
    # Reproduced on a7d5714: the re-parked copy had the same fingerprint, INSERT IGNORE
    # dropped it, and the window said "Nothing parked".
    ho = offices.engine("ho")
    only_bo1 = dataclasses.replace(offices.ho, branches={"bo1": "East Branch"})
    with running(IntakeConsumer(only_bo1)) as (consumer,):
        publish_raw(offices, changes_body("bo2", "db-2", [upsert(1, 1, qty=3)]))
        (parked,) = wait_for(lambda: dead_letter_records(ho), 30, "the message from an unknown branch")
        for tries in (2, 3):
            consumer.retry_dead_letter(parked.id)
            wait_for(lambda t=tries: dead_letter_records(ho)[0].attempts == t, 30, f"attempt {tries}")
    (letter,) = dead_letter_records(ho)
    assert letter.state == "parked"
    assert [outcome for outcome, _ in attempts(ho, letter.id)] == ["parked", "parked again", "parked again"]


def test_a_retry_asked_for_while_the_database_is_down_is_done_once_it_answers(offices):
    ho = offices.engine("ho")
    only_bo1 = dataclasses.replace(offices.ho, branches={"bo1": "East Branch"})
    with running(IntakeConsumer(only_bo1)):
        publish_raw(offices, changes_body("bo2", "db-2", [upsert(1, 1, qty=3)]))
        (parked,) = wait_for(lambda: dead_letter_records(ho), 30, "the message from a branch not yet known")
    url = make_engine(offices.ho.db_url).url
    with LinkProxy((url.host, url.port or 3306)) as proxy:
        engine = make_engine(offices.ho.db_url.replace(f"{url.host}:{url.port or 3306}", f"127.0.0.1:{proxy.port}"),
                             isolation_level="READ COMMITTED")
        consumer = IntakeConsumer(offices.ho, engine=engine)  # now bo2 is known
        with running(consumer):
            wait_for(lambda: consumer.state == "online", 30, "the consumer to start")
            proxy.cut()
            consumer.retry_dead_letter(parked.id)
            wait_for(lambda: consumer.state == "waiting for database", 30, "the consumer to notice the outage")
            proxy.restore()
            wait_for(lambda: ("bo2", 1) in {(r[0], r[1]) for r in head_office_rows(ho)}, 60, "the retried message")
        engine.dispose()
    assert dead_letter_records(ho)[0].state == "retried"


def test_a_dead_letter_with_huge_headers_can_still_be_retried(offices):
    # Reproduced on a7d5714: the recorded properties were cut at 60,000 characters, so
    # the JSON no longer parsed and Retry failed while the window said it went back.
    ho = offices.engine("ho")
    only_bo1 = dataclasses.replace(offices.ho, branches={"bo1": "East Branch"})
    with running(IntakeConsumer(only_bo1)):
        publish_raw(offices, changes_body("bo2", "db-2", [upsert(1, 1, qty=3)]), headers={"x-note": "n" * 100_000})
        (parked,) = wait_for(lambda: dead_letter_records(ho), 30, "the message to be parked")
    with running(IntakeConsumer(offices.ho)) as (consumer,):
        consumer.retry_dead_letter(parked.id)
        wait_for(lambda: len(head_office_rows(ho)) == 1, 30, "the retried message to be applied")
    assert dead_letter_records(ho)[0].state == "retried"


def test_changes_refused_as_a_whole_are_receipted_so_the_branch_does_not_resend_them_every_few_hours(offices):
    # Reproduced on a7d5714: a message refused as a whole got no receipt, so the branch
    # sent it again after resend_after_seconds, and each copy was a new dead letter.
    ho = offices.engine("ho")
    insert_sales(offices.engine("bo1"), 3)
    relay = OutboxRelay(dataclasses.replace(offices.branch("bo1"), resend_after_seconds=1))
    with running(IntakeConsumer(offices.ho)):
        # The Head Office already holds bo1's history from another database: bo1's changes are refused whole.
        publish_raw(offices, changes_body("bo1", "another-database", [upsert(1, 900, qty=1)]), branch="bo1",
                    headers={"x-sync-accepts": 2})
        wait_for(lambda: head_office_rows(ho), 30, "the other database's change")
        with running(relay):
            wait_for(lambda: outbox_states(offices.engine("bo1")) == {3: 3}, 60, "the branch to hear of the refusal")
            threading.Event().wait(3)  # three resend periods: a change left "sent" would have gone again
            relay.sync_now()
            threading.Event().wait(2)
    assert len(dead_letter_records(ho)) == 1

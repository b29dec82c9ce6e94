"""Whatever a branch sends, the Head Office spends a bounded effort on it.

A message inflates at most to the size of the largest real one (a full batch),
its JSON is counted before a single object is built, unknown keys are refused,
and the consumer keeps its broker connection alive through any long apply.
"""
from __future__ import annotations

import dataclasses
import json
import os
import threading

from sqlalchemy import text

from sync import events, protocol
from sync.intake import IntakeConsumer
from tests.bombs import BOMBS, deflate
from tests.harness import (
    changes_body,
    dead_letters,
    head_office_rows,
    publish_raw,
    running,
    spawn,
    stop,
    upsert,
    wait_for,
)


def test_a_long_apply_keeps_the_broker_connection_alive(offices):
    # One heartbeat a second: a consumer that stops talking to the broker for a few
    # seconds while it waits for its database is dropped, and every unacked message
    # goes back to the queue and counts against the delivery limit.
    ho = dataclasses.replace(offices.ho, heartbeat_seconds=1)
    seen: list = []
    consumer = IntakeConsumer(ho, on_event=seen.append)
    with running(consumer):
        wait_for(lambda: consumer.state == events.ONLINE, 30, "the consumer to come online")
        lock = offices.engine("ho").connect()
        transaction = lock.begin()
        lock.execute(text("SELECT * FROM sync_branches WHERE code = 'bo1' FOR UPDATE"))
        try:
            publish_raw(offices, changes_body("bo1", "db-1", [upsert(1, 1, qty=1)]))
            threading.Event().wait(6)  # the apply waits for bo1's lock all this time
            assert head_office_rows(offices.engine("ho")) == set()
        finally:
            transaction.rollback()
            lock.close()
        wait_for(lambda: len(head_office_rows(offices.engine("ho"))) == 1, 30, "the sale once the lock is gone")
    went_offline = [e for e in seen if isinstance(e, events.ConsumerStatus) and e.state == events.OFFLINE]
    assert went_offline == [], went_offline
    assert dead_letters(offices.engine("ho")) == []


def peak_rss_mb(pid: int) -> float:
    """The most resident memory the process has had (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def test_the_head_office_stays_under_150_mb_whatever_a_branch_sends(offices):
    # Everything at once: every bomb, bodies of noise as large as the broker takes from a
    # branch (provision caps a message at 8 MiB), and the largest real messages.
    noise = os.urandom(8 * 1024 * 1024 - 4096)
    widest = [[seq, seq, "u", "2021-04-29", "😀" * 64, "😀" * 64, 1, "2.19", "2.19", "0.15", "2.34"]
              for seq in range(1, protocol.MAX_CHANGES + 1)]
    largest = deflate(json.dumps({"v": 1, "type": "changes", "branch": "bo2", "origin": "db-2",
                                  "hw": protocol.MAX_CHANGES, "at": 1, "changes": widest}, ensure_ascii=False).encode())
    consumer = spawn("ho_app.py", offices.paths["ho"], "--headless")
    try:
        wait_for(lambda: "consumer online" in _log(consumer), 60, "the Head Office consumer to start")
        for _round in range(3):
            for make in BOMBS.values():
                publish_raw(offices, make())
            for _ in range(3):
                publish_raw(offices, noise, content_encoding=None)
        for _ in range(3):
            publish_raw(offices, largest)
        publish_raw(offices, changes_body("bo1", "db-1", [upsert(1, 1, qty=1)]))
        wait_for(lambda: len(head_office_rows(offices.engine("ho"))) == 1 + protocol.MAX_CHANGES, 180,
                 "the good messages behind the bombs")
        # Each distinct bomb is parked once, however often it came (a dead letter's fingerprint is its body).
        wait_for(lambda: len(dead_letters(offices.engine("ho"))) >= len(BOMBS) + 1, 180, "every bomb parked")
        peak = peak_rss_mb(consumer.pid)
    finally:
        stop(consumer)
    print(f"Head Office consumer peak RSS: {peak:.0f} MB")
    assert peak < 150, f"the Head Office consumer peaked at {peak:.0f} MB"


def _log(process) -> str:
    from tests.harness import output

    return output(process)

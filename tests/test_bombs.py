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
import tracemalloc
import zlib

import pytest
from sqlalchemy import text

from sync import events, protocol
from sync.intake import IntakeConsumer
from sync.protocol import Poison
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

KNOWN = {"bo1", "bo2"}
ENVELOPE = '{"v":1,"type":"changes","branch":"bo1","origin":"o","hw":1,"at":1,"changes":'


def deflate(raw: bytes) -> bytes:
    return zlib.compress(raw, 9)


def peak_bytes_while(action) -> int:
    """The most memory Python allocated while ``action()`` ran."""
    tracemalloc.start()
    try:
        action()
    except Poison:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def zlib_bomb() -> bytes:
    """64 KiB on the wire that inflates to about 64 MB of valid-looking JSON."""
    inner = b"[1,1,\"d\"]," * 6_500_000
    return deflate(ENVELOPE.encode() + b"[" + inner + b"[1,1,\"d\"]]}")


def object_bomb(size: int = 3_000_000) -> bytes:
    """Small enough to inflate under any cap, yet a million empty lists once json builds them."""
    return deflate(ENVELOPE.encode() + b"[" + b"[]," * (size // 3) + b"[]]}")


BOMBS = {
    "zlib bomb": zlib_bomb,
    "object bomb": object_bomb,
    "many dicts": lambda: deflate(ENVELOPE.encode() + b"[" + b"{}," * 1_000_000 + b"{}]}"),
    "many numbers": lambda: deflate(ENVELOPE.encode() + b"[[" + b"1," * 1_500_000 + b"1]]}"),
    "deep nesting": lambda: deflate(ENVELOPE.encode() + b"[" * 100_000 + b"]" * 100_000 + b"}"),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_bomb_is_refused_before_it_costs_more_than_a_real_message(name):
    body = BOMBS[name]()
    assert len(body) < 512 * 1024
    peak = peak_bytes_while(lambda: protocol.decode_changes(body, "zlib", KNOWN))
    with pytest.raises(Poison):
        protocol.decode_changes(body, "zlib", KNOWN)
    # The largest real message (a full batch of the widest rows) costs less than this to decode.
    assert peak < 3 * protocol.MAX_INFLATED_BYTES, f"{name} cost {peak / 1e6:.0f} MB to refuse"


def test_the_inflated_size_is_capped_near_the_largest_real_message():
    widest = [[2**63 - 1, 2**63 - 1, "u", "2021-04-29", "😀" * 64, "😀" * 64, 2_147_483_647,
               "99999999.99", "9999999999.99", "9999999999.99", "9999999999.99"]]
    largest = len(json.dumps({"v": 1, "type": "changes", "branch": "bo1", "origin": "o" * 36, "hw": 2**63 - 1,
                              "at": 2**53, "changes": widest * protocol.MAX_CHANGES},
                         separators=(",", ":"), ensure_ascii=False).encode())  # as a branch writes it
    assert largest <= protocol.MAX_INFLATED_BYTES <= 2 * largest


def test_unknown_keys_are_refused_with_their_names():
    body = deflate(json.dumps({"v": 1, "type": "changes", "branch": "bo1", "origin": "o", "hw": 1, "at": 1,
                               "changes": [[1, 1, "d"]], "padding": "x" * 1000}).encode())
    with pytest.raises(Poison, match="padding"):
        protocol.decode_changes(body, "zlib", KNOWN)


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

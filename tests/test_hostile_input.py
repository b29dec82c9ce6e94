"""Hostile and broken messages: each is refused with a reason, the Head Office data
is unchanged, and the consumer never stops."""
from __future__ import annotations

import json
import zlib

from sync.intake import IntakeConsumer
from tests.harness import changes_body, dead_letters, head_office_rows, publish_raw, running, upsert, wait_for


def test_a_stream_of_hostile_messages_leaves_the_data_unchanged_and_the_consumer_running(offices):
    good_before = changes_body("bo1", "db", [upsert(1, 1, qty=1)])
    good_after = changes_body("bo1", "db", [upsert(2, 2, qty=2)])
    hostile = [
        (b"", "zlib"),
        (zlib.compress(b"x" * 1000)[:20], "zlib"),                                      # truncated compression
        (zlib.compress(b"[" * 200_000 + b"]" * 200_000), "zlib"),                       # deep nesting
        (zlib.compress(json.dumps({"v": 1, "type": "changes", "branch": "bo1", "origin": "db", "hw": 3, "at": 1,
                                   "changes": [[3, 3, "d"]] * 100_001}).encode()), "zlib"),  # too many changes
        (bytes(range(256)) * 40_000, "zlib"),                                            # 10 MB of noise
        (changes_body("bo1", "db", [[3, 3, "u", "2021-04-29", "East", "Paper", 1, "NaN", "NaN", "0", "NaN"]]), "zlib"),
        (changes_body("bo1", "db", [[3, 3, "u", "2021-04-29", "'; DROP TABLE sales; --", "Pens", 1, "2.19", "2.19",
                                     "0.15", "2.34"], upsert(4, 4, qty=-1)]), "zlib"),
        (changes_body("bo1", "db", [[3, 3, "u", "2021-04-29", "East", {"$gt": ""}, 1, "2.19", "2.19", "0.15", "2.34"]]), "zlib"),
        (json.dumps({"v": 1, "type": "changes", "branch": "bo1"}).encode(), None),
    ]
    with running(IntakeConsumer(offices.ho)) as (consumer,):
        publish_raw(offices, good_before)
        wait_for(lambda: len(head_office_rows(offices.engine("ho"))) == 1, 30, "the first good message")
        for body, encoding in hostile:
            publish_raw(offices, body, content_encoding=encoding)
        publish_raw(offices, good_after)
        wait_for(lambda: len(head_office_rows(offices.engine("ho"))) == 3, 60, "the good messages around the hostile ones")
        parked = wait_for(lambda: len(dead_letters(offices.engine("ho"))) >= len(hostile) - 1 and dead_letters(offices.engine("ho")),
                          60, "every hostile message to be parked")
        assert consumer.is_alive() and consumer.state == "online"
    held = {r[1]: r for r in head_office_rows(offices.engine("ho"))}
    # The one message with a good change among bad ones: the good change (the SQL-looking region) is applied, exactly.
    assert set(held) == {1, 2, 3} and held[3][3] == "'; DROP TABLE sales; --"
    assert all(p.reason for p in parked)

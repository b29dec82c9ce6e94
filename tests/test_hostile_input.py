"""Hostile and broken messages: each is refused with a reason, the Head Office data
is unchanged, and the consumer never stops."""
from __future__ import annotations

import json
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from sync import protocol
from sync.intake import IntakeConsumer
from tests.harness import changes_body, dead_letters, head_office_rows, publish_raw, running, upsert, wait_for

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)
CHANGE_FIELD = st.one_of(
    st.integers(-(2**70), 2**70), st.text(max_size=80), st.floats(allow_nan=True, allow_infinity=True),
    st.none(), st.booleans(), st.just("2021-04-29"), st.just("12.95"), st.just("1e400"), st.just("NaN"),
    st.just("'; DROP TABLE sales; --"), st.lists(st.integers(), max_size=3),
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from([None, "zlib", "identity", "gzip"]))
def test_arbitrary_bytes_are_either_decoded_or_refused_with_a_reason(body, encoding):
    try:
        protocol.decode_changes(body, encoding, {"bo1"})
    except protocol.Poison as exc:
        assert str(exc)


@settings(max_examples=400, deadline=None)
@given(JSONISH)
def test_arbitrary_json_is_either_decoded_or_refused_with_a_reason(obj):
    try:
        batch = protocol.decode_changes(zlib.compress(json.dumps(obj).encode()), "zlib", {"bo1"})
    except protocol.Poison as exc:
        assert str(exc)
    else:
        assert batch.branch == "bo1"


@settings(max_examples=400, deadline=None)
@given(st.lists(CHANGE_FIELD, min_size=0, max_size=12), st.integers(1, 100))
def test_arbitrary_changes_are_applied_only_when_every_rule_holds(fields, seq):
    body = zlib.compress(json.dumps(
        {"v": 1, "type": "changes", "branch": "bo1", "origin": "o", "hw": 100, "at": 1, "changes": [[seq, 1, "u", *fields]]}
    ).encode())
    try:
        batch = protocol.decode_changes(body, "zlib", {"bo1"})
    except protocol.Poison as exc:  # NaN and Infinity spoil the whole JSON document
        assert "not a number this protocol accepts" in str(exc)
        return
    assert len(batch.changes) + len(batch.rejected) == 1
    for change in batch.changes:  # whatever got through is a sale the rules accept
        sale = change.sale
        assert sale.qty >= 1 and sale.amt == sale.qty * sale.cost and sale.total == sale.amt + sale.tax
    for _seq, reason, _raw in batch.rejected:
        assert reason


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

"""One message's fault is that message's alone.

Whatever exception decoding, checking or applying a message raises, that message
alone is parked with the exception as its reason; the messages around it are
applied; the consumer never ends, and nothing it took is counted against the
broker's delivery limit for another message's fault.
"""
from __future__ import annotations

import itertools
import json
import os
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync import events
from sync.intake import IntakeConsumer
from tests.harness import (
    changes_body,
    dead_letters,
    head_office_rows,
    publish_raw,
    running,
    upsert,
    wait_for,
)

FUZZ_EXAMPLES = int(os.environ.get("SYNC_FUZZ_EXAMPLES", "25"))
YEAR_33658_MS = 10**15  # far beyond the year 9999 that datetime can show


def raw_body(obj) -> bytes:
    return zlib.compress(json.dumps(obj).encode())


def message(branch: str, origin: str, changes: list, hw: int | None = None, at: int = 1_700_000_000_000) -> bytes:
    return raw_body({"v": 1, "type": "changes", "branch": branch, "origin": origin,
                     "hw": hw or max(c[0] for c in changes), "at": at, "changes": changes})


def held(offices) -> dict:
    return {(r[0], r[1]): r for r in head_office_rows(offices.engine("ho"))}


def test_ten_poison_messages_among_twenty_good_ones_park_only_themselves(offices):
    good = [changes_body("bo2", "db-2", [upsert(i, i, qty=i)]) for i in range(1, 21)]
    bad = [
        # money a Decimal cannot quantize to cents
        message("bo1", "db-1", [[60, 60, "u", "2021-04-29", "East", "Pens", 1, "1e30", "1e30", "0.00", "1e30"]]),
        message("bo1", "db-1", [[61, 61, "u", "2021-04-29", "East", "Pens", 1, "2.19", "2.19", "0.15", "1E+29"]]),
        # a product no database can store (a lone surrogate)
        message("bo1", "db-1", [[62, 62, "u", "2021-04-29", "East", "Pens\ud800", 1, "2.19", "2.19", "0.15", "2.34"]]),
        # built "later than year 9999", reaching below what bo1 already reported
        message("bo1", "db-1", [upsert(5, 5, qty=5)], hw=5, at=YEAR_33658_MS),
        message("bo1", "db-1", [upsert(6, 6, qty=6)], hw=6, at=2**62),
        # a date beyond what a database holds, a qty beyond an INT
        message("bo1", "db-1", [[63, 63, "u", "99999-01-01", "East", "Pens", 1, "2.19", "2.19", "0.15", "2.34"]]),
        message("bo1", "db-1", [[64, 64, "u", "2021-04-29", "East", "Pens", 2**40, "0.00", "0.00", "0.00", "0.00"]]),
        # the whole message is not what it claims to be
        raw_body({"v": 1, "type": "changes", "branch": "bo1", "origin": ["db-1"], "hw": 1, "at": 1, "changes": []}),
        raw_body({"v": 1, "type": "changes", "branch": "bo1", "origin": "db-1", "hw": 2**70, "at": 1,
                  "changes": [upsert(2**63 - 1, 1, qty=1)]}),
        raw_body([1, 2, 3]),
    ]
    with running(IntakeConsumer(offices.ho)) as (consumer,):
        publish_raw(offices, changes_body("bo1", "db-1", [upsert(50, 50, qty=5)], high_water=50))
        wait_for(lambda: ("bo1", 50) in held(offices), 30, "bo1's first sale, so that bo1 has a high-water mark")
        for g, b in itertools.zip_longest(good, bad):
            publish_raw(offices, g)
            if b is not None:
                publish_raw(offices, b)
        wait_for(lambda: all(("bo2", i) in held(offices) for i in range(1, 21)), 60, "all twenty good bo2 sales")
        parked = wait_for(lambda: len(dead_letters(offices.engine("ho"))) >= 10 and dead_letters(offices.engine("ho")),
                          60, "the ten bad messages to be parked")
        assert consumer.is_alive() and consumer.state == events.ONLINE
    assert len(parked) == 10, [p.reason for p in parked]
    assert all(p.reason and "delivery_limit" not in p.reason for p in parked), [p.reason for p in parked]
    assert set(held(offices)) == {("bo1", 50)} | {("bo2", i) for i in range(1, 21)}


# ---------------------------------------------------------------- fuzz, through the real consumer
NASTY_TEXT = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["Pens\ud800", "\udfff", "Pe\x85ns", "\x9b31m", "\u202eneP", "Pe\u2066ns", "😀" * 64, "😀" * 65,
                     "", " ", "\u3000", "x" * 65, "Paper\tclip", "'; DROP TABLE sales; --", "\x00"]),
)
NASTY_NUMBER = st.one_of(
    st.integers(-(2**80), 2**80), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["1e30", "1E+400", "-0", "0.001", "12.95", "NaN", "Infinity", "9" * 40, "", "0x10", "١٢"]),
)
NASTY_DATE = st.one_of(
    st.dates().map(str),
    st.sampled_from(["0000-00-00", "0999-12-31", "99999-01-01", "2021-02-30", "2021-04-29T00:00", "", "2021-4-9"]),
)
ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                        max_leaves=8)
# Position of each field in an upsert, and what may be thrown at it.
CHANGE_FIELDS = {0: NASTY_NUMBER, 1: NASTY_NUMBER, 2: st.one_of(st.sampled_from(["u", "d", "x", ""]), ANY_JSON),
                 3: NASTY_DATE, 4: NASTY_TEXT, 5: NASTY_TEXT, 6: NASTY_NUMBER, 7: NASTY_NUMBER, 8: NASTY_NUMBER,
                 9: NASTY_NUMBER, 10: NASTY_NUMBER}
MESSAGE_FIELDS = {"v": st.one_of(st.integers(-3, 5), ANY_JSON), "type": st.one_of(st.just("changes"), ANY_JSON),
                  "branch": st.one_of(st.sampled_from(["bo1", "bo2", "bo9", "bo1\n", ""]), ANY_JSON),
                  "origin": st.one_of(NASTY_TEXT, ANY_JSON), "hw": st.one_of(NASTY_NUMBER, ANY_JSON),
                  "at": st.one_of(NASTY_NUMBER, ANY_JSON), "changes": ANY_JSON, "extra": ANY_JSON}


@st.composite
def hostile_messages(draw, seq: int):
    """A bo1 message with one field, of the message or of its change, replaced by something nasty."""
    change = upsert(seq, seq, qty=2)
    body = {"v": 1, "type": "changes", "branch": "bo1", "origin": "db-1", "hw": seq, "at": 1_700_000_000_000,
            "changes": [change]}
    if draw(st.booleans()):
        position = draw(st.sampled_from(sorted(CHANGE_FIELDS)))
        change[position] = draw(CHANGE_FIELDS[position])
    else:
        key = draw(st.sampled_from(sorted(MESSAGE_FIELDS)))
        body[key] = draw(MESSAGE_FIELDS[key])
    return body


def test_fuzzed_messages_never_end_the_consumer_and_the_messages_around_them_are_applied(offices):
    counter = itertools.count(1000, 10)
    with running(IntakeConsumer(offices.ho)) as (consumer,):

        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(data=st.data())
        def one_example(data):
            seq = next(counter)
            body = data.draw(hostile_messages(seq + 1))
            before = len(dead_letters(offices.engine("ho")))
            publish_raw(offices, changes_body("bo1", "db-1", [upsert(seq, seq, qty=1)]))
            publish_raw(offices, zlib.compress(json.dumps(body).encode("utf-8", "surrogatepass")))
            publish_raw(offices, changes_body("bo1", "db-1", [upsert(seq + 2, seq + 2, qty=3)]))
            def settled():
                rows = held(offices)
                if not {("bo1", seq), ("bo1", seq + 2)} <= set(rows):
                    return False
                return dead_letters(offices.engine("ho"))[before:] or _applied(body, rows)

            wait_for(settled, 30, f"the good messages around {body!r}, and that one applied or parked")
            # The hostile message was either a valid sale, applied, or parked with its reason.
            assert all(p.reason for p in dead_letters(offices.engine("ho"))[before:]), body
            assert consumer.is_alive() and consumer.state == events.ONLINE

        one_example()


def _applied(body: dict, rows: dict) -> bool:
    """Whether the Head Office holds the sale that ``body``'s one change names."""
    changes = body.get("changes")
    if not isinstance(changes, list) or len(changes) != 1 or not isinstance(changes[0], list) or len(changes[0]) < 2:
        return False
    key = (body.get("branch"), changes[0][1])
    return all(isinstance(k, (str, int)) for k in key) and key in rows

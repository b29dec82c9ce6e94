"""Hostile and broken bodies, decoded without any service: each is refused with a reason
or decoded into changes the rules accept (tests/test_hostile_input.py sends them to a real consumer)."""
from __future__ import annotations

import json
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from sync import protocol

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

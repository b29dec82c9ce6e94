"""The wire format: exact round trips, and every unusable message named as such."""
from __future__ import annotations

import datetime as dt
import json
import re
import zlib
from decimal import Decimal

import pytest

from models.shape import SALE_SHAPE
from sync import protocol
from sync.protocol import Poison

KNOWN = {"bo1", "bo2"}


def row(seq, sale_id=1, op="u", qty=73, cost="12.95", amt="945.35", tax="66.17", total="1011.52", product="Paper"):
    """An outbox row as encode_changes reads it: made from Python values by the shape's wire form."""
    values = (dt.date(2021, 4, 29), "East", product, qty, Decimal(cost), Decimal(amt), Decimal(tax), Decimal(total))
    return (seq, sale_id, op, *SALE_SHAPE.to_wire(values))


def enc(rows, origin="o"):
    return protocol.encode_changes("bo1", origin, rows, high_water=0, built_at_ms=1_700_000_000_000)


def raw(obj) -> bytes:
    return zlib.compress(json.dumps(obj).encode())


def test_changes_round_trip_with_exact_decimals():
    body, seqs = enc([row(1), row(2, sale_id=2, op="d")], origin="origin-1")
    batch = protocol.decode_changes(body, protocol.CONTENT_ENCODING, KNOWN)
    assert seqs == [1, 2] and batch.origin == "origin-1" and not batch.rejected
    upsert, delete = batch.changes
    assert upsert.sale.total == Decimal("1011.52") and isinstance(upsert.sale.cost, Decimal)
    assert upsert.sale.sale_date == dt.date(2021, 4, 29)
    assert delete.is_delete and delete.sale_id == 2


def test_a_bad_change_is_refused_alone_and_the_rest_of_its_batch_is_kept():
    body, _ = enc([row(1), row(2, qty=-3, amt="-38.85", total="-38.85", tax="0.00"), row(3)])
    batch = protocol.decode_changes(body, protocol.CONTENT_ENCODING, KNOWN)
    assert [c.seq for c in batch.changes] == [1, 3]
    assert [(seq, "Qty must be at least 1" in why) for seq, why, _ in batch.rejected] == [(2, True)]


@pytest.mark.parametrize("body,encoding,reason", [
    (b"\x00\xffgarbage", "zlib", "not valid zlib"),
    (zlib.compress(b"{\"v\": 1")[:-4], "zlib", "zlib"),
    (raw([1, 2, 3]), "zlib", "not a JSON object"),
    (raw({"v": 2, "type": "changes"}), "zlib", "version 2 is not supported"),
    (raw({"v": 1, "type": "changes", "branch": "bo7", "origin": "o", "changes": [[1, 1, "d"]]}), "zlib", "'bo7' is not one"),
    (raw({"v": 1, "type": "changes", "branch": "bo1", "origin": "o", "hw": 1, "at": 1, "changes": []}), "zlib", "non-empty list"),
    (raw({"v": 1, "type": "changes", "branch": "bo1", "origin": "o", "at": 1, "changes": [[1, 1, "d"]]}), "zlib", "hw None"),
    (raw({"v": 1, "type": "nonsense"}), "zlib", "is not 'changes'"),
    (b'{"v": 1, "x": NaN}', None, "JSON"),
    (b"[" * 100000 + b"]" * 100000, None, "JSON"),
    (b"{}", "gzip", "unknown content_encoding"),
])
def test_unusable_messages_are_poison_with_a_reason(body, encoding, reason):
    with pytest.raises(Poison, match=reason):
        protocol.decode_changes(body, encoding, KNOWN)


def test_a_compression_bomb_is_refused_without_inflating_it():
    bomb = zlib.compress(b" " * (protocol.MAX_INFLATED_BYTES + 10))
    with pytest.raises(Poison, match="inflates to more than"):
        protocol.decode_changes(bomb, "zlib", KNOWN)


@pytest.mark.parametrize("change,reason", [
    ([1, 1, "u", "2021-04-29", "East", "Paper", 1, 12.95, "12.95", "0.91", "13.86"], "must be sent as a string"),
    ([1, 1, "u", "2021-02-30", "East", "Paper", 1, "12.95", "12.95", "0.91", "13.86"], "real day"),
    ([1, 1, "u", "2021-04-29", "East", "Paper", 2, "12.95", "12.95", "0.91", "13.86"], "not qty x cost"),
    ([1, 1, "u", "2021-04-29", "East", "Paper", 1, "12.95", "12.95", "0.91", "99.00"], "not amt \\+ tax"),
    ([1, 1, "u", "2021-04-29", "", "Paper", 1, "12.95", "12.95", "0.91", "13.86"], "Region cannot be empty"),
    ([1, 1, "u", "2021-04-29", "East", "P" * 65, 1, "12.95", "12.95", "0.91", "13.86"], "longer than 64"),
    ([1, 1, "x"], "neither 'u' nor 'd'"),
    (["1", 1, "d"], "seq"),
    ([1, 1, "u", "2021-04-29", "East", "Paper", True, "12.95", "12.95", "0.91", "13.86"], "qty"),
    ([1, 1, "u", "2021-04-29", "East", "Paper", 1, "Infinity", "12.95", "0.91", "13.86"], "finite"),
])
def test_impossible_values_are_refused_with_a_reason(change, reason):
    body = raw({"v": 1, "type": "changes", "branch": "bo1", "origin": "o", "hw": 10, "at": 1, "changes": [change]})
    batch = protocol.decode_changes(body, "zlib", KNOWN)
    assert not batch.changes
    assert len(batch.rejected) == 1
    assert re.search(reason, batch.rejected[0][1])


def test_sql_metacharacters_and_unicode_in_text_travel_unchanged():
    product = "Robert'); DROP TABLE sales;-- ✓ 紙"
    body, _ = enc([row(1, product=product)])
    assert protocol.decode_changes(body, "zlib", KNOWN).changes[0].sale.product == product


def test_receipt_ranges_cover_only_seqs_that_were_present():
    assert protocol.to_ranges([5, 1, 2, 3, 7, 8]) == [[1, 3], [5, 5], [7, 8]]
    receipt = protocol.decode_control(protocol.encode_receipt("bo1", [1, 2, 4], [(3, "bad")]), "zlib")
    assert receipt.applied == [(1, 2), (4, 4)] and receipt.rejected == [(3, "bad")]
    assert isinstance(protocol.decode_control(protocol.encode_sync_request(), "zlib"), protocol.SyncRequest)


def test_a_change_above_its_messages_high_water_mark_is_refused():
    body = raw({"v": 1, "type": "changes", "branch": "bo1", "origin": "o", "hw": 5, "at": 1, "changes": [[5, 1, "d"], [6, 2, "d"]]})
    batch = protocol.decode_changes(body, "zlib", KNOWN)
    assert [c.seq for c in batch.changes] == [5] and "above the message's own high-water mark" in batch.rejected[0][1]


@pytest.mark.parametrize("obj,version", [
    ({"v": protocol.VERSION + 1, "type": "changes"}, protocol.VERSION + 1),  # a newer office's version
    ({"v": protocol.VERSION + 1, "type": "catalogue-of-a-newer-release"}, protocol.VERSION + 1),  # and its new types
    ({"v": 2, "type": "changes"}, 2),  # a version this office reads, but not for this type
])
def test_a_message_of_a_version_not_read_here_is_unsupported_and_says_so(obj, version):
    with pytest.raises(protocol.Unsupported, match=f"version {version} is not supported here") as refused:
        protocol.decode_from_branch(raw(obj), "zlib", KNOWN)
    assert refused.value.version == version
    assert not protocol.reads(raw(obj), "zlib")


def test_a_message_that_is_wrong_but_of_a_version_read_here_is_poison_not_unsupported():
    for body in (raw({"v": 1, "type": "nonsense"}), raw({"v": 1, "type": "changes", "branch": "bo7"}), raw({"v": "2"})):
        with pytest.raises(Poison) as refused:
            protocol.decode_from_branch(body, "zlib", KNOWN)
        assert not isinstance(refused.value, protocol.Unsupported)
    assert protocol.reads(enc([row(1)])[0], "zlib")

"""What a parked message held and what keeps it parked, read back from the stored body by the consumer's own checks."""
from __future__ import annotations

import json
import zlib
from decimal import Decimal

import pytest

from config.offices import HeadOfficeConfig
from models.money import compute_line
from sync.dead_letters import StoredLetter
from sync.letter_contents import SHOWN_SALE_NUMBERS, BranchRecord, Trouble, summarise
from sync.protocol import MAX_WIRE_BYTES

CFG = HeadOfficeConfig(role="head_office", code="ho", name="Head Office", db_url="mysql+pymysql://x/y",
                       amqp_urls=("amqp://x",), branches={"bo1": "East Branch", "bo2": "West Branch"},
                       require_branch_login=False)
PROPERTIES = json.dumps({"content_encoding": "zlib", "headers": {}})


def upsert(seq: int, sale_id: int, qty: int, cost: str = "2.19") -> list:
    line = compute_line(qty, Decimal(cost), Decimal("0.07"))
    return [seq, sale_id, "u", "2021-04-30", "East", "Pens", qty, cost, str(line.amt), str(line.tax), str(line.total)]


def body(branch: str, changes: list, version: int = 1, **extra) -> bytes:
    obj = {"v": version, "type": "changes", "branch": branch, "origin": "db-1", "hw": 1000, "at": 1700000000000,
           "changes": changes, **extra}
    return zlib.compress(json.dumps(obj).encode())


def letter(data: bytes, queue: str = "branch_sync.intake", branch: str | None = None, claimed: str | None = None,
           properties: str = PROPERTIES, body_bytes: int | None = None) -> StoredLetter:
    return StoredLetter(1, branch, claimed, "guest", queue, "the engine's words", properties, data,
                        len(data) if body_bytes is None else body_bytes)


def test_a_message_from_an_unknown_branch_says_its_sales_their_total_and_their_numbers():
    changes = [upsert(i, 100 + i, qty=i) for i in range(1, 10)] + [[10, 300, "d"]]
    contents = summarise(letter(body("bo7", changes)), CFG)
    expected = sum((compute_line(i, Decimal("2.19"), Decimal("0.07")).total for i in range(1, 10)), Decimal(0))
    assert contents.trouble is Trouble.UNKNOWN_BRANCH and contents.readable
    assert (contents.branch, contents.sales, contents.deletes, contents.total) == ("bo7", 10, 1, expected)
    assert contents.sale_numbers == tuple(range(101, 101 + SHOWN_SALE_NUMBERS))
    assert contents.more_sale_numbers == 10 - SHOWN_SALE_NUMBERS
    assert isinstance(contents.total, Decimal)


def test_the_same_message_once_its_branch_is_configured_passes_the_checks_now():
    contents = summarise(letter(body("bo2", [upsert(1, 5, qty=2)])), CFG)
    assert contents.trouble is Trouble.PASSES_NOW and contents.sale_numbers == (5,)


@pytest.mark.parametrize("data, encoding, trouble", [
    (b"\x00\x01 not zlib at all", "zlib", Trouble.MALFORMED),
    (zlib.compress(b"[1, 2, 3]"), "zlib", Trouble.MALFORMED),
    (zlib.compress(b'{"v": 9, "type": "changes"}'), "zlib", Trouble.NOT_SUPPORTED),
    (zlib.compress(b'{"v": 1, "type": "pictures"}'), "zlib", Trouble.NOT_SUPPORTED),
    (b"plain", "gzip", Trouble.MALFORMED),
])
def test_a_body_that_does_not_decode_is_unreadable_with_its_size_and_its_kind(data, encoding, trouble):
    properties = json.dumps({"content_encoding": encoding})
    contents = summarise(letter(data, properties=properties), CFG)
    assert (contents.trouble, contents.readable, contents.size, contents.sales) == (trouble, False, len(data), 0)


def test_a_body_kept_only_in_part_is_too_large_and_never_decoded():
    contents = summarise(letter(b"x" * 100, body_bytes=MAX_WIRE_BYTES * 2), CFG)
    assert (contents.trouble, contents.readable, contents.size) == (Trouble.TOO_LARGE, False, MAX_WIRE_BYTES * 2)


def test_properties_that_are_not_json_or_a_newer_version_of_changes_never_raise():
    assert summarise(letter(body("bo1", [upsert(1, 1, 1)]), properties="{not json"), CFG).readable is False
    newer = summarise(letter(body("bo1", [upsert(1, 1, 1)], version=7)), CFG)
    assert newer.trouble is Trouble.NOT_SUPPORTED


def test_changes_with_values_no_sale_may_have_are_refused_sales_and_still_counted():
    bad = upsert(1, 41, qty=3)
    bad[6] = 0                       # a quantity of nothing
    odd = upsert(2, 42, qty=1)
    odd[-1] = "not money"            # a Total that cannot be read
    contents = summarise(letter(body("bo1", [bad, odd]), queue="branch_sync.in.bo1", branch="bo1"), CFG)
    assert contents.trouble is Trouble.REFUSED_SALES
    assert (contents.sales, contents.unread_totals, contents.sale_numbers) == (2, 1, (41, 42))
    assert contents.total == Decimal(bad[-1])


def test_a_message_in_another_branchs_name_through_a_branchs_own_queue():
    contents = summarise(letter(body("bo2", [upsert(1, 1, 1)]), queue="branch_sync.in.bo1", branch="bo1"), CFG)
    assert contents.trouble is Trouble.ANOTHER_BRANCH and contents.branch == "bo2"


def test_a_message_from_another_database_of_a_branch_is_another_history():
    data = body("bo1", [upsert(1, 1, 1)])
    assert summarise(letter(data), CFG, BranchRecord("db-other", None)).trouble is Trouble.OTHER_HISTORY
    assert summarise(letter(data), CFG, BranchRecord("db-1", "two histories")).trouble is Trouble.OTHER_HISTORY
    assert summarise(letter(data), CFG, BranchRecord("db-1", None)).trouble is Trouble.PASSES_NOW


def test_a_message_the_broker_parked_says_so_with_the_brokers_reason_whatever_its_body():
    properties = json.dumps({"content_encoding": "zlib", "headers": {"x-death": [
        {"queue": "branch_sync.in.bo1", "reason": "delivery_limit", "count": 1}, {"reason": "a sender's fake"}]}})
    good = summarise(letter(body("bo1", [upsert(1, 7, 2)]), queue="branch_sync.held.bo1", branch="bo1",
                            properties=properties), CFG)
    assert (good.trouble, good.broker_reason, good.sale_numbers) == (Trouble.PARKED_BY_BROKER, "delivery_limit", (7,))
    garbage = summarise(letter(b"garbage", queue="branch_sync.held.bo1", properties=properties), CFG)
    assert (garbage.trouble, garbage.readable) == (Trouble.PARKED_BY_BROKER, False)

"""The catalogue's pure rules: its messages, the price in effect on a date, and how an import is checked."""
from __future__ import annotations

import datetime as dt
import json
import zlib
from decimal import Decimal

import pytest

from models.catalogue import Catalogue, Items, Price, Product, seed_catalogue
from models.catalogue_csv import ImportRefused, parse_csv, plan_import
from sync import protocol
from sync.protocol.limits import check_work

DAY = dt.date(2026, 6, 1)


def big_items(count: int) -> Items:
    return Items(0, 2 * count, [Product(i, f"Product {i:05d}", True, i) for i in range(1, count + 1)],
                 [Price(i, DAY, Decimal(f"{i % 900}.{i % 100:02d}"), count + i) for i in range(1, count + 1)])


def test_a_snapshot_of_10000_products_is_one_message_that_reads_back_exactly_within_the_limits():
    items = big_items(10_000)
    (body,) = protocol.encode_catalogue("bo1", items, full=True)
    check_work(zlib.decompress(body))
    assert len(body) < len(zlib.decompress(body)) / 3
    message = protocol.decode_control(body, "zlib", "bo1")
    assert isinstance(message, protocol.CatalogueMessage) and message.full and message.items == items


def test_a_catalogue_for_another_branch_or_with_a_bad_item_is_refused_with_a_sentence():
    (body,) = protocol.encode_catalogue("bo2", big_items(2), full=False)
    with pytest.raises(protocol.Poison, match="addressed to branch 'bo2'"):
        protocol.decode_control(body, "zlib", "bo1")
    for products, prices, why in (([1, "Pens", "yes", 3], [], "not \\[id, name"), ([1, " Pens", True, 3], [], "name"),
                                  ([], [1, "2026-02-30", "1.00", 4], "refuses"), ([], [1, "2026-01-01", 1.5, 4], "not"),
                                  ([1, "Pens", True], [], "fours")):
        raw = {"v": 2, "type": "catalogue", "branch": "bo1", "full": False, "base": 0, "version": 5,
               "products": products, "prices": prices}
        with pytest.raises(protocol.Poison, match=why):
            protocol.decode_control(zlib.compress(json.dumps(raw).encode()), "zlib", "bo1")


def test_the_price_in_effect_is_the_newest_started_on_or_before_the_day_and_history_stays():
    catalogue = seed_catalogue()
    catalogue.prices[2].append(Price(2, DAY, Decimal("2.50"), 20))
    assert catalogue.cost_of(" PENS ", DAY - dt.timedelta(days=1)) == Decimal("2.19")
    assert catalogue.cost_of("pens", DAY) == Decimal("2.50") and catalogue.cost_of("Glue", DAY) is None
    assert ("Pens", Decimal("2.50")) in catalogue.on_sale(DAY)


def test_import_rows_are_checked_by_line_and_a_sweeping_import_is_held():
    with pytest.raises(ImportRefused) as refused:
        parse_csv("product,cost\nPens,2.50\n,1.00\nGlue,1.234\n", DAY)
    assert [p.split(":")[0] for p in refused.value.problems] == ["Line 3", "Line 4"]
    with pytest.raises(ImportRefused, match="Line 1 must name"):
        parse_csv("name,price\nPens,2.50\n", DAY)
    catalogue: Catalogue = seed_catalogue()
    retire = plan_import(catalogue, parse_csv("product,cost,active\nPaper,12.95,no\nPens,2.19,no\n", DAY), DAY)
    assert retire.held and "2 of the 8" in retire.held
    one = plan_import(catalogue, parse_csv("product,cost,active\nPaper,12.95,no\nglue,1.00,yes\n", DAY), DAY)
    assert one.held is None and len(one.retire) == 1 and len(one.new) == 1 and not one.prices
    same = plan_import(catalogue, parse_csv("product,cost,effective_from\nPens,2.19,2026-01-01\n", DAY), DAY)
    assert same.changes == 0


def test_receipts_and_catalogue_messages_say_the_head_offices_catalogue_version_and_only_a_version_is_read():
    assert protocol.read_envelope(protocol.receipt_properties(3, 42)).catalogue == 42
    assert protocol.read_envelope(protocol.catalogue_properties("bo1", 7, 1)).catalogue == 7
    assert protocol.read_envelope(protocol.receipt_properties(1)).catalogue is None  # as the previous release's
    for said in (-1, True, "9", 1.5, None):
        properties = protocol.receipt_properties(3)
        properties.headers["x-sync-catalogue"] = said
        assert protocol.read_envelope(properties).catalogue is None, said

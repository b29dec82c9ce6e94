"""The catalogue on the wire: the Head Office's products and prices down to a branch, and what a branch holds.

  catalogue        HO -> branch  v2  {"v": 2, "type": "catalogue", "branch": "bo1", "full": true|false,
                                      "base": the version the branch held, "version": what it holds once applied,
                                      "products": [id, "name", on sale (true|false), version, ...],
                                      "prices": [product id, "YYYY-MM-DD", "cost", version, ...]}
  catalogue-state  branch -> HO  v2  {"v": 2, "type": "catalogue-state", "branch", "origin",
                                      "version": the catalogue version it holds, "at": ms since epoch}

A catalogue message is a delta (``full`` false: what changed after ``base``) or a
snapshot (``full`` true, ``base`` 0: everything); both are applied item by item,
only where an item's version is newer than the one held, so repeats and reordering
change nothing.  Products and prices are flat lists of four values each, so that a
10,000-product snapshot is one small compressed message (a larger catalogue goes
in parts of ``PART_ITEMS``; only the last part moves the version held).  These
types are version 2: an office of the previous release parks them ("... is not
supported here").
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from models.catalogue import NAME_MAX, Items, Price, Product
from models.money import MAX_COST, parse_money
from sync.protocol.control import register_to_branch
from sync.protocol.messages import LATEST_MS, Poison, _is_int, pack, register_from_branch, register_type

CATALOGUE, CATALOGUE_STATE = "catalogue", "catalogue-state"
CATALOGUE_VERSION = 2
PART_ITEMS = 25_000  # products and prices in one message (4 values each): within the limits of a changes message
register_type(CATALOGUE, CATALOGUE_VERSION, {"branch", "full", "base", "version", "products", "prices"})
register_type(CATALOGUE_STATE, CATALOGUE_VERSION, {"branch", "origin", "version", "at"})


@dataclass(frozen=True)
class CatalogueMessage:
    """Products and prices for a branch: a snapshot (``full``) or what changed after ``items.base``."""

    branch: str
    full: bool
    items: Items


@dataclass(frozen=True)
class CatalogueState:
    """A branch says which catalogue version it holds."""

    branch: str
    origin: str
    version: int
    at_ms: int


# ---------------------------------------------------------------- HO -> branch
def encode_catalogue(branch: str, items: Items, full: bool) -> list[bytes]:
    """``items`` as one message, or several parts of at most PART_ITEMS items (the last one moves the version)."""
    entries: list[Product | Price] = [*items.products, *items.prices]
    parts = [entries[i:i + PART_ITEMS] for i in range(0, len(entries), PART_ITEMS)] or [[]]
    bodies = []
    for number, part in enumerate(parts, 1):
        products: list[Any] = []
        prices: list[Any] = []
        for item in part:
            if isinstance(item, Product):
                products += [item.id, item.name, item.active, item.version]
            else:
                prices += [item.product_id, item.effective_from.isoformat(), f"{item.cost}", item.version]
        last = number == len(parts)
        bodies.append(pack({"v": CATALOGUE_VERSION, "type": CATALOGUE, "branch": branch, "full": full,
                            "base": items.base, "version": items.version if last else items.base,
                            "products": products, "prices": prices}))
    return bodies


def _catalogue(obj: dict[str, Any], branch: str | None) -> CatalogueMessage:
    if branch is not None and obj.get("branch") != branch:
        raise Poison(f"catalogue is addressed to branch {str(obj.get('branch'))[:40]!r}, not to {branch}")
    base, version, full = obj.get("base"), obj.get("version"), obj.get("full")
    if not _is_int(base, 0) or not _is_int(version, 0) or version < base or not isinstance(full, bool):
        raise Poison("catalogue's base, version or full is not what the Head Office writes")
    products, prices = obj.get("products"), obj.get("prices")
    if not isinstance(products, list) or len(products) % 4 or not isinstance(prices, list) or len(prices) % 4:
        raise Poison("catalogue's products or prices is not a list of fours")
    try:
        items = Items(base, version, [_product(products[i:i + 4]) for i in range(0, len(products), 4)],
                      [_price(prices[i:i + 4]) for i in range(0, len(prices), 4)])
    except ValueError as exc:
        raise Poison(f"catalogue holds an item this protocol refuses: {exc}") from None
    return CatalogueMessage(str(obj["branch"]), full, items)


def _product(values: list[Any]) -> Product:
    product_id, name, active, version = values
    if not _is_int(product_id) or not _is_int(version, 0) or not isinstance(active, bool):
        raise ValueError(f"product {str(values)[:60]} is not [id, name, on sale, version]")
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX or not name.isprintable() or name != name.strip():
        raise ValueError(f"product name {str(name)[:40]!r} is not a name the catalogue holds")
    return Product(product_id, name, active, version)


def _price(values: list[Any]) -> Price:
    product_id, day, cost, version = values
    if not _is_int(product_id) or not _is_int(version, 0) or not isinstance(day, str) or not isinstance(cost, str):
        raise ValueError(f"price {str(values)[:60]} is not [product id, date, cost, version]")
    value = parse_money(cost)
    if not 0 <= value <= MAX_COST:
        raise ValueError(f"cost {cost[:20]!r} is out of range")
    if len(day) != 10:
        raise ValueError(f"date {day[:20]!r} is not YYYY-MM-DD")
    return Price(product_id, dt.date.fromisoformat(day), value, version)


register_to_branch(CATALOGUE, _catalogue)


# ---------------------------------------------------------------- branch -> HO
def encode_catalogue_state(state: CatalogueState) -> bytes:
    return pack({"v": CATALOGUE_VERSION, "type": CATALOGUE_STATE, "branch": state.branch, "origin": state.origin,
                 "version": state.version, "at": state.at_ms})


def _state(obj: dict[str, Any], known: set[str], _shape: object) -> CatalogueState:
    branch, origin, version, at = obj.get("branch"), obj.get("origin"), obj.get("version"), obj.get("at")
    if not isinstance(branch, str) or branch not in known:
        raise Poison(f"branch {str(branch)[:40]!r} is not one this Head Office knows")
    if not isinstance(origin, str) or not 1 <= len(origin) <= 36 or not _is_int(version, 0) \
            or not _is_int(at, 1, LATEST_MS):
        raise Poison("catalogue-state's origin, version or at is not what a branch writes")
    return CatalogueState(branch, origin, version, at)


register_from_branch(CATALOGUE_STATE, _state)

"""The catalogue: products and their effective-dated costs, governed by the Head Office.

The Head Office writes it (a person in its window, or ``python -m sync catalogue
import``); every change takes the next catalogue version (``catalogue_counter``),
and the product or price it changed keeps that version.  A branch holds what it
received, each item with the version it came with, and applies an item only if it
is newer than the one it holds: repeats and reordering change nothing.

    read_catalogue(conn, role)         the whole catalogue as a ``Catalogue`` (either office)
    Catalogue.on_sale(day)             the products on sale on ``day`` and their cost then
    add_product / set_price / set_active   the Head Office's changes, one version each
    items_since(conn, base)            what changed after version ``base`` (all of it for 0)
    apply_items(conn, items)           a branch applies what it received; returns the version it now holds

A product's name is unique as a person reads it (``models.names.name_key``: case and
spaces do not count).  A price is in effect from its ``effective_from`` until the next
one; the history stays, so a sale is checked against the price of its own date.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import Column, Table, func, insert, select, text, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Connection, Engine

from models.money import MAX_COST, parse_money
from models.names import name_key
from models.rows import tuples
from models.schema import (
    bo_catalogue_prices,
    bo_catalogue_products,
    bo_state,
    ho_catalogue_counter,
    ho_catalogue_prices,
    ho_catalogue_products,
)

# What the first release sold from (a list in the code): both offices start from it, so nothing changes for a
# clerk until the Head Office changes its catalogue.
SEED: tuple[tuple[str, Decimal], ...] = (
    ("Paper", Decimal("12.95")), ("Pens", Decimal("2.19")), ("Pencils", Decimal("0.89")),
    ("Envelopes", Decimal("6.30")), ("Folders", Decimal("4.75")), ("Notebooks", Decimal("3.49")),
    ("Staplers", Decimal("8.99")), ("Toner", Decimal("64.50")),
)
SEED_FROM = dt.date(2000, 1, 1)  # the seed prices are in effect since long before any sale
NAME_MAX = 100
T = TypeVar("T")
VERSION_FACT = "catalogue_version"  # at a branch: the catalogue version it holds (sync_state)


class CatalogueError(ValueError):
    """A change the catalogue refuses; the text is one sentence for a person."""


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    active: bool
    version: int


@dataclass(frozen=True)
class Price:
    product_id: int
    effective_from: dt.date
    cost: Decimal
    version: int


@dataclass(frozen=True)
class Items:
    """Products and prices that changed after catalogue version ``base``, up to ``version`` (what a branch is sent)."""

    base: int
    version: int
    products: list[Product] = field(default_factory=list)
    prices: list[Price] = field(default_factory=list)


@dataclass
class Catalogue:
    """The whole catalogue as one office holds it, for reading: products, each one's prices oldest first."""

    version: int
    products: dict[int, Product]
    prices: dict[int, list[Price]]

    def find(self, name: str) -> Product | None:
        """The product ``name`` is a spelling of, or None."""
        wanted = name_key(name)
        return next((p for p in self.products.values() if name_key(p.name) == wanted), None)

    def price_on(self, product_id: int, day: dt.date) -> Price | None:
        """The price in effect on ``day`` (the newest that started on or before it), or None."""
        found = None
        for price in self.prices.get(product_id, []):
            if price.effective_from <= day:
                found = price
        return found

    def cost_of(self, name: str, day: dt.date) -> Decimal | None:
        """The cost of the product ``name`` on ``day``, whether on sale or not; None when unknown or unpriced."""
        product = self.find(name)
        price = self.price_on(product.id, day) if product else None
        return price.cost if price else None

    def on_sale(self, day: dt.date) -> list[tuple[str, Decimal]]:
        """(name, cost) of every product on sale on ``day`` with a price in effect then, by name."""
        rows = []
        for product in self.products.values():
            price = self.price_on(product.id, day)
            if product.active and price is not None:
                rows.append((product.name, price.cost))
        return sorted(rows, key=lambda row: name_key(row[0]))

    def names(self) -> list[str]:
        """Every product on sale (whatever its price's date), by name."""
        return sorted((p.name for p in self.products.values() if p.active), key=name_key)


def seed_catalogue() -> Catalogue:
    """The catalogue every office starts from, before the Head Office has said anything."""
    return Catalogue(0, {i: Product(i, name, True, 0) for i, (name, _c) in enumerate(SEED, 1)},
                     {i: [Price(i, SEED_FROM, cost, 0)] for i, (_n, cost) in enumerate(SEED, 1)})


# ---------------------------------------------------------------- reading (either office)
def _tables(head_office: bool) -> tuple[Table, Table]:
    return (ho_catalogue_products, ho_catalogue_prices) if head_office else (bo_catalogue_products, bo_catalogue_prices)


def read_catalogue(conn: Connection, head_office: bool) -> Catalogue:
    """The whole catalogue of this office's database."""
    products_t, prices_t = _tables(head_office)
    products = {row[0]: Product(row[0], row[1], bool(row[2]), row[3]) for row in tuples(conn.execute(
        select(products_t.c.id, products_t.c.name, products_t.c.active, products_t.c.version)))}
    prices: dict[int, list[Price]] = {}
    query = select(prices_t.c.product_id, prices_t.c.effective_from, prices_t.c.cost, prices_t.c.version).order_by(
        prices_t.c.product_id, prices_t.c.effective_from)
    for row in tuples(conn.execute(query)):
        prices.setdefault(row[0], []).append(Price(row[0], row[1], Decimal(row[2]), row[3]))
    return Catalogue(held_version(conn, head_office), products, prices)


def load_catalogue(engine: Engine, head_office: bool) -> Catalogue:
    """The whole catalogue of the office database behind ``engine`` (for a window's worker thread)."""
    with engine.connect() as conn:
        return read_catalogue(conn, head_office)


def held_version(conn: Connection, head_office: bool) -> int:
    """The catalogue version this office holds (0: the seed only)."""
    if head_office:
        value = conn.execute(select(ho_catalogue_counter.c.version).where(ho_catalogue_counter.c.id == 1)).scalar()
    else:
        value = conn.execute(select(bo_state.c.value).where(bo_state.c.name == VERSION_FACT)).scalar()
    return int(value or 0)


# ---------------------------------------------------------------- the Head Office's changes
def catalogue_write(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run one change (or an import) in its own transaction: all of it, or nothing."""
    with engine.begin() as conn:
        return work(conn)


def seed_head_office(conn: Connection) -> bool:
    """Put the seed in an empty Head Office catalogue, one version per product and price; False if not empty."""
    if conn.execute(select(ho_catalogue_counter.c.id)).first() is not None:
        return False
    conn.execute(insert(ho_catalogue_counter).values(id=1, version=0))
    for name, cost in SEED:
        add_product(conn, name, cost, SEED_FROM)
    return True


def _bump(conn: Connection) -> int:
    """The next catalogue version; the counter's row lock orders every writer."""
    current = conn.execute(select(ho_catalogue_counter.c.version).where(ho_catalogue_counter.c.id == 1)
                           .with_for_update()).scalar()
    if current is None:
        conn.execute(insert(ho_catalogue_counter).values(id=1, version=0))
        current = 0
    conn.execute(update(ho_catalogue_counter).where(ho_catalogue_counter.c.id == 1).values(version=current + 1))
    return int(current) + 1


def check_name(name: str) -> str:
    """The product name as stored (outer spaces taken off), or CatalogueError with a sentence."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise CatalogueError("A product needs a name.")
    if len(cleaned) > NAME_MAX:
        raise CatalogueError(f"A product name may have at most {NAME_MAX} characters; this one has {len(cleaned)}.")
    if not cleaned.isprintable():
        raise CatalogueError("A product name may not hold control characters.")
    return cleaned


def check_cost(cost: Decimal | str) -> Decimal:
    """The cost as stored, or CatalogueError with a sentence."""
    try:
        value = parse_money(cost)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= MAX_COST:
        raise CatalogueError(f"A cost is an amount from 0.00 to {MAX_COST:,} with at most two decimals, like 12.95.")
    return value


def find_product(conn: Connection, name: str) -> Product | None:
    c = ho_catalogue_products.c
    row = conn.execute(select(c.id, c.name, c.active, c.version).where(c.name_key == name_key(name)[:NAME_MAX])).first()
    return Product(row[0], row[1], bool(row[2]), row[3]) if row else None


def add_product(conn: Connection, name: str, cost: Decimal | str, effective_from: dt.date, active: bool = True) -> Product:
    """A new product with its first price; CatalogueError when a product of that name exists."""
    name, cost = check_name(name), check_cost(cost)
    if find_product(conn, name) is not None:
        raise CatalogueError(f"“{name}” is already in the catalogue (names are compared without regard to case).")
    version = _bump(conn)
    product_id = int(conn.execute(insert(ho_catalogue_products).values(
        name=name, name_key=name_key(name), active=active, version=version)).inserted_primary_key[0])  # type: ignore[index]
    set_price(conn, product_id, cost, effective_from)
    return Product(product_id, name, active, version)


def set_price(conn: Connection, product_id: int, cost: Decimal | str, effective_from: dt.date) -> int:
    """The product's cost from ``effective_from`` on (replacing a price set for that very day); returns its version."""
    cost = check_cost(cost)
    version = _bump(conn)
    stmt = mysql_insert(ho_catalogue_prices).values(product_id=product_id, effective_from=effective_from, cost=cost,
                                                    version=version)
    conn.execute(stmt.on_duplicate_key_update(cost=stmt.inserted.cost, version=stmt.inserted.version))
    return version


def set_active(conn: Connection, product_id: int, active: bool) -> int:
    """Retire a product (no longer on sale) or bring it back; returns the version of the change."""
    version = _bump(conn)
    conn.execute(update(ho_catalogue_products).where(ho_catalogue_products.c.id == product_id)
                 .values(active=active, version=version))
    return version


def items_since(conn: Connection, base: int) -> Items:
    """Every product and price whose version is above ``base`` (the whole catalogue for 0), up to now."""
    p, r = ho_catalogue_products.c, ho_catalogue_prices.c
    version = held_version(conn, head_office=True)
    products = [Product(row[0], row[1], bool(row[2]), row[3]) for row in tuples(conn.execute(
        select(p.id, p.name, p.active, p.version).where(p.version > base).order_by(p.id)))]
    prices = [Price(row[0], row[1], Decimal(row[2]), row[3]) for row in tuples(conn.execute(
        select(r.product_id, r.effective_from, r.cost, r.version).where(r.version > base)
        .order_by(r.product_id, r.effective_from)))]
    return Items(base, version, products, prices)


def changes_behind(conn: Connection, held: int | None) -> tuple[int, int]:
    """(price changes, product changes) the Head Office has made after catalogue version ``held``."""
    base = held or 0
    prices = conn.execute(select(func.count()).select_from(ho_catalogue_prices)
                          .where(ho_catalogue_prices.c.version > base)).scalar_one()
    products = conn.execute(select(func.count()).select_from(ho_catalogue_products)
                            .where(ho_catalogue_products.c.version > base)).scalar_one()
    return int(prices), int(products)


def off_price_sales(conn: Connection, limit: int = 1000,
                    since: dt.date | None = None) -> list[tuple[str, int, str, dt.date, Decimal, Decimal]]:
    """Sales held at the Head Office whose cost is not the catalogue's price on their date (the clerk typed another):
    (branch, its sale id, product, date, cost, the catalogue's cost), newest first; only those dated ``since``
    or later when given (the ``sales(sale_date)`` index then bounds the read to those days).

    Computed here against the price history, so no sale carries a flag of its own; a product the
    catalogue does not have is not off-price (it is a free product, where a branch allows them).
    """
    rows = conn.execute(text(
        "SELECT s.branch, s.branch_sale_id, s.product, s.sale_date, s.cost, r.cost FROM sales s "
        "JOIN catalogue_products p ON p.name_key = LOWER(TRIM(s.product)) "
        "JOIN catalogue_prices r ON r.product_id = p.id AND r.effective_from = ("
        "  SELECT MAX(q.effective_from) FROM catalogue_prices q WHERE q.product_id = p.id "
        "  AND q.effective_from <= s.sale_date) "
        "WHERE s.cost <> r.cost AND s.sale_date >= :since ORDER BY s.sale_date DESC, s.id DESC LIMIT :n"),
        {"n": limit, "since": since or dt.date(1000, 1, 1)})
    return [(b, i, name, day, Decimal(cost), Decimal(price)) for b, i, name, day, cost, price in tuples(rows)]


# ---------------------------------------------------------------- a branch
def seed_branch(conn: Connection) -> bool:
    """Put the seed in a branch's catalogue at version 0 unless it holds one; False if it does."""
    if conn.execute(select(bo_state.c.value).where(bo_state.c.name == VERSION_FACT)).scalar() is not None:
        return False
    # Its version unknown (sync_state lost): it says 0, and the Head Office sends it everything.
    conn.execute(insert(bo_state).values(name=VERSION_FACT, value="0"))
    if conn.execute(select(bo_catalogue_products.c.id).limit(1)).first() is not None:
        return False
    seed = seed_catalogue()
    conn.execute(insert(bo_catalogue_products), [
        {"id": p.id, "name": p.name, "name_key": name_key(p.name), "active": True, "version": 0}
        for p in seed.products.values()])
    conn.execute(insert(bo_catalogue_prices), [
        {"product_id": r.product_id, "effective_from": r.effective_from, "cost": r.cost, "version": 0}
        for prices in seed.prices.values() for r in prices])
    return True


Key = tuple[object, ...]


def _newer(conn: Connection, keyed: dict[Key, int], key_columns: Sequence[Column[object]],
           version_column: Column[int]) -> set[Key]:
    """The keys whose incoming version is above the one held (or not held at all), their rows locked."""
    held: dict[Key, int] = {}
    keys = list(keyed)
    for start in range(0, len(keys), 1000):
        chunk = keys[start:start + 1000]
        if len(key_columns) == 1:
            where = key_columns[0].in_([k[0] for k in chunk])
        else:  # prices: by product, then the exact days
            where = key_columns[0].in_({k[0] for k in chunk})
        for row in tuples(conn.execute(select(*key_columns, version_column).where(where).with_for_update())):
            held[tuple(row[:-1])] = row[-1]
    return {k for k, v in keyed.items() if k not in held or v > held[k]}


def apply_items(conn: Connection, items: Items) -> tuple[int, int]:
    """Apply what the Head Office sent, item by item where newer; returns (items applied, the version now held).

    The version held moves to ``items.version`` only when the branch already held
    ``items.base`` (a message that skips ahead of a missing one leaves it where it
    was, and the Head Office sends the gap when it hears so).
    """
    p, r = bo_catalogue_products.c, bo_catalogue_prices.c
    held = held_version(conn, head_office=False)
    products: dict[Key, int] = {(x.id,): x.version for x in items.products}
    fresh_products = _newer(conn, products, [p.id], p.version)
    upsert_p = mysql_insert(bo_catalogue_products)
    upsert_p = upsert_p.on_duplicate_key_update(name=upsert_p.inserted.name, name_key=upsert_p.inserted.name_key,
                                                active=upsert_p.inserted.active, version=upsert_p.inserted.version)
    rows = [{"id": x.id, "name": x.name, "name_key": name_key(x.name), "active": x.active, "version": x.version}
            for x in items.products if (x.id,) in fresh_products]
    if rows:
        conn.execute(upsert_p, rows)
    prices: dict[Key, int] = {(x.product_id, x.effective_from): x.version for x in items.prices}
    fresh_prices = _newer(conn, prices, [r.product_id, r.effective_from], r.version)
    upsert_r = mysql_insert(bo_catalogue_prices)
    upsert_r = upsert_r.on_duplicate_key_update(cost=upsert_r.inserted.cost, version=upsert_r.inserted.version)
    price_rows = [{"product_id": x.product_id, "effective_from": x.effective_from, "cost": x.cost, "version": x.version}
                  for x in items.prices if (x.product_id, x.effective_from) in fresh_prices]
    if price_rows:
        conn.execute(upsert_r, price_rows)
    now_held = max(held, items.version) if items.base <= held else held
    if now_held != held:
        fact = mysql_insert(bo_state).values(name=VERSION_FACT, value=str(now_held))
        conn.execute(fact.on_duplicate_key_update(value=fact.inserted.value))
    return len(rows) + len(price_rows), now_held

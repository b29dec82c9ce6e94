"""A branch's own sales, as the branch window reads and writes them.

Every write is one plain statement on ``sales``: the capture triggers copy it to
the outbox in the same transaction, so an edit or a delete travels to the Head
Office exactly like an insert, and nothing here touches the sync tables.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import String, and_, cast, delete, func, insert, or_, select, true, update
from sqlalchemy.engine import Engine

from models.sale import FIELDS, Sale
from models.schema import STATE_NAMES, bo_outbox, bo_sales

# What the clerk can pick; choosing one fills its cost, which stays editable.
PRODUCT_CATALOGUE: dict[str, Decimal] = {
    "Paper": Decimal("12.95"),
    "Pens": Decimal("2.19"),
    "Pencils": Decimal("0.89"),
    "Envelopes": Decimal("6.30"),
    "Folders": Decimal("4.75"),
    "Notebooks": Decimal("3.49"),
    "Staplers": Decimal("8.99"),
    "Toner": Decimal("64.50"),
}

_s = bo_sales.c


@dataclass(frozen=True)
class BranchSale:
    """One sale held by the branch, with the delivery state of its latest change."""

    id: int
    sale: Sale
    sync_state: str | None  # 'pending', 'sent', 'applied', 'rejected'; None if never captured


@dataclass(frozen=True)
class SalesPage:
    """The newest sales matching a filter, and how many match in all."""

    rows: list[BranchSale]
    matching: int


def catalogue_cost(product: str) -> Decimal | None:
    """The catalogue cost of a product, matched without regard to case or spaces."""
    wanted = product.strip().casefold()
    return next((cost for name, cost in PRODUCT_CATALOGUE.items() if name.casefold() == wanted), None)


def add_sale(engine: Engine, sale: Sale) -> int:
    """Insert a checked sale; returns its id."""
    with engine.begin() as conn:
        return conn.execute(insert(bo_sales).values(**sale.as_row())).inserted_primary_key[0]


def update_sale(engine: Engine, sale_id: int, sale: Sale) -> bool:
    """Replace every value of a sale; False when it no longer exists."""
    with engine.begin() as conn:
        return conn.execute(update(bo_sales).where(_s.id == sale_id).values(**sale.as_row())).rowcount > 0


def delete_sale(engine: Engine, sale_id: int) -> bool:
    """Delete a sale; False when it was already gone."""
    with engine.begin() as conn:
        return conn.execute(delete(bo_sales).where(_s.id == sale_id)).rowcount > 0


def _matches(words: list[str]):
    """Every word must appear in the region, the product, the date or be the sale number."""
    clauses = []
    for word in words:
        folded = word.casefold()
        choices = [
            func.lower(_s.region).contains(folded, autoescape=True),
            func.lower(_s.product).contains(folded, autoescape=True),
            cast(_s.sale_date, String).startswith(word, autoescape=True),
        ]
        if word.isdigit():
            choices.append(_s.id == int(word))
        clauses.append(or_(*choices))
    return and_(true(), *clauses)


def recent_sales(engine: Engine, text: str = "", limit: int = 500) -> SalesPage:
    """The ``limit`` sales entered last that match the quick filter ``text``, newest first.

    Entry order rather than sale date: the sale a clerk has just typed, even a
    back-dated one, is the one they look for at the top.
    """
    condition = _matches(text.split())
    query = select(_s.id, *[_s[name] for name in FIELDS]).where(condition).order_by(_s.id.desc()).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        matching = conn.execute(select(func.count()).select_from(bo_sales).where(condition)).scalar_one()
        states = _delivery_states(conn, [row.id for row in rows])
    return SalesPage(
        rows=[BranchSale(row.id, Sale(*row[1:]), states.get(row.id)) for row in rows],
        matching=matching,
    )


def _delivery_states(conn, sale_ids: list[int]) -> dict[int, str]:
    """The delivery state (pending, sent, applied, rejected) of each sale's latest change."""
    if not sale_ids:
        return {}
    _o = bo_outbox.c
    latest = (
        select(_o.sale_id, func.max(_o.seq).label("seq")).where(_o.sale_id.in_(sale_ids)).group_by(_o.sale_id).subquery()
    )
    query = select(_o.sale_id, _o.state).join(latest, latest.c.seq == _o.seq)
    return {sale_id: STATE_NAMES[state] for sale_id, state in conn.execute(query)}


def known_regions(engine: Engine, limit: int = 50) -> list[str]:
    """Regions this branch has already used, for the form's list."""
    with engine.connect() as conn:
        return list(conn.execute(select(_s.region).distinct().order_by(_s.region).limit(limit)).scalars())

"""A branch's own sales, as the branch window reads and writes them.

Every write is one plain statement on ``sales``: the capture triggers copy it to
the outbox in the same transaction, so an edit or a delete travels to the Head
Office exactly like an insert, and nothing here touches the sync tables.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import String, and_, cast, delete, func, insert, or_, select, true, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from models.catalogue import SEED
from models.names import merge_names
from models.rows import one, tuples
from models.sale import FIELDS, Sale
from models.schema import PENDING, REJECTED, SENT, STATE_NAMES, bo_outbox, bo_sales

# The list the first release sold from; the Head Office's catalogue starts from it (models/catalogue.py).
PRODUCT_CATALOGUE: dict[str, Decimal] = dict(SEED)

_bs = bo_sales.c
_o = bo_outbox.c
WAITING_STATES = (PENDING, SENT)  # not yet confirmed applied by the Head Office


@dataclass(frozen=True)
class BranchSale:
    """One sale held by the branch, with the delivery state of its latest change.

    ``sale`` holds the values as stored: a row written by plain SQL may carry
    values no checked sale has (a ``'0000-00-00'`` date arrives as text).
    """

    id: int
    sale: Sale
    sync_state: str | None  # 'pending', 'sent', 'applied', 'rejected'; None if never captured
    refusal: str | None = None  # why the Head Office refused the latest change, when it did


@dataclass(frozen=True)
class Waiting:
    """What has not reached the Head Office yet, counted as a clerk counts: sales, and deleted sales;
    and the sales whose latest change the Head Office refused."""

    sales: int
    deletions: int
    refused: int = 0


@dataclass(frozen=True)
class DayTakings:
    """The sales dated one day: how many, and their totals (tax included) added up."""

    day: dt.date
    count: int
    total: Decimal


@dataclass(frozen=True)
class KnownNames:
    """Products and regions this branch knows, each spelled once, the most used first."""

    products: list[str]
    regions: list[str]


@dataclass(frozen=True)
class SalesPage:
    """The newest sales matching a filter, and how many match in all."""

    rows: list[BranchSale]
    matching: int


def add_sale(engine: Engine, sale: Sale) -> int:
    """Insert a checked sale; returns its id."""
    with engine.begin() as conn:
        return int(conn.execute(insert(bo_sales).values(**sale.as_row())).inserted_primary_key[0])  # type: ignore[index]


def update_sale(engine: Engine, sale_id: int, sale: Sale) -> bool:
    """Replace every value of a sale; False when it no longer exists."""
    with engine.begin() as conn:
        return conn.execute(update(bo_sales).where(_bs.id == sale_id).values(**sale.as_row())).rowcount > 0


def delete_sale(engine: Engine, sale_id: int) -> bool:
    """Delete a sale; False when it was already gone."""
    with engine.begin() as conn:
        return conn.execute(delete(bo_sales).where(_bs.id == sale_id)).rowcount > 0


def _matches(words: list[str]) -> ColumnElement[bool]:
    """Every word must appear in the region, the product, the date or be the sale number."""
    clauses = []
    for word in words:
        folded = word.casefold()
        choices = [
            func.lower(_bs.region).contains(folded, autoescape=True),
            func.lower(_bs.product).contains(folded, autoescape=True),
            cast(_bs.sale_date, String).startswith(word, autoescape=True),
        ]
        if word.isdigit():
            choices.append(_bs.id == int(word))
        clauses.append(or_(*choices))
    return and_(true(), *clauses)


def recent_sales(engine: Engine, text: str = "", limit: int = 500, waiting_only: bool = False) -> SalesPage:
    """The ``limit`` sales entered last that match the quick filter ``text``, newest first.

    Entry order rather than sale date: the sale a clerk has just typed, even a
    back-dated one, is the one they look for at the top.  ``waiting_only`` keeps
    the sales with a change the Head Office has not confirmed yet.
    """
    condition = _matches(text.split())
    if waiting_only:
        condition = and_(condition, _bs.id.in_(select(_o.sale_id).where(_o.state.in_(WAITING_STATES))))
    query = select(_bs.id, *[_bs[name] for name in FIELDS]).where(condition).order_by(_bs.id.desc()).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        matching = conn.execute(select(func.count()).select_from(bo_sales).where(condition)).scalar_one()
        states = _delivery_states(conn, [row.id for row in rows])
    return SalesPage(
        rows=[BranchSale(row.id, Sale(*row[1:]), *states.get(row.id, (None, None))) for row in rows],
        matching=matching,
    )


def _delivery_states(conn: Connection, sale_ids: list[int]) -> dict[int, tuple[str, str | None]]:
    """The delivery state (pending, sent, applied, rejected) of each sale's latest change, and the refusal's reason."""
    if not sale_ids:
        return {}
    latest = (
        select(_o.sale_id, func.max(_o.seq).label("seq")).where(_o.sale_id.in_(sale_ids)).group_by(_o.sale_id).subquery()
    )
    query = select(_o.sale_id, _o.state, _o.note).join(latest, latest.c.seq == _o.seq)
    return {sale_id: (STATE_NAMES.get(state, str(state)), note if state == REJECTED else None)
            for sale_id, state, note in tuples(conn.execute(query))}


def waiting(engine: Engine) -> Waiting:
    """How many sales, and deleted sales, have a change the Head Office has not confirmed yet, and how many
    sales it refused (their latest change was rejected)."""
    unconfirmed = select(_o.sale_id).where(_o.state.in_(WAITING_STATES)).distinct().subquery()
    query = (
        select(func.count(), func.count(_bs.id))
        .select_from(unconfirmed.outerjoin(bo_sales, _bs.id == unconfirmed.c.sale_id))
    )
    later = bo_outbox.alias("later")
    refused = select(func.count(_o.sale_id.distinct())).where(
        _o.state == REJECTED, ~select(later.c.seq).where(later.c.sale_id == _o.sale_id, later.c.seq > _o.seq).exists())
    with engine.connect() as conn:
        changed, still_held = conn.execute(query).one()
        refused_sales = conn.execute(refused).scalar_one()
    return Waiting(sales=still_held, deletions=changed - still_held, refused=refused_sales)


def day_takings(engine: Engine, day: dt.date) -> DayTakings:
    """How many sales are dated ``day`` and their totals added up (tax included)."""
    query = select(func.count(), func.coalesce(func.sum(_bs.total), 0)).where(_bs.sale_date == day)
    with engine.connect() as conn:
        count, total = one(conn.execute(query))
    return DayTakings(day, count, Decimal(total))


def _most_used(conn: Connection, column: ColumnElement[str], limit: int) -> list[str]:
    query = select(column).group_by(column).order_by(func.count().desc(), column).limit(limit)
    return list(conn.execute(query).scalars())


def known_names(engine: Engine, limit: int = 500) -> KnownNames:
    """The catalogue's products and the products and regions this branch has used, each spelled once."""
    with engine.connect() as conn:
        products, regions = _most_used(conn, _bs.product, limit), _most_used(conn, _bs.region, limit)
    return KnownNames(products=merge_names(PRODUCT_CATALOGUE, products), regions=merge_names(regions))

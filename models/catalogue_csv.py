"""The catalogue as a CSV file: import at the Head Office (checked whole first), export, and `show`.

An import file has a header with ``product`` and ``cost``, and optionally
``effective_from`` (YYYY-MM-DD; default: today) and ``active`` (yes/no; default:
yes).  Each row names a product (a new one is added, a known one matched without
regard to case or spaces), its cost from that day on, and whether it is on sale.
Products the file does not name are left as they are.

Nothing is changed unless every row is good: each bad row is reported by its line
number in one sentence.  An import that would retire more than a fifth of the
products on sale, or change many prices (``MANY_PRICES``) by more than half, is
held with a sentence saying so unless it is forced.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.engine import Connection

from models.catalogue import (
    Catalogue,
    CatalogueError,
    add_product,
    check_cost,
    check_name,
    read_catalogue,
    set_active,
    set_price,
)
from models.names import name_key

COLUMNS = ("product", "cost", "effective_from", "active")
RETIRE_SHARE = Decimal("0.2")   # retiring more than this share of the products on sale is held
JUMP = Decimal("0.5")           # a price that moves by more than half of itself ...
MANY_PRICES = 3                 # ... this many times or more (and more than a tenth of the products on sale) is held
MAX_ROWS = 100_000
ERRORS_SHOWN = 20


@dataclass(frozen=True)
class Row:
    line: int
    name: str
    cost: Decimal
    effective_from: dt.date
    active: bool


@dataclass
class Plan:
    """What an import would do, and why it is held (None: it may go ahead)."""

    new: list[Row] = field(default_factory=list)
    prices: list[tuple[int, Row]] = field(default_factory=list)  # (product id, row)
    retire: list[int] = field(default_factory=list)
    revive: list[int] = field(default_factory=list)
    held: str | None = None
    big_jumps: int = 0

    @property
    def changes(self) -> int:
        return len(self.new) + len(self.prices) + len(self.retire) + len(self.revive)

    def summary(self) -> str:
        return (f"{len(self.new)} new product(s), {len(self.prices)} price change(s), {len(self.retire)} retired, "
                f"{len(self.revive)} back on sale")


class ImportRefused(ValueError):
    """The file cannot be imported; ``problems`` are sentences, one per bad row (with its line number)."""

    def __init__(self, problems: list[str]):
        shown = problems[:ERRORS_SHOWN]
        if len(problems) > ERRORS_SHOWN:
            shown.append(f"… and {len(problems) - ERRORS_SHOWN} more problems.")
        super().__init__("\n".join(shown))
        self.problems = problems


def _yes_no(text: str) -> bool | None:
    return {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False,
            "0": False}.get(text.strip().casefold())


def parse_csv(text: str, today: dt.date) -> list[Row]:
    """The rows of an import file; raises ImportRefused naming every bad line."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().casefold() for h in next(reader)]
    except StopIteration:
        raise ImportRefused(["The file is empty: it needs a header line with product and cost."]) from None
    except csv.Error as exc:
        raise ImportRefused([f"Line 1 is not CSV that can be read ({exc})."]) from None
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in ("product", "cost") if c not in header]
    if missing or unknown or len(set(header)) != len(header):
        raise ImportRefused([f"Line 1 must name the columns product and cost, and optionally effective_from and "
                             f"active, each once (found: {', '.join(header) or 'nothing'})."])
    where = {name: header.index(name) for name in header}
    rows: list[Row] = []
    problems: list[str] = []
    seen: dict[tuple[str, dt.date], int] = {}
    try:
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(rows) + len(problems) >= MAX_ROWS:
                problems.append(f"The file has more than {MAX_ROWS:,} rows; split it.")
                break
            problem, row = _row(line, fields, where, len(header), today)
            if problem:
                problems.append(problem)
                continue
            assert row is not None
            key = (name_key(row.name), row.effective_from)
            if key in seen:
                problems.append(f"Line {line}: “{row.name}” from {row.effective_from} is already on line {seen[key]}.")
                continue
            seen[key] = line
            rows.append(row)
    except csv.Error as exc:
        problems.append(f"Line {reader.line_num}: the CSV cannot be read from here on ({exc}).")
    if problems:
        raise ImportRefused(problems)
    return rows


def _row(line: int, fields: list[str], where: dict[str, int], width: int, today: dt.date) -> tuple[str | None, Row | None]:
    if len(fields) != width:
        return f"Line {line}: it has {len(fields)} values where the header names {width}.", None
    try:
        name = check_name(fields[where["product"]])
    except CatalogueError as exc:
        return f"Line {line}: {str(exc).rstrip('.')}.", None
    cost_text = fields[where["cost"]].strip()
    try:
        cost = check_cost(cost_text)
    except CatalogueError:
        return f"Line {line}: the cost “{cost_text[:40]}” of “{name}” is not an amount like 12.95.", None
    day = today
    if "effective_from" in where and fields[where["effective_from"]].strip():
        text = fields[where["effective_from"]].strip()
        try:
            day = dt.date.fromisoformat(text)
            if len(text) != 10:
                raise ValueError(text)
        except ValueError:
            return f"Line {line}: effective_from “{text[:40]}” is not a date written YYYY-MM-DD.", None
    active = True
    if "active" in where and fields[where["active"]].strip():
        read = _yes_no(fields[where["active"]])
        if read is None:
            return f"Line {line}: active “{fields[where['active']].strip()[:40]}” is neither yes nor no.", None
        active = read
    return None, Row(line, name, cost, day, active)


def plan_import(catalogue: Catalogue, rows: list[Row], today: dt.date) -> Plan:
    """What ``rows`` would change in ``catalogue``, and whether that is to be held."""
    plan = Plan()
    on_sale = [p for p in catalogue.products.values() if p.active]
    new_names: set[str] = set()
    for row in rows:
        product = catalogue.find(row.name)
        if product is None:
            if name_key(row.name) not in new_names:
                new_names.add(name_key(row.name))
                plan.new.append(row)
            else:
                plan.prices.append((0, row))  # a later price of a product this file adds
            continue
        current = catalogue.price_on(product.id, row.effective_from)
        exact = next((p for p in catalogue.prices.get(product.id, []) if p.effective_from == row.effective_from), None)
        if exact is None and current is not None and current.cost == row.cost:
            pass  # already that cost on that day
        elif exact is None or exact.cost != row.cost:
            plan.prices.append((product.id, row))
            if current is not None and current.cost and abs(row.cost - current.cost) > current.cost * JUMP:
                plan.big_jumps += 1
        if product.active and not row.active and product.id not in plan.retire:
            plan.retire.append(product.id)
        elif not product.active and row.active and product.id not in plan.revive:
            plan.revive.append(product.id)
    if on_sale and len(plan.retire) > len(on_sale) * RETIRE_SHARE:
        plan.held = (f"This import would retire {len(plan.retire)} of the {len(on_sale)} products on sale, more than "
                     "a fifth; it is held: check the file, or import it with --force if that is meant.")
    elif plan.big_jumps >= MANY_PRICES and plan.big_jumps * 10 > len(on_sale):
        plan.held = (f"This import would change {plan.big_jumps} prices by more than half; it is held: check the "
                     "file (a misplaced decimal point?), or import it with --force if that is meant.")
    return plan


def apply_plan(conn: Connection, plan: Plan) -> None:
    """Make the planned changes, in the caller's transaction (one catalogue version each)."""
    added: dict[str, int] = {}
    for row in plan.new:
        added[name_key(row.name)] = add_product(conn, row.name, row.cost, row.effective_from, row.active).id
    for product_id, row in plan.prices:
        set_price(conn, product_id or added[name_key(row.name)], row.cost, row.effective_from)
    for product_id in plan.retire:
        set_active(conn, product_id, False)
    for product_id in plan.revive:
        set_active(conn, product_id, True)


def import_csv(conn: Connection, text: str, today: dt.date, force: bool = False) -> Plan:
    """Check the whole file, then apply it in the caller's transaction; raises ImportRefused (nothing changed).

    A held plan is returned unapplied (``plan.held`` says why) unless ``force``.
    """
    rows = parse_csv(text, today)
    plan = plan_import(read_catalogue(conn, head_office=True), rows, today)
    if plan.held is None or force:
        apply_plan(conn, plan)
    return plan


def export_csv(catalogue: Catalogue, today: dt.date) -> str:
    """Every product with the price in effect today and any later ones: importing it back changes nothing."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for product in sorted(catalogue.products.values(), key=lambda p: name_key(p.name)):
        current = catalogue.price_on(product.id, today)
        later = [p for p in catalogue.prices.get(product.id, []) if p.effective_from > today]
        for price in ([current] if current else []) + later:
            writer.writerow((product.name, f"{price.cost}", price.effective_from.isoformat(),
                             "yes" if product.active else "no"))
    return out.getvalue()


def show_csv(catalogue: Catalogue, day: dt.date) -> str:
    """``product,cost`` of every product on sale on ``day`` at its cost then (what `catalogue show` prints)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("product", "cost"))
    for name, cost in catalogue.on_sale(day):
        writer.writerow((name, f"{cost}"))
    return out.getvalue()


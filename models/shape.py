"""The row shape of a sale, declared once; everything that lists the columns derives from it.

A column added here travels everywhere by itself: the branch and Head Office tables,
the capture triggers and the initial load, the outbox read, the wire (in order,
after ``[seq, sale_id, op]``), the checks a received value must pass, the Head
Office upsert, and the CSV and table headings.  ``tests/test_shape.py`` adds a
column to a copy of the shape and follows it through capture, wire and apply.
"""
from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Date, Integer, Numeric, String, Table, cast
from sqlalchemy.sql.elements import ColumnElement

from models.money import MAX_AMOUNT, MAX_COST, parse_money

DATE_MIN = dt.date(1000, 1, 1)  # MySQL's DATE range starts here
QTY_MAX = 2_147_483_647  # INT

# Characters no text field may hold, found by one C-level scan (never a Python loop
# per character): C0 and C1 controls and DEL, lone surrogates (no database can store
# them), and the bidirectional embeddings, overrides and isolates that make a text
# display as something other than what it holds.  The branch table's CHECKs say the
# same in SQL (FORBIDDEN_SQL), so a writer the form never sees is held to it too.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
FORBIDDEN_SQL = r"[\\x{0}-\\x{1f}\\x{7f}-\\x{9f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]"
_WHOLE = re.compile(r"-?[0-9]{1,19}")  # ASCII digits only: never "²", "٣" or 5,000 digits
# "Blank" is made of separators only (Unicode category Z), in Python and in SQL alike.
NOT_BLANK_SQL = r"[^\\p{Z}]"


class Kind(enum.Enum):
    """What a column holds, which decides its SQL type, its wire form and its check."""

    DATE = "date"      # a day, on the wire 'YYYY-MM-DD'
    TEXT = "text"      # up to ``width`` characters, none forbidden, not blank
    COUNT = "count"    # a whole number from 1
    PRICE = "price"    # money up to MAX_COST, on the wire as a decimal string
    AMOUNT = "amount"  # money up to MAX_AMOUNT, on the wire as a decimal string


_SQL_TYPES: dict[Kind, Callable[[int], Any]] = {
    Kind.DATE: lambda _w: Date(),
    Kind.TEXT: lambda width: String(width),
    Kind.COUNT: lambda _w: Integer(),
    Kind.PRICE: lambda _w: Numeric(10, 2, asdecimal=True),
    Kind.AMOUNT: lambda _w: Numeric(12, 2, asdecimal=True),
}
_AS_TEXT_ON_THE_WIRE = (Kind.DATE, Kind.PRICE, Kind.AMOUNT)


@dataclass(frozen=True)
class Field:
    """One column of the row: its name (SQL column and wire position), kind and heading."""

    name: str
    kind: Kind
    label: str
    width: int = 64

    def column(self, nullable: bool = False) -> Column[Any]:
        return Column(self.name, _SQL_TYPES[self.kind](self.width), nullable=nullable)

    def check(self, value: object) -> object:
        """The value as stored, from what the wire carried; ValueError with a sentence otherwise.

        The wire is strict about types: dates and money travel as text (never a JSON
        number, which could be a float), counts as whole numbers.
        """
        wanted = int if self.kind is Kind.COUNT else str
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise ValueError(f"{self.name} must be sent as {'a whole number' if wanted is int else 'a string'}, "
                             f"got {type(value).__name__}")
        return _CHECKS[self.kind](self, value)


def check_text(label: str, value: object, width: int = 64, *, strip: bool = True) -> str:
    """Text a sale may hold: not blank, at most ``width`` characters, none forbidden."""
    if not isinstance(value, str):
        raise ValueError(f"{label} must be text")
    text = value.strip() if strip else value
    if not text.strip():
        raise ValueError(f"{label} cannot be empty")
    if len(text) > width:
        raise ValueError(f"{label} is longer than {width} characters")
    bad = _FORBIDDEN.search(text)
    if bad:
        raise ValueError(f"{label} contains {_kind_of(bad.group())}")
    return text


def _kind_of(char: str) -> str:
    """What a forbidden character is, in words a clerk can act on."""
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return "a character that is not valid Unicode text"
    if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        return f"a text-direction control (U+{code:04X}), which would make it display as something else"
    return f"a control character (U+{code:04X})"


def check_date(label: str, value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{label} must be a real day written YYYY-MM-DD, like 2021-04-29") from None
    if not isinstance(value, dt.date):
        raise ValueError(f"{label} must be a date")
    if value < DATE_MIN:
        raise ValueError(f"{label} is before the year 1000")
    return value


def check_count(label: str, value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{label} must be a whole number")
    if isinstance(value, str):
        value = value.strip()
        if not _WHOLE.fullmatch(value):
            raise ValueError(f"{label} must be a whole number, like 12")
        value = int(value)
    if not isinstance(value, int):
        raise ValueError(f"{label} must be a whole number")
    if value < 1:
        raise ValueError(f"{label} must be at least 1")
    if value > QTY_MAX:
        raise ValueError(f"{label} must be at most {QTY_MAX}")
    return value


def check_money(label: str, value: object, largest: Decimal) -> Decimal:
    try:
        amount = parse_money(value if isinstance(value, (str, Decimal, int)) else str(value))
    except ValueError as exc:
        raise ValueError(f"{label}: {exc}; write it like 12.95") from None
    if amount < 0:
        raise ValueError(f"{label} cannot be negative")
    if amount > largest:
        raise ValueError(f"{label} must be at most {largest}")
    return amount


_CHECKS: dict[Kind, Callable[[Field, object], object]] = {
    Kind.DATE: lambda f, v: check_date(f.label, v),
    Kind.TEXT: lambda f, v: check_text(f.label, v, f.width, strip=False),
    Kind.COUNT: lambda f, v: check_count(f.label, v),
    Kind.PRICE: lambda f, v: check_money(f.label, v, MAX_COST),
    Kind.AMOUNT: lambda f, v: check_money(f.label, v, MAX_AMOUNT),
}


class RowShape:
    """An ordered set of fields and everything derived from it."""

    def __init__(self, fields: Sequence[Field], rules: Callable[[dict[str, Any]], None] | None = None):
        self.fields = tuple(fields)
        self.names = tuple(f.name for f in self.fields)
        self.width = len(self.fields)
        self._rules = rules
        # Resolved once: the hot path (thousands of changes a second) looks nothing up by kind.
        self._checks = [(f.name, f, int if f.kind is Kind.COUNT else str, _CHECKS[f.kind]) for f in self.fields]

    def extended(self, *more: Field) -> RowShape:
        """This shape with more fields at the end (the same rules)."""
        return RowShape([*self.fields, *more], self._rules)

    # ------------------------------------------------------------ SQL
    def columns(self, nullable: bool = False) -> list[Column[Any]]:
        """Fresh SQLAlchemy columns, for a table of its own."""
        return [f.column(nullable) for f in self.fields]

    def column_list(self, prefix: str = "") -> str:
        """``sale_date, region, ...`` (or ``NEW.sale_date, ...``) for hand-written SQL."""
        return ", ".join(f"{prefix}{name}" for name in self.names)

    def nulls(self) -> str:
        return ", ".join("NULL" for _ in self.names)

    def same_values(self, left: str, right: str) -> str:
        """SQL true when two rows hold the same values (NULL-safe), e.g. an outbox row and a sale."""
        return " AND ".join(f"{left}.{n} <=> {right}.{n}" for n in self.names)

    def wire_select(self, table: Table) -> list[ColumnElement[Any]]:
        """The table's columns as the wire carries them: dates and money as the server's text."""
        return [cast(table.c[f.name], String).label(f.name) if f.kind in _AS_TEXT_ON_THE_WIRE else table.c[f.name]
                for f in self.fields]

    # ------------------------------------------------------------ wire
    def to_wire(self, values: Sequence[Any]) -> list[Any]:
        """Values in shape order as the wire carries them (text for dates and money)."""
        out = []
        for f, value in zip(self.fields, values, strict=True):
            if f.kind in _AS_TEXT_ON_THE_WIRE and not isinstance(value, str):
                value = value.isoformat() if f.kind is Kind.DATE else str(value)
            out.append(value)
        return out

    def from_wire(self, items: Sequence[Any]) -> dict[str, Any]:
        """Checked values from the wire, by name; ValueError naming the first wrong one."""
        if len(items) != self.width:
            raise ValueError(f"an upsert carries {self.width} values, this one {len(items)}")
        values = {}
        for (name, f, wanted, check), item in zip(self._checks, items, strict=True):
            if type(item) is not wanted:  # exactly: a bool is not a count, a Decimal from a JSON float not money
                f.check(item)  # raises the sentence
            values[name] = check(f, item)
        if self._rules:
            self._rules(values)
        return values

    def row(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values[name] for name in self.names)

    def headings(self) -> tuple[str, ...]:
        return tuple(f.label for f in self.fields)

    def digest(self, seq: int, sale_id: int, values: Mapping[str, Any] | None) -> int:
        """64 bits that tell one change from another with the same seq (a signed BIGINT).

        Computed from the values as decoded (dates, Decimals to the cent, text as is),
        so a change digests the same whichever protocol version carried it and
        whether it is read from a message or from the row it produced.
        """
        # str() is the canonical text of every value held: dates print as YYYY-MM-DD, and money
        # always carries exactly two decimals (the columns' scale, and parse_money's result).
        parts = (seq, sale_id, "d") if values is None else (seq, sale_id, "u", *[values[n] for n in self.names])
        raw = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return int.from_bytes(raw, "big", signed=True)


def _sale_rules(values: dict[str, Any]) -> None:
    """How a sale's amounts hang together: Amt = Qty x Cost, Total = Amt + Tax, Tax within Amt."""
    qty, cost, amt, tax, total = (values[k] for k in ("qty", "cost", "amt", "tax", "total"))
    if amt != qty * cost:
        raise ValueError(f"amt {amt} is not qty x cost ({qty} x {cost})")
    if tax > amt:
        raise ValueError(f"tax {tax} is more than amt {amt}")
    if total != amt + tax:
        raise ValueError(f"total {total} is not amt + tax")


SALE_SHAPE = RowShape([
    Field("sale_date", Kind.DATE, "Date"),
    Field("region", Kind.TEXT, "Region"),
    Field("product", Kind.TEXT, "Product"),
    Field("qty", Kind.COUNT, "Qty"),
    Field("cost", Kind.PRICE, "Cost"),
    Field("amt", Kind.AMOUNT, "Amt"),
    Field("tax", Kind.AMOUNT, "Tax"),
    Field("total", Kind.AMOUNT, "Total"),
], rules=_sale_rules)

FIELDS = SALE_SHAPE.names


def text_checks_sql(shape: RowShape = SALE_SHAPE) -> Iterable[tuple[str, str]]:
    """(constraint name, SQL) for each text field: not blank and no forbidden character."""
    for f in shape.fields:
        if f.kind is Kind.TEXT:
            yield f"sales_{f.name}_not_blank", f"{f.name} REGEXP '{NOT_BLANK_SQL}'"
            yield f"sales_{f.name}_printable", f"NOT {f.name} REGEXP '{FORBIDDEN_SQL}'"

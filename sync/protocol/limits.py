"""How much work one message may ask of the office that reads it, decided before it is built.

A branch's largest real message is one full batch of its widest rows, so the
inflated size is capped near that (``MAX_INFLATED_BYTES``), and the JSON is
counted (values, lists, objects) before ``json.loads`` builds a single object:
a small message that would become millions of objects is refused as cheaply as
a large one.
"""
from __future__ import annotations

import json
import re

from models.shape import SALE_SHAPE, Kind, RowShape

MAX_CHANGES = 10_000  # changes in one message; also the largest batch_rows a branch may set
_ENVELOPE_BYTES = 4096  # everything around the changes, generously


def widest_change_bytes(shape: RowShape = SALE_SHAPE) -> int:
    """The JSON bytes of the widest change a valid row can make (text at 4 bytes a character)."""
    per_kind = {Kind.DATE: len('"9999-12-31"'), Kind.COUNT: len(str(2**31)), Kind.PRICE: len('"99999999.99"'),
                Kind.AMOUNT: len('"9999999999.99"')}
    values = [f.width * 4 + 2 if f.kind is Kind.TEXT else per_kind[f.kind] for f in shape.fields]
    head = [len(str(2**63)), len(str(2**63)), len('"u"')]
    return sum(head) + sum(values) + len(head) + len(values) + 2  # its commas, brackets and the comma after it


MAX_INFLATED_BYTES = MAX_CHANGES * widest_change_bytes() + _ENVELOPE_BYTES
# Compressed (or identity) bodies: never larger than their inflated text, plus zlib's framing.
MAX_WIRE_BYTES = MAX_INFLATED_BYTES + MAX_INFLATED_BYTES // 100 + 64
# JSON values one message may hold: every field of every change, and the envelope's.
MAX_VALUES = MAX_CHANGES * (SALE_SHAPE.width + 4) + 256
MAX_LISTS = MAX_CHANGES + 64
MAX_OBJECTS = 64
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


class TooMuchWork(ValueError):
    """The JSON would build more objects than any real message needs."""


def check_work(raw: bytes) -> None:
    """Refuse JSON text that would build more values, lists or objects than allowed.

    The first count is over the raw bytes (C-level, about a millisecond a megabyte)
    and can only overestimate (a comma inside a string counts); only a text over a
    bound is counted again with its strings taken out.
    """
    if _within(raw):
        return
    if not _within(_STRINGS.sub(b'""', raw)):
        lists, objects, values = raw.count(b"["), raw.count(b"{"), raw.count(b",") + 1
        raise TooMuchWork(f"its JSON holds about {values:,} values, {lists:,} lists and {objects:,} objects, more than "
                          f"any real message ({MAX_VALUES:,}, {MAX_LISTS:,} and {MAX_OBJECTS})")


def _within(raw: bytes) -> bool:
    return (raw.count(b"[") <= MAX_LISTS and raw.count(b"{") <= MAX_OBJECTS
            and raw.count(b",") + raw.count(b":") < MAX_VALUES)


def compact(obj: object) -> bytes:
    """JSON as the offices write it: compact, UTF-8, non-ASCII kept as is."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

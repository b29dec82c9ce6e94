"""Result rows as plain tuples, for the type checker.

A SQLAlchemy 2.1 ``Row`` unpacks like a tuple (``Result.tuples()`` and ``Row._t``
are deprecated for that reason), but mypy reads an unpacked row of untyped Core
columns as ``object``.  These helpers change nothing at run time: they only say
that each row is a tuple of values whose types the caller converts.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, cast

from sqlalchemy.engine import Result

Values = tuple[Any, ...]


def tuples(rows: Iterable[Any]) -> Iterator[Values]:
    """Each row of a result (or of a list of rows) as a tuple."""
    return iter(cast("Iterable[Values]", rows))


def one(result: Result[Any]) -> Values:
    """The single row of a result as a tuple; raises as ``Result.one()`` does."""
    return cast(Values, result.one())


def first(result: Result[Any]) -> Values | None:
    """The first row of a result as a tuple, or None."""
    return cast("Values | None", result.first())

"""Product and region names matched the way a person reads them: case and extra spaces do not count.

`envelopes`, `Envelopes ` and `ENVELOPES` are one product; a sale stores the
spelling already known (the catalogue's, or the one this branch used first), so
the Head Office never sees one product split in two.
"""
from __future__ import annotations

from collections.abc import Iterable


def name_key(text: str) -> str:
    """What two spellings of one name have in common: words separated by one space, case folded."""
    return " ".join(text.split()).casefold()


def known_spelling(text: str, known: Iterable[str]) -> str | None:
    """The known name that ``text`` is a spelling of, or None when it is a new name."""
    wanted = name_key(text)
    return next((name for name in known if name_key(name) == wanted), None)


def merge_names(*lists: Iterable[str]) -> list[str]:
    """The names of all lists in order, keeping only the first spelling of each name."""
    seen: set[str] = set()
    merged = []
    for names in lists:
        for name in names:
            key = name_key(name)
            if key and key not in seen:
                seen.add(key)
                merged.append(name)
    return merged

"""How numbers, times and failures are written for a person to read."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.exc import DBAPIError


def money(value: Decimal | None) -> str:
    """12345.5 -> '12,345.50'; None -> an em dash."""
    return "—" if value is None else f"{value:,.2f}"


def whole(value: int | None) -> str:
    """1234567 -> '1,234,567'."""
    return "—" if value is None else f"{value:,}"


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 change', '3 changes'."""
    return f"{whole(count)} {word if count == 1 else many or word + 's'}"


def ago(moment: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """How long ago, roughly: 'just now', '5 min ago', '3 h ago', '2 days ago'."""
    if moment is None:
        return "never"
    seconds = int(((now or dt.datetime.now()) - moment).total_seconds())
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return plural(seconds // 86400, "day") + " ago"


def clock(moment: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """'14:03:22' today, '2021-04-29 14:03' on another day."""
    if moment is None:
        return "never"
    if moment.date() == (now or dt.datetime.now()).date():
        return f"{moment:%H:%M:%S}"
    return f"{moment:%Y-%m-%d %H:%M}"


def sentence(text: str) -> str:
    """Capitalised and ending with a full stop, however the engine phrased it."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def database_problem(exc: BaseException, office: str) -> str:
    """A sentence for a failed database call; the detail is the server's own words, never a traceback."""
    if isinstance(exc, DBAPIError):
        orig = getattr(exc, "orig", None)
        args = getattr(orig, "args", None) or (str(exc).splitlines()[0],)
        detail = str(args[-1])[:160]
        return f"The {office} database is not answering ({detail})."
    return f"Something went wrong talking to the {office} database ({exc.__class__.__name__}: {str(exc)[:160]})."

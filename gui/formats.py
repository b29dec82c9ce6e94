"""How numbers, times and failures are written for a person to read."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from sqlalchemy.exc import DBAPIError


def money(value: Decimal | None) -> str:
    """12345.5 -> '12,345.50'; None -> an em dash."""
    return "—" if value is None else f"{value:,.2f}"


def day_text(value: object) -> str:
    """A date as YYYY-MM-DD; anything else a database handed over for a date (``'0000-00-00'``) as it is."""
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat() if isinstance(value, dt.date) else str(value)


# Characters that would not show, or would turn the text around on screen: shown as a visible mark instead.
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def visible(text: object) -> str:
    """Stored text as a table shows it: controls and direction overrides replaced by '�', so a row
    written by plain SQL reads as what it holds."""
    return _HIDDEN.sub("\ufffd", str(text))


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


def database_problem(exc: BaseException, office: str) -> tuple[str, str]:
    """A sentence for a failed database call, and its technical cause: the server's own words, never a traceback."""
    if isinstance(exc, DBAPIError):
        orig = getattr(exc, "orig", None)
        args = getattr(orig, "args", None) or (str(exc).splitlines()[0],)
        return f"The {office} database is not answering.", sentence(str(args[-1])[:200])
    return (f"Something went wrong talking to the {office} database.",
            f"{exc.__class__.__name__}: {str(exc)[:200]}")

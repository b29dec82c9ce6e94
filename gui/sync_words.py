"""What the sync engine reports, in the words the person at the window needs.

``clerk_words`` (branch) and ``manager_words`` (Head Office) turn an engine event
into a sentence with its tone and the technical cause behind "Details".  The
engine does not classify its failures yet, so every failure to reach the other
side reads the same way (nothing is lost, it resumes by itself); the engine's
own sentence is the detail.  When the events carry a typed kind, the ``match``
statements below pick words per kind.
"""
from __future__ import annotations

from gui.formats import plural, sentence
from gui.notice import Words
from models.branch_sales import Waiting
from sync import events as ev

LINK_WORDS = {
    ev.ONLINE: ("● Online", "good"), ev.OFFLINE: ("● Working offline", "warn"), ev.CONNECTING: ("● Connecting…", "busy"),
    ev.OUTSIDE_WINDOW: ("● Outside the sync window", "muted"), ev.STOPPED: ("● Stopped", "muted"),
}


def link_words(event: ev.LinkStatus) -> tuple[str, str]:
    """The status bar's words for the link; a retry while offline still reads as offline."""
    if event.state == ev.CONNECTING and event.error:
        return "● Working offline · trying again…", "warn"
    return LINK_WORDS.get(event.state, (f"● {event.state}", "muted"))


def waiting_words(waiting: Waiting | None) -> tuple[str, str]:
    """'3 sales waiting to go', '2 sales and 1 deletion waiting to go' or 'Nothing waiting to go', with a tone."""
    if waiting is None:
        return "…", "muted"
    parts = []
    if waiting.sales:
        parts.append(plural(waiting.sales, "sale"))
    if waiting.deletions:
        parts.append(plural(waiting.deletions, "deleted sale"))
    text = " and ".join(parts) + " waiting to go" if parts else "Nothing waiting to go"
    tone = "warn" if parts else "normal"
    if waiting.refused:
        text += f" · {plural(waiting.refused, 'sale')} refused by the Head Office"
        tone = "bad"
    return text, tone


def kept_here(waiting: Waiting | None) -> str:
    """What is safe while offline, counted in sales."""
    if waiting is None or not (waiting.sales or waiting.deletions):
        return "new sales are kept here and go automatically when the link is back."
    what = " and ".join(p for p in (plural(waiting.sales, "sale") if waiting.sales else "",
                                    plural(waiting.deletions, "deleted sale") if waiting.deletions else "") if p)
    one = waiting.sales + waiting.deletions == 1
    return f"{what} {'is' if one else 'are'} kept here and {'goes' if one else 'go'} automatically when the link is back."


def offline(cause: str, waiting: Waiting | None) -> Words:
    """The branch cannot reach the Head Office now: what is safe first, the cause behind Details."""
    return Words(f"Working offline: {kept_here(waiting)} You can go on entering sales.", "normal", sentence(cause))


def clerk_words(event: object, waiting: Waiting | None) -> Words | None:
    """The sentence (with tone and details) a sync event calls for in the header, or None when it calls for none."""
    match event:
        case ev.SyncFinished(ok=True, message=message, at=at):
            return Words(f"{sentence(message)} ({at:%H:%M:%S})", "good")
        case ev.SyncFinished(ok=False, message=message):
            return offline(message.removeprefix("Could not sync: "), waiting)
        case ev.LinkStatus(state=ev.OFFLINE, error=error) if error:
            return offline(error, waiting)
        case _:
            return None


NOT_RECEIVING = ("Not receiving from the branches just now. Their sales wait safely at the branches and arrive "
                 "by themselves when the link is back.")
DATABASE_WAIT = ("The Head Office database is not answering, so nothing is applied just now. Nothing is lost: "
                 "sales wait in the queue and are applied when it answers again.")


def manager_words(event: object) -> Words | None:
    """The header sentence (with details) a consumer event calls for at the Head Office, or None."""
    match event:
        case ev.ConsumerStatus(state=ev.ONLINE | ev.STOPPED):
            return None
        case ev.ConsumerStatus(state=ev.OFFLINE, error=error) if error:
            return Words(NOT_RECEIVING, "normal", sentence(error))
        case ev.ConsumerStatus(error=error) if error:
            return Words(DATABASE_WAIT, "warn", sentence(error))
        case _:
            return None

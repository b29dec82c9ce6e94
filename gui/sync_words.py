"""What the sync engine reports, in the words the person at the window needs.

``clerk_words`` (branch) and ``manager_words`` (Head Office) turn an engine event
into a sentence with its tone and the technical cause behind "Details".  The
engine classifies each failure once (``sync.failures.Kind``); the words here are
chosen by that kind, never by parsing the engine's text: a failure that mends by
itself reads calmly (nothing is lost, it resumes by itself), one that needs a
person says which person and what to do.
"""
from __future__ import annotations

from gui.formats import plural, sentence
from gui.notice import Words
from models.branch_sales import Waiting
from sync import events as ev
from sync.failures import Failure, Kind

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


# Failures that wait for a person, in the clerk's words: what is safe, then who can mend it.
CLERK_NEEDS_SOMEONE = {
    Kind.BROKER_LOGIN_REFUSED: "The Head Office refused this branch's sign-in, so nothing can go until it is "
                               "corrected. Ask the Head Office to check this branch's login.",
    Kind.BROKER_VHOST_DENIED: "The Head Office has not given this branch access yet. Ask the Head Office to run "
                              "provision for this branch.",
    Kind.BROKER_CERTIFICATE_UNTRUSTED: "This branch does not trust the Head Office's certificate, so it will not "
                                       "send. Ask whoever set up the branch to check its certificate settings.",
    Kind.BROKER_WANTS_CLIENT_CERTIFICATE: "The Head Office asks for a certificate this branch does not have. Ask "
                                          "whoever set up the branch to install it.",
    Kind.BROKER_HAS_NO_QUEUE: "The Head Office has not set up this branch's queue yet. Ask the Head Office to run "
                              "provision for this branch.",
    Kind.BROKER_FORBIDS_DECLARE: "The Head Office has not set up this branch's queue yet. Ask the Head Office to run "
                                 "provision for this branch.",
    Kind.DATABASE_UNAVAILABLE: "This branch's database is not answering, so nothing can be sent just now. It is "
                               "tried again by itself.",
    Kind.DATABASE_ERROR: "This branch's database refused what the sync asked of it. Ask whoever looks after the "
                         "branch's computer to run: branch-sync status.",
    Kind.CAPTURE_BROKEN: "New sales are saved here but not marked for sending. Ask whoever looks after the branch's "
                         "computer to run: branch-sync init-db --repair.",
    Kind.SCHEMA_MISMATCH: "This branch's database and program are different versions. Ask whoever looks after the "
                          "branch's computer to run: branch-sync migrate.",
    Kind.UNEXPECTED: "Something unexpected stopped the sync. Sales are kept here; it is tried again by itself, and "
                     "the details help whoever looks into it.",
}


def failure_words(failure: Failure, waiting: Waiting | None) -> Words:
    """A failure to sync, in the clerk's words: calm when it mends by itself, who to ask when it does not."""
    if failure.kind.recovers_by_itself and failure.kind.is_link:
        return offline(failure.detail, waiting)
    words = CLERK_NEEDS_SOMEONE.get(failure.kind, CLERK_NEEDS_SOMEONE[Kind.UNEXPECTED])
    tone = "warn" if failure.kind.recovers_by_itself else "bad"
    safe = kept_here(waiting)
    return Words(f"{words} {safe[0].upper()}{safe[1:]}", tone, sentence(failure.detail))


def clerk_words(event: object, waiting: Waiting | None) -> Words | None:
    """The sentence (with tone and details) a sync event calls for in the header, or None when it calls for none."""
    match event:
        case ev.SyncFinished(failure=None, at=at):
            return Words(f"{sentence(event.message)} ({at:%H:%M:%S})", "good")
        case ev.SyncFinished(failure=Failure() as failure) | ev.LinkStatus(state=ev.OFFLINE, failure=Failure() as failure):
            return failure_words(failure, waiting)
        case _:
            return None


NOT_RECEIVING = ("Not receiving from the branches just now. Their sales wait safely at the branches and arrive "
                 "by themselves when the link is back.")
DATABASE_WAIT = ("The Head Office database is not answering, so nothing is applied just now. Nothing is lost: "
                 "sales wait in the queue and are applied when it answers again.")
BROKER_REFUSES_HEAD_OFFICE = ("The broker refuses the Head Office's own sign-in or setup, so nothing is received "
                              "until it is corrected. Sales wait safely at the branches. Run: branch-sync status.")
DATABASE_NEEDS_SOMEONE = ("The Head Office database refused what the consumer asked of it, so nothing is applied. "
                          "Sales wait in the queue. Run: branch-sync status.")


def manager_words(event: object) -> Words | None:
    """The header sentence (with details) a consumer event calls for at the Head Office, or None."""
    match event:
        case ev.ConsumerStatus(state=ev.ONLINE | ev.STOPPED) | ev.ConsumerStatus(failure=None):
            return None
        case ev.ConsumerStatus(failure=Failure(kind=kind, detail=detail)) if kind.is_link:
            if kind.recovers_by_itself:
                return Words(NOT_RECEIVING, "normal", sentence(detail))
            return Words(BROKER_REFUSES_HEAD_OFFICE, "bad", sentence(detail))
        case ev.ConsumerStatus(failure=Failure(kind=Kind.DATABASE_UNAVAILABLE, detail=detail)):
            return Words(DATABASE_WAIT, "warn", sentence(detail))
        case ev.ConsumerStatus(failure=Failure(detail=detail)):
            return Words(DATABASE_NEEDS_SOMEONE, "bad", sentence(detail))
        case _:
            return None

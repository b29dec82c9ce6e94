"""The branch window's line about its days at the Head Office, in a clerk's words.

It says the latest day the Head Office confirmed complete, and any day still on its
way or whose figures the Head Office finds different (models/branch_day_status.py),
and whether messages from the Head Office wait for this program to be upgraded
(models/parked.py), read in a worker thread every ``REFRESH_MS``.
"""
from __future__ import annotations

import datetime as dt
import tkinter as tk
from tkinter import ttk
from typing import Any

from sqlalchemy.engine import Engine

from gui.background import OneAtATime, every
from gui.theme import TONES
from models.branch_day_status import DayStatus, day_status
from models.parked import waiting

REFRESH_MS = 5000


def day_name(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def waiting_words(waiting: int) -> str:
    """A clerk's words for messages from the Head Office kept until this program is upgraded."""
    what = "an update" if waiting == 1 else f"{waiting} updates"
    return (f"The Head Office sent {what} (new prices, say) that this program is too old to read: kept here, "
            f"{'it is' if waiting == 1 else 'they are'} used once the program is upgraded. Please tell the office "
            "manager; sales are still sent as usual.")


def clerk_sentence(status: DayStatus, waiting: int = 0) -> tuple[str, str]:
    """(what the clerk reads, its tone) for the Head Office's last word on this branch's days.

    ``waiting``: how many messages from the Head Office wait for an upgrade of this program.
    """
    words, tone = _day_words(status)
    if waiting:
        return (waiting_words(waiting) if tone == "muted" else f"{words} {waiting_words(waiting)}"), "bad"
    return words, tone


def _day_words(status: DayStatus) -> tuple[str, str]:
    parts, tone = [], "good"
    if status.different:
        days = ", ".join(day_name(d) for d in status.different[:3]) + (" and more" if len(status.different) > 3 else "")
        parts.append(f"The Head Office's figures for {days} do not match this branch's sales: please tell the office "
                     "manager. Nothing is lost here; the day can be sent again.")
        tone = "bad"
    if status.in_flight:
        days = ", ".join(day_name(d) for d in status.in_flight[:3]) + (" and more" if len(status.in_flight) > 3 else "")
        parts.append(f"Sales of {days} are still on their way to the Head Office.")
        tone = "bad" if tone == "bad" else "busy"
    if status.last_certified is not None:
        parts.insert(0, f"The Head Office has every sale of {day_name(status.last_certified)} (latest day confirmed).")
    if not parts:
        return "The Head Office has not confirmed a day of this branch's sales yet.", "muted"
    return " ".join(parts), tone


class DayStatusLine(ttk.Frame):
    """One wrapping sentence under the branch's sales."""

    def __init__(self, master: tk.Misc, engine: Engine):
        super().__init__(master, padding=(20, 4))
        self.engine = engine
        self.status: DayStatus | None = None
        self.waiting = 0  # messages from the Head Office kept until this program is upgraded
        self.label = ttk.Label(self, text="", style="Caption.TLabel", foreground=TONES["muted"], justify="left")
        self.label.pack(fill="x")
        self.label.bind("<Configure>", lambda e: self.label.configure(wraplength=max(200, e.width - 4)))
        self._reads = OneAtATime(self)
        every(self, REFRESH_MS, self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self._reads.submit(lambda: (day_status(self.engine), waiting(self.engine).count), self._read)

    def _read(self, ok: bool, value: Any) -> None:
        if not ok:
            return  # the window already says when the database does not answer
        self.status, self.waiting = value
        words, tone = clerk_sentence(*value)
        self.label.configure(text=words, foreground=TONES[tone])

"""The branch window's line about its days at the Head Office, in a clerk's words.

It says the latest day the Head Office confirmed complete, and any day still on its
way or whose figures the Head Office finds different (models/branch_day_status.py),
read in a worker thread every ``REFRESH_MS``.
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

REFRESH_MS = 5000


def day_name(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def clerk_sentence(status: DayStatus) -> tuple[str, str]:
    """(what the clerk reads, its tone) for the Head Office's last word on this branch's days."""
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
        self.label = ttk.Label(self, text="", style="Caption.TLabel", foreground=TONES["muted"], justify="left")
        self.label.pack(fill="x")
        self.label.bind("<Configure>", lambda e: self.label.configure(wraplength=max(200, e.width - 4)))
        self._reads = OneAtATime(self)
        every(self, REFRESH_MS, self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self._reads.submit(lambda: day_status(self.engine), self._read)

    def _read(self, ok: bool, value: Any) -> None:
        if not ok:
            return  # the window already says when the database does not answer
        self.status = value
        words, tone = clerk_sentence(value)
        self.label.configure(text=words, foreground=TONES[tone])

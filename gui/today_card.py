"""The branch's day at a glance: how many sales are dated today and what they took.

The card keeps a line for the day-close state (whether the day's figures were
certified); it stays empty until the branch can close a day.
"""
from __future__ import annotations

import datetime as dt
import tkinter as tk
from tkinter import ttk

from gui.formats import money, plural
from gui.theme import BAR, TONES
from models.branch_sales import DayTakings


class TodayCard(ttk.Frame):
    """'Today, Mon 30 Nov' over '12 sales · takings 1,234.56', and a reserved line for the day close."""

    def __init__(self, master: tk.Misc):
        super().__init__(master, style="Bar.TFrame")
        self.title = ttk.Label(self, style="Caption.TLabel", background=BAR, foreground=TONES["muted"])
        self.title.grid(row=0, column=0, sticky="w")
        self.figures = ttk.Label(self, text="…", style="Section.TLabel", background=BAR)
        self.figures.grid(row=1, column=0, sticky="w")
        # Whether today's figures are certified goes here once days can be closed.
        self.day_close = ttk.Label(self, style="Caption.TLabel", background=BAR, foreground=TONES["muted"])
        self.day_close.grid(row=2, column=0, sticky="w")
        self.takings: DayTakings | None = None

    def show(self, takings: DayTakings) -> None:
        """Show the figures of a day (normally today)."""
        self.takings = takings
        word = "Today" if takings.day == dt.date.today() else "Day"
        self.title.configure(text=f"{word}, {takings.day:%a %d %b %Y}")
        self.figures.configure(text=f"{plural(takings.count, 'sale')} · takings {money(takings.total)}")

    @property
    def text(self) -> str:
        return f"{self.title.cget('text')}: {self.figures.cget('text')}"

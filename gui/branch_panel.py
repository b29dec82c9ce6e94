"""The Head Office's view of each branch: rows held, the last change applied, and whether it has gone quiet."""
from __future__ import annotations

import datetime as dt
import tkinter as tk
from tkinter import ttk

from gui.formats import ago, clock, sentence
from gui.theme import TONES
from gui.widgets import Column, DataTable, Row
from sync.status import BranchProgress

COLUMNS = [
    Column("branch", "Branch", 105, stretch=True), Column("rows", "Rows", 55, "e"),
    Column("last", "Last change", 85, "center"), Column("state", "Heard", 95),
]


def branch_state(progress: BranchProgress, silent_after: dt.timedelta, now: dt.datetime) -> tuple[str, str | None]:
    """The words and tone for a branch: quiet for too long is marked, never heard from is said plainly."""
    if progress.last_applied_at is None:
        return "nothing yet", "muted"
    quiet = now - progress.last_applied_at
    if quiet > silent_after:
        return f"⚠ silent {ago(progress.last_applied_at, now).removesuffix(' ago')}", "bad"
    return f"✓ {ago(progress.last_applied_at, now)}", None


class BranchPanel(ttk.Frame):
    """A small table with one row per branch; a branch silent for longer than ``silent_after`` is marked."""

    def __init__(self, master: tk.Misc, silent_after: dt.timedelta, rows: int = 4):
        super().__init__(master)
        self.silent_after = silent_after
        self.progress: list[BranchProgress] = []
        self.table = DataTable(self, COLUMNS, height=max(1, rows), selectmode="none", scroll=False)
        self.table.grid(row=0, column=0, sticky="nsew")
        # What the Head Office noticed about a branch (a replaced database, say), in its words.
        self.alerts = ttk.Label(self, style="Caption.TLabel", foreground=TONES["bad"], wraplength=330, justify="left")
        self.alerts.grid(row=1, column=0, sticky="w")
        self.columnconfigure(0, weight=1)
        self.rowconfigure(0, weight=1)

    def show(self, progress: list[BranchProgress], now: dt.datetime | None = None) -> None:
        """Show fresh figures (also called with the same figures to move 'how long ago' on)."""
        self.progress = progress
        now = now or dt.datetime.now()
        rows = []
        for p in progress:
            words, tone = branch_state(p, self.silent_after, now)
            if p.alert:
                words, tone = "⚠ see below", "bad"
            last = clock(p.last_applied_at, now) if p.last_applied_at else "—"
            rows.append(Row(p.code, (p.name, f"{p.rows_held:,}", last, words), tone))
        self.table.set_rows(rows)
        self.alerts.configure(text="\n".join(f"⚠ {p.name}: {sentence(p.alert)}" for p in progress if p.alert))

    def tick(self) -> None:
        """Move the 'how long ago' texts on without asking the database."""
        self.show(self.progress)

    def silent_branches(self, now: dt.datetime | None = None) -> list[str]:
        """Codes of the branches marked silent."""
        now = now or dt.datetime.now()
        return [p.code for p in self.progress if branch_state(p, self.silent_after, now)[1] == "bad"]

"""The Head Office's view of each branch: rows held, how long ago its last change was applied, whether it has gone quiet.

The table shows a few rows and scrolls, so fifty or five hundred branches take
the same room; the line above it counts the branches and the silent ones.
"""
from __future__ import annotations

import datetime as dt
import tkinter as tk
from tkinter import ttk

from gui.formats import ago, plural, sentence
from gui.theme import TONES
from gui.widgets import Column, DataTable, Row
from sync.status import BranchProgress

COLUMNS = [
    Column("branch", "Branch", 110, stretch=True, sample="Derby"), Column("rows", "Rows", 62, "e", sample="9,999"),
    Column("state", "Heard", 100, sample="✓ 5 min ago"),
]
VISIBLE_ROWS = 5      # rows shown before the table scrolls, unless the window has room for more
ALERTS_SHOWN = 3      # alerts written out in full; the rest are counted


def branch_state(progress: BranchProgress, silent_after: dt.timedelta, now: dt.datetime) -> tuple[str, str | None]:
    """The words and tone for a branch: quiet for too long is marked, never heard from is said plainly."""
    if progress.last_applied_at is None:
        return "nothing yet", "muted"
    quiet = now - progress.last_applied_at
    if quiet > silent_after:
        return f"⚠ silent {ago(progress.last_applied_at, now).removesuffix(' ago')}", "bad"
    return f"✓ {ago(progress.last_applied_at, now)}", None


class BranchPanel(ttk.Frame):
    """A count line and a small scrolling table with one row per branch; a branch silent for longer than
    ``silent_after`` is marked, and the silent ones sort first."""

    def __init__(self, master: tk.Misc, silent_after: dt.timedelta, rows: int = 4):
        super().__init__(master)
        self.silent_after = silent_after
        self.progress: list[BranchProgress] = []
        self.branch_count = rows
        self.summary = ttk.Label(self, style="Caption.TLabel", foreground=TONES["muted"])
        self.summary.grid(row=0, column=0, sticky="w", pady=(0, 4))
        self.table = DataTable(self, COLUMNS, height=max(1, min(rows, VISIBLE_ROWS)), selectmode="none",
                               scroll=rows > VISIBLE_ROWS)
        self.table.grid(row=1, column=0, sticky="nsew")
        # What the Head Office noticed about a branch (a replaced database, say), in its words.
        self.alerts = ttk.Label(self, style="Caption.TLabel", foreground=TONES["bad"], wraplength=330, justify="left")
        self.alerts.grid(row=2, column=0, sticky="w")
        self.alerts.bind("<Configure>", lambda e: self.alerts.configure(wraplength=max(150, self.winfo_width() - 4)))
        # Branches whose catalogue is behind the Head Office's ("2 price changes behind, last heard 26 h ago").
        self.catalogue_note = ttk.Label(self, style="Caption.TLabel", foreground=TONES["muted"], wraplength=330,
                                        justify="left")
        self.catalogue_note.grid(row=3, column=0, sticky="w")
        self.catalogue_note.bind("<Configure>", lambda e: self.catalogue_note.configure(
            wraplength=max(150, self.winfo_width() - 4)))
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)

    def fit_rows(self, rows: int) -> None:
        """Show up to ``rows`` rows (at least VISIBLE_ROWS) before the table scrolls."""
        wanted = max(1, min(max(rows, VISIBLE_ROWS), self.branch_count))
        if int(str(self.table.tree.cget("height"))) != wanted:
            self.table.tree.configure(height=wanted)

    def show(self, progress: list[BranchProgress], now: dt.datetime | None = None) -> None:
        """Show fresh figures (also called with the same figures to move 'how long ago' on)."""
        self.progress = progress
        self.branch_count = max(self.branch_count, len(progress))
        now = now or dt.datetime.now()
        rows = []
        for p in progress:
            words, tone = branch_state(p, self.silent_after, now)
            if p.capture_ok is False:
                words, tone = "⚠ capture broken", "bad"
            if p.days_different:
                words, tone = "⚠ days differ", "bad"
            if p.alert:
                words, tone = "⚠ see below", "bad"
            rows.append(Row(p.code, (p.name, f"{p.rows_held:,}", words), tone))
        rows.sort(key=lambda row: row.tone != "bad")   # the branches that need a look come first (stable order)
        self.table.set_rows(rows)
        silent = len(self.silent_branches(now))
        alerted = [p for p in progress if p.alert]
        parts = [plural(len(progress), "branch", "branches")]
        if silent:
            parts.append(f"{silent:,} silent")
        if alerted:
            parts.append(plural(len(alerted), "alert"))
        self.summary.configure(text=" · ".join(parts))
        lines = [f"⚠ {p.name}: {sentence(p.alert)}" for p in alerted[:ALERTS_SHOWN]]
        if len(alerted) > ALERTS_SHOWN:
            lines.append(f"… and {len(alerted) - ALERTS_SHOWN:,} more branches with an alert (marked in the table).")
        self.alerts.configure(text="\n".join(lines))
        behind = [p for p in progress if p.catalogue_held is not None and (p.prices_behind or p.products_behind)]
        notes = [f"{p.name}: {p.catalogue_words()}" for p in behind[:ALERTS_SHOWN]]
        if len(behind) > ALERTS_SHOWN:
            notes.append(f"… and {len(behind) - ALERTS_SHOWN:,} more branches behind on the catalogue.")
        self.catalogue_note.configure(text="\n".join(notes))

    def tick(self) -> None:
        """Move the 'how long ago' texts on without asking the database."""
        self.show(self.progress)

    def silent_branches(self, now: dt.datetime | None = None) -> list[str]:
        """Codes of the branches marked silent."""
        now = now or dt.datetime.now()
        return [p.code for p in self.progress if branch_state(p, self.silent_after, now)[1] == "bad"]

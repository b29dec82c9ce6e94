"""The Head Office's alerts: those active now, and their history, read from ``sync_alerts``.

The alert monitor (sync/alerts.py) raises and clears them; this view only shows
them, reading through ``models.alerts`` in a worker thread whenever the window
refreshes its side (and on F5).
"""
from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from gui.background import OneAtATime
from gui.formats import clock
from gui.theme import TONES
from gui.widgets import Column, DataTable, Row
from models.alerts import AlertRecord, read_alerts

KIND_WORDS = {"silent": "Silent", "capture_broken": "Capture broken", "dead_letters": "Dead letters",
              "backlog": "Backlog too long", "consumer_offline": "Consumer offline",
              "database_waiting": "Waiting for database"}
ACTIVE_COLUMNS = [
    Column("since", "Since", 140, sample="2026-11-29 23:59"), Column("kind", "Alert", 150, sample="Waiting for database"),
    Column("branch", "Branch", 110), Column("sentence", "What happened", 460, stretch=True),
]
HISTORY_COLUMNS = [
    Column("raised", "Raised", 140, sample="2026-11-29 23:59"), Column("cleared", "Cleared", 140, sample="2026-11-29 23:59"),
    Column("kind", "Alert", 150, sample="Waiting for database"), Column("branch", "Branch", 110),
    Column("sentence", "What happened", 400, stretch=True),
]


def kind_words(kind: str) -> str:
    return KIND_WORDS.get(kind, kind.replace("_", " ").capitalize())


class AlertsView(ttk.Frame):
    """Active alerts above, every alert raised (newest first) below.

    ``branch_name(code)`` names a branch; ``on_loaded(active_count)`` lets the window
    mark its tab; ``on_failed(exc)`` reports a database that did not answer.
    """

    def __init__(self, master: tk.Misc, engine, branch_name: Callable[[str], str],
                 on_loaded: Callable[[int], None], on_failed: Callable[[BaseException], None]):
        super().__init__(master, padding=(0, 12, 0, 0))
        self.engine, self.branch_name, self.on_loaded, self.on_failed = engine, branch_name, on_loaded, on_failed
        self._job = OneAtATime(self)
        intro = ttk.Label(self, text="An alert is raised once when something needs a person and cleared once when it is "
                                     "over; each is also sent to the webhook and by e-mail when the Head Office's file "
                                     "names them (docs/OPERATIONS.md).",
                          style="Caption.TLabel", foreground=TONES["muted"], wraplength=500, justify="left")
        intro.grid(row=0, column=0, sticky="ew", pady=(0, 8))
        intro.bind("<Configure>", lambda e: intro.configure(wraplength=max(200, e.width - 4)))
        self.active_label = ttk.Label(self, text="Active", style="Section.TLabel")
        self.active_label.grid(row=1, column=0, sticky="w")
        self.active = DataTable(self, ACTIVE_COLUMNS, height=4)
        self.active.grid(row=2, column=0, sticky="nsew", pady=(2, 10))
        ttk.Label(self, text="History", style="Section.TLabel").grid(row=3, column=0, sticky="w")
        self.history = DataTable(self, HISTORY_COLUMNS, height=8)
        self.history.grid(row=4, column=0, sticky="nsew", pady=(2, 0))
        self.records: dict[str, AlertRecord] = {}
        self.detail = ttk.Label(self, text="Select an alert to read all of it.", style="Caption.TLabel", wraplength=500,
                                justify="left")
        self.detail.grid(row=5, column=0, sticky="ew", pady=(8, 0))
        self.detail.bind("<Configure>", lambda e: self.detail.configure(wraplength=max(200, e.width - 4)))
        for table in (self.active, self.history):
            table.tree.bind("<<TreeviewSelect>>", lambda e, t=table: self._selected(t))
        self.columnconfigure(0, weight=1)
        self.rowconfigure(2, weight=1)
        self.rowconfigure(4, weight=2)

    def reload(self) -> None:
        """Read the alerts again (in a worker thread)."""
        self._job.submit(lambda: read_alerts(self.engine), self._loaded)

    def _loaded(self, ok: bool, value) -> None:
        if not ok:
            self.on_failed(value)
            return
        active, history = value
        self.show(active, history)
        self.on_loaded(len(active))

    def _where(self, alert: AlertRecord) -> str:
        return self.branch_name(alert.branch) if alert.branch else "Head Office"

    def _selected(self, table: DataTable) -> None:
        alert = self.records.get(table.selected() or "")
        if alert is not None:
            cleared = "still active" if alert.active else f"cleared {alert.cleared_at:%Y-%m-%d %H:%M:%S}"
            self.detail.configure(text=f"{kind_words(alert.kind)} at {self._where(alert)}, raised "
                                       f"{alert.raised_at:%Y-%m-%d %H:%M:%S}, {cleared}: {alert.sentence}")

    def show(self, active: list[AlertRecord], history: list[AlertRecord]) -> None:
        self.records = {str(a.id): a for a in (*history, *active)}
        self.active_label.configure(text=f"Active ({len(active):,})" if active else "Active: none, nothing needs a person")
        self.active.set_rows(Row(str(a.id), (clock(a.raised_at), kind_words(a.kind), self._where(a), a.sentence), "bad")
                             for a in active)
        self.history.set_rows(Row(str(a.id), (clock(a.raised_at), "active" if a.active else clock(a.cleared_at),
                                              kind_words(a.kind), self._where(a), a.sentence),
                                  "bad" if a.active else None)
                              for a in history)

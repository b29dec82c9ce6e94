"""Messages the Head Office could not apply, with the reason, for the manager to retry or discard."""
from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from gui.formats import clock
from gui.theme import TONES
from gui.widgets import Column, DataTable, Row
from sync.dead_letters import DeadLetter

COLUMNS = [
    Column("id", "#", 60, "e"), Column("received", "Received", 150), Column("branch", "Branch", 90),
    Column("reason", "Reason", 520, stretch=True),
]


class DeadLetterView(ttk.Frame):
    """A list of parked dead letters, the full reason of the selected one, and Retry / Discard buttons.

    ``on_retry(id)`` and ``on_discard(id)`` do the work; this view only shows and asks.
    """

    def __init__(self, master: tk.Misc, on_retry: Callable[[int], None], on_discard: Callable[[int], None]):
        super().__init__(master, padding=(0, 12, 0, 0))
        self.on_retry, self.on_discard = on_retry, on_discard
        self.letters: dict[str, DeadLetter] = {}
        intro = ttk.Label(self, text="A dead letter is a message from a branch that could not be applied. Retry puts it "
                                     "back on the intake queue (after a fix at the Head Office); Discard keeps it on record "
                                     "but stops it from counting as waiting.",
                          style="Caption.TLabel", foreground=TONES["muted"], wraplength=500, justify="left")
        intro.grid(row=0, column=0, sticky="ew", pady=(0, 8))
        intro.bind("<Configure>", lambda e: intro.configure(wraplength=max(200, e.width - 4)))
        self.table = DataTable(self, COLUMNS, height=10)
        self.table.grid(row=1, column=0, sticky="nsew")
        self.table.tree.bind("<<TreeviewSelect>>", lambda e: self._selected())
        self.detail = tk.Text(self, height=5, wrap="word", relief="flat", background="#f3f3f3", padx=10, pady=8,
                              font="SunValleyCaptionFont", state="disabled")
        self.detail.grid(row=2, column=0, sticky="ew", pady=(8, 0))
        buttons = ttk.Frame(self)
        buttons.grid(row=3, column=0, sticky="ew", pady=(8, 0))
        self.count_label = ttk.Label(buttons, style="Caption.TLabel", foreground=TONES["muted"])
        self.count_label.pack(side="left")
        self.discard_button = ttk.Button(buttons, text="Discard…", command=self._discard, state="disabled")
        self.discard_button.pack(side="right")
        self.retry_button = ttk.Button(buttons, text="Retry", command=self._retry, state="disabled")
        self.retry_button.pack(side="right", padx=(0, 8))
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)

    def show(self, letters: list[DeadLetter]) -> None:
        """Show the parked dead letters, newest first."""
        self.letters = {str(d.id): d for d in letters}
        self.table.set_rows(
            Row(str(d.id), (d.id, clock(d.received_at), d.branch or "unknown", d.reason.replace("\n", " ")), "bad")
            for d in letters
        )
        self.count_label.configure(text=f"{len(letters):,} parked" if letters else "Nothing parked: every message was applied.")
        self._selected()

    def selected(self) -> DeadLetter | None:
        iid = self.table.selected()
        return self.letters.get(iid) if iid else None

    def _selected(self) -> None:
        letter = self.selected()
        state = "normal" if letter else "disabled"
        self.retry_button.configure(state=state)
        self.discard_button.configure(state=state)
        text = ""
        if letter:
            text = (f"Dead letter #{letter.id} from {letter.branch or 'an unknown sender'}, received "
                    f"{letter.received_at:%Y-%m-%d %H:%M:%S}, message {letter.message_id or '(no id)'}.\n\n{letter.reason}")
        self.detail.configure(state="normal")
        self.detail.delete("1.0", "end")
        self.detail.insert("1.0", text)
        self.detail.configure(state="disabled")

    def _retry(self) -> None:
        letter = self.selected()
        if letter:
            self.on_retry(letter.id)

    def _discard(self) -> None:
        letter = self.selected()
        if letter:
            self.on_discard(letter.id)

"""A sentence for a person, with its technical cause one click away.

The sentence says what happened, what is safe and what to do; the cause (a URL,
the broker's or the server's own words) stays behind "Details" for whoever has
to fix it.
"""
from __future__ import annotations

import tkinter as tk
from dataclasses import dataclass
from tkinter import ttk

from gui.theme import TONES, paint


@dataclass(frozen=True)
class Words:
    """What to tell a person: a sentence, its tone, and the technical cause ('' when there is none)."""

    text: str
    tone: str = "normal"
    details: str = ""


class Notice(ttk.Frame):
    """A sentence, a "Details" toggle when there is a cause to show, and the cause under it when asked.

    ``side`` is where the text lines up ("right" in a header, "left" in a banner);
    ``fit`` makes it wrap at whatever width it is given (it then asks for none of
    its own); ``style`` is the sentence's label style.
    """

    def __init__(self, master: tk.Misc, wraplength: int = 440, background: str | None = None, fit: bool = False,
                 side: str = "right", style: str = "Caption.TLabel", frame_style: str = "TFrame"):
        super().__init__(master, style=frame_style)
        extra = {"background": background} if background else {}
        self.anchor = "e" if side == "right" else "w"
        self.label = ttk.Label(self, style=style, wraplength=wraplength, justify=side, anchor=self.anchor, **extra)
        self.label.grid(row=0, column=0, sticky=self.anchor)
        self.toggle = ttk.Button(self, text="Details", style="Link.Toolbutton", command=self.toggle_details)
        self.cause = ttk.Label(self, style="Caption.TLabel", wraplength=wraplength, justify=side, anchor=self.anchor,
                               foreground=TONES["muted"], **extra)
        self.columnconfigure(0, weight=1)
        self._details = ""
        if fit:
            self.bind("<Configure>", lambda e: self._wrap(e.width))

    def _wrap(self, width: int) -> None:
        for label in (self.label, self.cause):
            if int(str(label.cget("wraplength"))) != max(120, width):
                label.configure(wraplength=max(120, width))

    def show(self, words: Words) -> None:
        """Show a sentence; new details stay folded away until asked for, the same details stay as they were."""
        open_before = self.details_shown and words.details == self._details
        self.label.configure(text=words.text)
        paint(self.label, words.tone)
        self._details = words.details
        self.cause.configure(text=words.details)
        if not words.details:
            self.toggle.grid_remove()
        else:
            self.toggle.grid(row=1, column=0, sticky=self.anchor)
        if not open_before:
            self.cause.grid_remove()
            self.toggle.configure(text="Details")

    def clear(self) -> None:
        self.show(Words(""))

    def toggle_details(self) -> None:
        """Show or hide the technical cause."""
        if self.cause.winfo_manager():
            self.cause.grid_remove()
            self.toggle.configure(text="Details")
        elif self._details:
            self.cause.grid(row=2, column=0, sticky=self.anchor)
            self.toggle.configure(text="Hide details")

    @property
    def text(self) -> str:
        return str(self.label.cget("text"))

    @property
    def details(self) -> str:
        """The cause behind the toggle ('' when none)."""
        return self._details

    @property
    def details_shown(self) -> bool:
        return bool(self.cause.winfo_manager())

"""A program that stops before its window opens says why in a window too.

A clerk who starts the program from a desktop icon never sees stderr: when
``prepare_or_exit`` refuses the database (older or newer than the program, or not
answering), the sentence it printed is also shown in a small dialog, and the
program ends (with the same exit code) once it is closed.  Without a display the
dialog is skipped: stderr has said it.
"""
from __future__ import annotations

import signal
import threading
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from gui.theme import TONES, apply_theme

WRAP = 520  # pixels: the sentence wraps in a dialog about this wide


class RefusalDialog(ttk.Frame):
    """The sentence, in the bad tone, and OK (Enter or Escape) to close."""

    def __init__(self, root: tk.Tk, title: str, sentence: str):
        super().__init__(root, padding=20, name="refusal")
        root.title(title)
        heading = ttk.Label(self, text=title, style="Section.TLabel", name="title")
        heading.pack(anchor="w", pady=(0, 8))
        self.sentence = ttk.Label(self, text=sentence, wraplength=WRAP, justify="left", foreground=TONES["bad"],
                                  name="sentence")
        self.sentence.pack(anchor="w", fill="x")
        self.ok = ttk.Button(self, text="OK", command=root.destroy, style="Accent.TButton", name="ok")
        self.ok.pack(anchor="e", pady=(16, 0))
        for key in ("<Return>", "<KP_Enter>", "<Escape>"):
            root.bind(key, lambda _e: root.destroy())
        self.ok.focus_set()


def show_refusal(title: str, sentence: str) -> None:
    """Show the sentence until the person closes it (or the program is asked to stop); return at once without a display."""
    try:
        root = tk.Tk(className="BranchSync")
    except tk.TclError:
        return
    apply_theme(root)
    RefusalDialog(root, title, sentence).pack(fill="both", expand=True)
    root.resizable(False, False)
    # Ctrl-C or a polite kill closes it as OK does (Tk never sees Python's signals, so a flag is watched).
    closing = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: closing.set())

    def watch() -> None:
        if closing.is_set():
            root.destroy()
        else:
            root.after(200, watch)

    root.after(200, watch)
    root.mainloop()


def tell_in_a_window(office: str) -> Callable[[str], None]:
    """What ``prepare_or_exit`` calls with its sentence when the program of ``office`` (its name) runs with a window."""
    return lambda sentence: show_refusal(f"{office}: Branch Sync cannot start", sentence)

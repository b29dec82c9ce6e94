"""Keyboard behaviour shared by both windows: Ctrl+A in entries, focus that selects, window shortcuts.

On X11, Tk binds Ctrl+A in an entry to "go to the line start" (an Emacs habit);
clerks expect it to select everything, as on every other desktop.  A binding for
the physical key on the entry classes takes precedence over Tk's virtual
``<<LineStart>>`` event, so Home still goes to the start.
"""
from __future__ import annotations

import tkinter as tk
from collections.abc import Callable

ENTRY_CLASSES = ("TEntry", "TCombobox", "Entry", "TSpinbox")


def select_all(entry: tk.Misc) -> None:
    """Select the whole text of an entry (or combobox) and put the caret at its end."""
    entry.selection_range(0, "end")
    entry.icursor("end")


def focus_and_select(widget: tk.Misc) -> None:
    """Give a field the keyboard focus with its text selected, so typing replaces it."""
    widget.focus_set()
    if hasattr(widget, "selection_range"):
        select_all(widget)


def install_entry_keys(root: tk.Misc) -> None:
    """Make Ctrl+A select the whole text in every entry and combobox of this Tk interpreter."""

    def on_ctrl_a(event: tk.Event) -> str:
        select_all(event.widget)
        return "break"

    for cls in ENTRY_CLASSES:
        for sequence in ("<Control-a>", "<Control-A>"):   # Control-A: with Caps Lock on
            root.bind_class(cls, sequence, on_ctrl_a)


def bind_shortcuts(window: tk.Misc, shortcuts: dict[str, Callable[[], object]]) -> None:
    """Bind key sequences on the window's toplevel, so they work wherever the focus is inside it.

    Each action runs after the focused widget's own bindings (an entry still gets
    its keys); the event then stops, so an outer window does not act twice.
    """
    top = window.winfo_toplevel()

    def handler(action: Callable[[], object]) -> Callable[[tk.Event], str]:
        def run(_event: tk.Event) -> str:
            action()
            return "break"
        return run

    for sequence, action in shortcuts.items():
        top.bind(sequence, handler(action), add="+")

"""Looking into the Tk window of another program on the same X display, as a person would see it.

Tk registers every application on its display (``winfo interps``) and lets another
one on the same, secured display run Tcl in it (``send``): the tests read a program's
dialog with it and press its buttons, without a mock of the program.
"""
from __future__ import annotations

import tkinter as tk

from tests.harness import wait_for


def applications(root: tk.Misc) -> set[str]:
    """The names of the Tk applications on this display now."""
    return set(root.tk.splitlist(root.tk.call("winfo", "interps")))


def ask(root: tk.Misc, application: str, script: str) -> str:
    """Run Tcl in another application and return its answer."""
    return str(root.tk.call("send", application, script))


def window_of(root: tk.Misc, before: set[str], widget: str, timeout: float = 60) -> str:
    """The application, not among ``before``, that shows ``widget`` (a Tk path such as ``.refusal.sentence``)."""

    def showing() -> str | None:
        for name in applications(root) - before:
            try:
                if ask(root, name, f"winfo ismapped {widget}") == "1":
                    return name
            except tk.TclError:
                continue  # not that one, or not yet
        return None

    return wait_for(showing, timeout, f"a program to show {widget}")


def press(root: tk.Misc, application: str, button: str) -> None:
    """Press a button of another application (after this call returns: the press may end it)."""
    ask(root, application, f"after idle {{{button} invoke}}")

"""Running a window as a program: the Tk root, the engine thread beside it, and a clean close."""
from __future__ import annotations

import os
import queue
import signal
import threading
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Protocol

from gui.keys import install_entry_keys
from gui.theme import apply_theme
from models.schema import make_engine

# "WIDTHxHEIGHT+X+Y" for the window; the demo uses it to lay four windows side by side.
GEOMETRY_ENV = "BRANCH_SYNC_GEOMETRY"
DEFAULT_GEOMETRY = "1280x800"
# A window must report a database that stopped answering, not wait for it forever.
WINDOW_DB_TIMEOUTS = {"connect_timeout": 5, "read_timeout": 30, "write_timeout": 30}


class EngineThread(Protocol):
    """What a window needs of the engine thread that runs beside it (relay or consumer)."""

    def start(self) -> None: ...

    def stop(self, timeout: float | None = 10) -> None: ...


Build = Callable[[tk.Tk, queue.Queue], tuple[ttk.Frame, EngineThread]]


def window_engine(db_url: str):
    """The engine a window reads and writes with (the engine thread has its own)."""
    return make_engine(db_url, connect_args=WINDOW_DB_TIMEOUTS)


def make_root(title: str) -> tk.Tk:
    """A themed Tk root of the usual size, named for the office, with the keys clerks expect."""
    root = tk.Tk(className="BranchSync")
    root.title(title)
    apply_theme(root)
    install_entry_keys(root)
    root.geometry(os.environ.get(GEOMETRY_ENV) or DEFAULT_GEOMETRY)
    root.minsize(1024, 640)
    return root


def destroy_root(root: tk.Tk) -> None:
    """Destroy a root after cancelling its timers.

    Tcl's event loop is shared by every interpreter in a thread: a timer left
    behind would fire later, into callbacks that no longer exist, and print an error.
    """
    for pending in root.tk.splitlist(root.tk.call("after", "info")):
        root.after_cancel(pending)
    root.destroy()


def run_window(title: str, build: Build) -> int:
    """Build a window and its engine thread, run until the window closes or a signal arrives, then stop.

    ``build(root, events)`` returns the window frame and the engine thread, which
    must send its events to ``events.put``.
    """
    root = make_root(title)
    events: queue.Queue = queue.Queue()
    window, engine_thread = build(root, events)
    window.pack(fill="both", expand=True)
    # Ctrl-C or a polite kill closes the window like the close button does; Tk itself
    # never sees Python signals, so a flag is checked from the event loop.
    closing = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: closing.set())

    def watch() -> None:
        if closing.is_set():
            destroy_root(root)
        else:
            root.after(200, watch)

    root.after(200, watch)
    engine_thread.start()
    try:
        root.mainloop()
    finally:
        engine_thread.stop()
        window.dispose()
    return 0

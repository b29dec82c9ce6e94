"""Fixtures for the window tests.

Each test gets its own themed Tk root (destroyed afterwards, so no timer of one
test can fire in the next), windows wired to real engine threads against the
test's private offices, and a guard that fails the test if any Tk callback
raised.  pytest-xvfb provides the X display.
"""
from __future__ import annotations

import queue
import time
import tkinter as tk
import traceback

import pytest

from gui.app import destroy_root, make_root
from gui.branch_window import BranchWindow
from gui.head_office_window import HeadOfficeWindow
from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay

# Characters whose X keysym is not the character itself.
KEYSYMS = {" ": "space", ".": "period", "-": "minus", ",": "comma", "/": "slash", ":": "colon", "#": "numbersign"}


@pytest.fixture(autouse=True)
def tk_callback_errors(monkeypatch):
    """Fail the test when a Tk callback raised (Tk would only print it and carry on)."""
    errors: list[str] = []

    def report(self, exc, value, tb):
        errors.append("".join(traceback.format_exception(exc, value, tb)))

    monkeypatch.setattr(tk.Tk, "report_callback_exception", report)
    yield errors
    if errors:
        pytest.fail("a Tk callback raised:\n" + "\n".join(errors), pytrace=False)


class Gui:
    """Drives real widgets: keys go through event_generate, time passes through update()."""

    def __init__(self, root: tk.Tk, errors: list[str]):
        self.root, self.errors = root, errors

    def settle(self, seconds: float = 0.0) -> None:
        """Process events (for at least ``seconds``), failing at once if a callback raised."""
        deadline = time.monotonic() + seconds
        while True:
            self.root.update()
            if self.errors:
                pytest.fail("a Tk callback raised:\n" + "\n".join(self.errors), pytrace=False)
            if time.monotonic() >= deadline:
                return
            time.sleep(0.02)

    def wait_until(self, predicate, what: str, timeout: float = 30.0):
        """Keep the window running until ``predicate()`` is truthy; fail naming ``what`` if it never is."""
        deadline = time.monotonic() + timeout
        while True:
            self.settle()
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for: {what}", pytrace=False)
            time.sleep(0.03)

    def focus_window(self) -> None:
        """Give the application the keyboard focus (there is no window manager under Xvfb)."""
        self.settle()
        self.root.focus_force()
        self.settle()

    def focused(self) -> tk.Misc | None:
        return self.root.focus_get()

    def key(self, keysym: str, widget: tk.Misc | None = None) -> None:
        """Press one key in the focused widget, or first give ``widget`` the focus (Tk sends keys to the focus)."""
        if widget is not None:
            widget.focus_set()
            self.settle()
        target = self.focused()
        assert target is not None, "no widget has the keyboard focus"
        assert widget is None or target is widget, f"{widget} did not take the focus"
        target.event_generate(f"<{keysym}>" if keysym.startswith(("Shift-", "Control-")) else f"<KeyPress-{keysym}>")
        self.settle()

    def type(self, text: str) -> None:
        """Type text into the focused widget, key by key (after a focus_set() just made has taken effect)."""
        self.settle()
        target = self.focused()
        assert target is not None, "no widget has the keyboard focus"
        for char in text:
            target.event_generate("<KeyPress>", keysym=KEYSYMS.get(char, char))
        self.settle()

    def erase(self) -> None:
        """Empty the focused entry with BackSpace, as a person would (after a focus_set() just made has taken effect)."""
        self.settle()
        target = self.focused()
        target.icursor("end")
        for _ in range(len(target.get())):
            target.event_generate("<KeyPress-BackSpace>")
        self.settle()


@pytest.fixture
def root(tk_callback_errors):
    root = make_root("Branch Sync test")
    root.update()
    yield root
    root.update_idletasks()
    destroy_root(root)


@pytest.fixture
def gui(root, tk_callback_errors) -> Gui:
    return Gui(root, tk_callback_errors)


@pytest.fixture
def engine_threads(offices):
    """Engine threads started by a test, stopped before its offices are dropped."""
    started: list = []
    yield started
    for thread in started:
        thread.stop()


@pytest.fixture
def open_branch_window(root, engine_threads):
    """Open a branch window for a config, with its relay running; deletes are confirmed without a dialog."""
    windows: list = []

    def open_window(cfg) -> BranchWindow:
        events: queue.Queue = queue.Queue()
        relay = OutboxRelay(cfg, on_event=events.put)
        window = BranchWindow(root, cfg, relay, events)
        window.pack(fill="both", expand=True)
        window.confirm = lambda title, question: True
        relay.start()
        engine_threads.append(relay)
        windows.append(window)
        return window

    yield open_window
    for window in windows:
        window.dispose()


@pytest.fixture
def open_head_office_window(root, engine_threads):
    """Open the Head Office window in its own top-level, with its consumer running and no dialogs."""
    windows: list = []

    def open_window(cfg, size: str = "1280x800", consumer_cfg=None) -> HeadOfficeWindow:
        """``consumer_cfg`` runs the consumer with other settings than the window (fewer branches, say)."""
        events: queue.Queue = queue.Queue()
        consumer = IntakeConsumer(consumer_cfg or cfg, on_event=events.put)
        top = tk.Toplevel(root)
        top.geometry(size)
        window = HeadOfficeWindow(top, cfg, consumer, events)
        window.pack(fill="both", expand=True)
        window.confirm = lambda title, question: True
        consumer.start()
        engine_threads.append(consumer)
        windows.append(window)
        return window

    yield open_window
    for window in windows:
        window.dispose()

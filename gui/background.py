"""Work that must not run in the Tk thread, and messages that come from other threads.

Tk may only be touched from the thread that created it, and cross-thread
``event_generate`` is not reliable, so every result travels through a queue that
the Tk thread polls with ``after``:

- ``run_in_thread(widget, blocking, done)`` runs ``blocking()`` in a worker and later
  calls ``done(ok, result_or_exception)`` in the Tk thread;
- ``OneAtATime`` does the same for work repeated on a timer (a refresh): at most one
  runs, and only the latest request waiting behind it is kept;
- ``Newest`` is for reads a newer choice makes pointless (a filter changed): the new
  read starts at once instead of queueing behind a slow old one, whose result is dropped;
- ``EventPump`` drains the engine's event queue a bounded number at a time;
- ``Throttle`` runs an action once after a burst of pokes, with a delay that
  ``backed_off`` lengthens while the reads it triggers are slow.
"""
from __future__ import annotations

import queue
import threading
import time
import tkinter as tk
from collections.abc import Callable
from typing import Any

Done = Callable[[bool, Any], None]
POLL_MS = 25


def widget_alive(widget: tk.Misc) -> bool:
    """False once the widget (or the whole application) has been destroyed."""
    try:
        return bool(widget.winfo_exists())
    except tk.TclError:
        return False


def later(widget: tk.Misc, ms: int, action: Callable[[], None]) -> str:
    """Call ``action`` after ``ms`` milliseconds unless ``widget`` has been destroyed by then.

    The timer belongs to the root window: tkinter deletes a widget's callbacks when
    the widget is destroyed, and a timer firing into a deleted callback makes Tcl
    print an error instead of doing nothing.
    """

    def fire() -> None:
        if widget_alive(widget):
            action()

    return widget.nametowidget(".").after(ms, fire)


def run_in_thread(widget: tk.Misc, blocking: Callable[[], Any], done: Done) -> None:
    """Run ``blocking()`` in a daemon thread; call ``done(ok, value)`` in the Tk thread.

    ``value`` is the result, or the exception raised.  When ``widget`` is destroyed
    first, ``done`` is never called.
    """
    box: queue.Queue = queue.Queue(maxsize=1)

    def work() -> None:
        try:
            box.put((True, blocking()))
        except BaseException as exc:  # noqa: BLE001 - handed to done() to be put into words
            box.put((False, exc))

    def poll() -> None:
        try:
            ok, value = box.get_nowait()
        except queue.Empty:
            later(widget, POLL_MS, poll)
            return
        done(ok, value)

    threading.Thread(target=work, daemon=True, name="gui-worker").start()
    later(widget, POLL_MS, poll)


class OneAtATime:
    """Runs one kind of background work with at most one copy in flight.

    A request made while one runs is remembered (replacing any older waiting one)
    and started when the running one ends, so a slow database never piles up threads
    and the newest request always wins.
    """

    def __init__(self, widget: tk.Misc):
        self.widget = widget
        self.running = False
        self._waiting: tuple[Callable[[], Any], Done] | None = None

    def submit(self, blocking: Callable[[], Any], done: Done) -> None:
        """Start ``blocking`` now, or as soon as the one in flight has finished."""
        if self.running:
            self._waiting = (blocking, done)
            return
        self.running = True

        def finished(ok: bool, value: Any) -> None:
            self.running = False
            waiting, self._waiting = self._waiting, None
            if waiting is not None:
                self.submit(*waiting)  # its result supersedes this one
                return
            done(ok, value)

        run_in_thread(self.widget, blocking, finished)


class Newest:
    """Runs reads of which only the newest matters, and records how long they take.

    ``submit`` starts at once while fewer than ``parallel`` reads are in flight
    (otherwise it waits, replacing any older waiting read); ``done`` is called only
    for the newest read submitted, so a slow read for an old filter never
    overwrites, or holds up, the answer for the new one.
    """

    def __init__(self, widget: tk.Misc, parallel: int = 2, clock: Callable[[], float] = time.monotonic):
        self.widget, self.parallel, self.clock = widget, parallel, clock
        self.in_flight = 0
        self.last_seconds: float | None = None   # how long the last read that finished took
        self._newest = 0
        self._waiting: tuple[int, Callable[[], Any], Done] | None = None

    @property
    def pending(self) -> bool:
        """Whether the newest read has not answered yet."""
        return self.in_flight > 0 or self._waiting is not None

    def submit(self, blocking: Callable[[], Any], done: Done) -> None:
        """Read now (or as soon as a slot frees); only the newest read's ``done`` is ever called."""
        self._newest += 1
        if self.in_flight >= self.parallel:
            self._waiting = (self._newest, blocking, done)
            return
        self._waiting = None
        self._start(self._newest, blocking, done)

    def _start(self, number: int, blocking: Callable[[], Any], done: Done) -> None:
        self.in_flight += 1
        started = self.clock()

        def finished(ok: bool, value: Any) -> None:
            self.in_flight -= 1
            self.last_seconds = self.clock() - started
            if self._waiting is not None:
                waiting, self._waiting = self._waiting, None
                self._start(*waiting)
            if number == self._newest:
                done(ok, value)

        run_in_thread(self.widget, blocking, finished)


def backed_off(base_ms: int, last_seconds: float | None, factor: float = 3.0, cap_ms: int = 60_000) -> int:
    """How long a live refresh waits: ``base_ms``, or ``factor`` times the last read's duration when that
    is longer (a read that takes 2 s is repeated at most every 6 s), never more than ``cap_ms``."""
    if last_seconds is None:
        return base_ms
    return int(min(cap_ms, max(base_ms, factor * last_seconds * 1000)))


class EventPump:
    """Drains a queue of engine events in the Tk thread, ``per_tick`` at most every ``every_ms``."""

    def __init__(self, widget: tk.Misc, events: queue.Queue, handle: Callable[[object], None],
                 every_ms: int = 100, per_tick: int = 100):
        self.widget, self.events, self.handle = widget, events, handle
        self.every_ms, self.per_tick = every_ms, per_tick

    def start(self) -> EventPump:
        later(self.widget, self.every_ms, self._tick)
        return self

    def drain(self) -> int:
        """Handle up to ``per_tick`` waiting events now; returns how many."""
        handled = 0
        while handled < self.per_tick:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            self.handle(event)
            handled += 1
        return handled

    def _tick(self) -> None:
        try:
            self.drain()
        finally:
            # Rescheduled even if a handler failed, so one bad event cannot freeze the window.
            later(self.widget, self.every_ms, self._tick)


class Throttle:
    """Calls ``action`` once, ``delay_ms`` after the first of any number of ``poke()`` calls.

    ``delay_ms`` may be changed at any time (see ``backed_off``); it applies from the next poke.
    """

    def __init__(self, widget: tk.Misc, delay_ms: int, action: Callable[[], None]):
        self.widget, self.delay_ms, self.action = widget, delay_ms, action
        self._pending = False

    def poke(self) -> None:
        if not self._pending:
            self._pending = True
            later(self.widget, self.delay_ms, self._fire)

    def _fire(self) -> None:
        self._pending = False
        self.action()


def every(widget: tk.Misc, ms: int, action: Callable[[], None]) -> None:
    """Call ``action`` every ``ms`` milliseconds for as long as ``widget`` exists."""

    def tick() -> None:
        try:
            action()
        finally:
            later(widget, ms, tick)

    later(widget, ms, tick)

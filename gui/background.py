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
- ``Throttle`` runs an action once after a burst of pokes;
- ``LiveRefresh`` is for refreshes that rows arriving ask for: pokes are merged, a
  refresh never starts while the reads it makes are still running, and the next one
  waits at least ``backed_off`` (the gap, or five times the last refresh's duration).
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


def backed_off(base_ms: int, last_seconds: float | None, factor: float = 5.0, cap_ms: int = 60_000) -> int:
    """How long a live refresh waits: ``base_ms``, or ``factor`` times the last read's duration when that
    is longer (a read that takes 2 s is repeated at most every 10 s), never more than ``cap_ms``."""
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


class LiveRefresh:
    """A refresh that rows arriving ask for (``poke``): merged, never run over itself, backing off when slow.

    ``start()`` begins the refresh (it submits reads to workers); ``busy()`` says whether
    reads it makes are still running (its own, or a newer filter's).  After a poke the
    refresh starts ``settle_ms`` later at the earliest (so a burst of pokes is one
    refresh), never while ``busy()``, and never sooner than ``backed_off(gap_ms, d, factor)``
    after the previous one ended, ``d`` being how long that one took: with the defaults a
    refresh of 0.1 s may run every 2 s, one of 4 s only every 20 s, however often rows arrive.
    """

    CHECK_MS = 50   # how often a running refresh is looked at to see whether it has ended

    def __init__(self, widget: tk.Misc, start: Callable[[], None], busy: Callable[[], bool], gap_ms: int,
                 factor: float = 5.0, settle_ms: int = 250, clock: Callable[[], float] = time.monotonic):
        self.widget, self.start, self.busy = widget, start, busy
        self.gap_ms, self.factor, self.settle_ms, self.clock = gap_ms, factor, settle_ms, clock
        self.runs = 0                              # refreshes started
        self.last_seconds: float | None = None     # how long the last one took, from start to no read running
        self._wanted = self._timer = self._running = False
        self._started = 0.0
        self._ended: float | None = None

    def poke(self) -> None:
        """Rows arrived: refresh when the rules allow."""
        self._wanted = True
        self._schedule()

    def wait_ms(self) -> int:
        """How long after the last refresh ended the next may start."""
        return backed_off(self.gap_ms, self.last_seconds, self.factor)

    def _schedule(self) -> None:
        if self._timer or self._running or not self._wanted:
            return
        delay = self.settle_ms
        if self._ended is not None:
            delay = max(delay, int((self._ended + self.wait_ms() / 1000 - self.clock()) * 1000))
        self._timer = True
        later(self.widget, delay, self._fire)

    def _fire(self) -> None:
        if self.busy():       # a read of the same views (a new filter, F5) is still running: start after it
            later(self.widget, self.CHECK_MS, self._fire)
            return
        self._timer, self._wanted, self._running = False, False, True
        self._started = self.clock()
        self.runs += 1
        try:
            self.start()
        finally:
            self._check()

    def _check(self) -> None:
        if self.busy():
            later(self.widget, self.CHECK_MS, self._check)
            return
        self._running = False
        self._ended = self.clock()
        self.last_seconds = self._ended - self._started
        self._schedule()

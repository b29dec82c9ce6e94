"""The Head Office window's process, with a probe that measures its event-loop lag.

    python -m bench.tkprobe HO_CONFIG.toml

Runs the Head Office consumer as a thread of this process, as the window does,
and a Tk window that drains the consumer's events from a queue with ``after``.
Prints ``probe ready`` once the consumer is online; after a line ``go`` it
schedules a tick every TICK_MS and records how late each one runs; after a line
``stop`` it prints one JSON line with the lags and exits.

The window is ``gui.head_office_window.HeadOfficeWindow`` when gui/ has it;
otherwise a plain stand-in that polls the queue the way the window is specified
to (every POLL_MS, updating a table of branches).  The JSON says which one ran.
"""
from __future__ import annotations

import json
import queue
import sys
import threading
import time
import tkinter as tk
from tkinter import ttk

from sync import events
from sync.intake import IntakeConsumer
from sync.office import load_or_exit

TICK_MS = 20
POLL_MS = 50
PER_POLL = 200  # events handled per poll at most, so one poll never runs long


class PlainHeadOfficeWindow:
    """A stand-in window: per-branch totals in a Treeview, fed from the engine's events."""

    def __init__(self, root: tk.Tk, cfg, inbox: queue.Queue):
        self.root, self.inbox = root, inbox
        self.totals: dict[str, int] = {}
        self.status = ttk.Label(root, text="starting")
        self.status.pack(fill="x")
        self.table = ttk.Treeview(root, columns=("rows",), height=12)
        self.table.pack(fill="both", expand=True)
        for code in cfg.branches:
            self.table.insert("", "end", iid=code, text=code, values=(0,))
        root.after(POLL_MS, self.poll)

    def poll(self) -> None:
        for _ in range(PER_POLL):
            try:
                event = self.inbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(event, events.RowsApplied):
                self.totals[event.branch] = self.totals.get(event.branch, 0) + event.upserts + event.deletes
                self.table.item(event.branch, values=(self.totals[event.branch],))
            elif isinstance(event, events.ConsumerStatus):
                self.status.configure(text=event.state)
        self.root.after(POLL_MS, self.poll)


def _window(cfg, consumer: IntakeConsumer, inbox: queue.Queue) -> tuple[tk.Tk, str]:
    """The Head Office window when gui/ has it, else the plain stand-in; and which one it is."""
    try:
        from gui.app import make_root
        from gui.head_office_window import HeadOfficeWindow
    except ImportError as exc:
        root = tk.Tk()
        root.geometry("1280x800")
        PlainHeadOfficeWindow(root, cfg, inbox)
        return root, f"plain stand-in polling a queue ({exc})"
    root = make_root(f"{cfg.name} (benchmark)")
    HeadOfficeWindow(root, cfg, consumer, inbox).pack(fill="both", expand=True)
    return root, "gui.head_office_window.HeadOfficeWindow"


class LagProbe:
    """Schedules a tick every TICK_MS and records how late each one ran, in ms."""

    def __init__(self, root: tk.Tk):
        self.root, self.lags = root, []
        self._due = 0.0

    def start(self) -> None:
        self._due = time.perf_counter() + TICK_MS / 1000
        self.root.after(TICK_MS, self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.lags.append(max(0.0, (now - self._due) * 1000))
        self._due = now + TICK_MS / 1000
        self.root.after(TICK_MS, self._tick)


def main(argv: list[str]) -> int:
    cfg = load_or_exit(argv[0], role="head_office")
    inbox: queue.Queue = queue.Queue()
    online = threading.Event()

    def on_event(event) -> None:
        inbox.put(event)
        if isinstance(event, events.ConsumerStatus) and event.state == events.ONLINE:
            online.set()

    consumer = IntakeConsumer(cfg, on_event=on_event)
    root, which = _window(cfg, consumer, inbox)
    consumer.start()
    commands: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [commands.put(line.strip()) for line in sys.stdin], daemon=True).start()
    probe = LagProbe(root)

    announced = False

    def control() -> None:
        nonlocal announced
        if online.is_set() and not announced:
            announced = True
            print("probe ready", flush=True)
        while not commands.empty():
            command = commands.get()
            if command == "go":
                probe.start()
            elif command == "stop":
                print(json.dumps({"window": which, "lags_ms": probe.lags}), flush=True)
                root.quit()
                return
        root.after(100, control)

    root.after(100, control)
    root.mainloop()
    consumer.stop()
    root.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

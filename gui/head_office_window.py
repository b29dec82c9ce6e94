"""The manager's window at the Head Office: every branch's sales, filling in live as the consumer applies them.

It composes the consolidated sales (``SalesView``), the dead letters, the branch
panel and the chart, and wires them to the consumer: the consumer's events come
through a queue drained with ``after``, and every read runs in a worker thread.
"""
from __future__ import annotations

import datetime as dt
import queue
import tkinter as tk
from collections.abc import Callable
from tkinter import messagebox, ttk
from typing import Protocol

from config import OfficeConfig
from gui.app import run_window, window_engine
from gui.background import EventPump, OneAtATime, Throttle, every, later, run_in_thread
from gui.branch_panel import BranchPanel
from gui.chart import SalesChart
from gui.dead_letters import DeadLetterView
from gui.formats import database_problem, plural, sentence
from gui.sales_view import SalesView
from gui.theme import BAR, TONES, paint
from gui.widgets import Banner, StatusBar
from models.head_office_view import daily_totals, filter_choices, parked_dead_letters
from sync import events as ev
from sync.intake import discard_dead_letter
from sync.status import branch_progress

LIVE_DELAY_MS = 400         # rows applied -> the page re-read at most this late
SUMMARY_DELAY_MS = 3000     # totals, chart and branch panel read a lot more, so less often
SIDE_REFRESH_MS = 10_000    # branch panel and dead letters, even when nothing arrives
SIDE_WIDTH = 340
CONSUMER_WORDS = {ev.ONLINE: ("● Receiving", "good"), ev.OFFLINE: ("● Offline", "bad"), ev.STOPPED: ("● Stopped", "muted")}


class IntakeControl(Protocol):
    """The part of ``sync.intake.IntakeConsumer`` the window uses."""

    def request_sync(self) -> None: ...

    def retry_dead_letter(self, dead_letter_id: int) -> None: ...


def ask_yes_no(title: str, question: str) -> bool:
    return messagebox.askyesno(title, question, icon="warning", default="no")


class HeadOfficeWindow(ttk.Frame):
    """The consolidated sales and dead letters on the left, the branches and a chart on the right.

    ``confirm(title, question) -> bool`` asks before a discard; tests replace it
    (and ``sales.ask_export_path``) to answer without a dialog.
    """

    def __init__(self, master: tk.Misc, cfg: OfficeConfig, consumer: IntakeControl, events: queue.Queue, engine=None):
        super().__init__(master)
        self.cfg, self.consumer = cfg, consumer
        self.engine = engine or window_engine(cfg.db_url)
        self.confirm: Callable[[str, str], bool] = ask_yes_no
        self.database_down = False
        self._chart_job, self._panel_job, self._letters_job = OneAtATime(self), OneAtATime(self), OneAtATime(self)
        self.winfo_toplevel().title(f"{cfg.name} — Branch Sync")

        self._build_header().grid(row=0, column=0, sticky="ew")
        self.banner = Banner(self)
        self.banner.grid(row=1, column=0, sticky="ew")
        self.banner.hide()
        body = ttk.Frame(self, padding=(20, 12, 20, 12))
        body.grid(row=2, column=0, sticky="nsew")
        self.notebook = ttk.Notebook(body)
        self.notebook.grid(row=0, column=0, sticky="nsew")
        self.sales = SalesView(self.notebook, self.engine, cfg.branches, say=self.say, problem=self._database_failed,
                               answered=self._database_answered, on_filter=lambda _f: self.reload_chart())
        self.notebook.add(self.sales, text="Sales")
        self.dead_letters = DeadLetterView(self.notebook, self.retry_dead_letter, self.discard_dead_letter)
        self.notebook.add(self.dead_letters, text="Dead letters")
        self._build_side(body).grid(row=0, column=1, sticky="nsew", padx=(20, 0))
        body.columnconfigure(0, weight=1)
        body.rowconfigure(0, weight=1)
        self.status = StatusBar(self, ["consumer", "applied", "letters", "message"], stretch="message")
        self.status.grid(row=3, column=0, sticky="ew")
        self.status.set("consumer", "● Starting…", "muted")
        self.columnconfigure(0, weight=1)
        self.rowconfigure(2, weight=1)

        self._live = Throttle(self, LIVE_DELAY_MS, self.sales.refresh)
        self._summaries = Throttle(self, SUMMARY_DELAY_MS, self.reload_summaries)
        self.pump = EventPump(self, events, self.handle_event).start()
        every(self, SIDE_REFRESH_MS, self.reload_side)
        every(self, 30_000, self.branch_panel.tick)
        self.sales.load_page(self.sales.position)
        self.reload_summaries()
        self.reload_side()

    # ------------------------------------------------------------ layout
    def _build_header(self) -> ttk.Frame:
        bar = ttk.Frame(self, style="Bar.TFrame", padding=(20, 12))
        titles = ttk.Frame(bar, style="Bar.TFrame")
        titles.pack(side="left")
        ttk.Label(titles, text=self.cfg.name, style="Title.TLabel", background=BAR).pack(anchor="w")
        ttk.Label(titles, text=f"Consolidated sales of {plural(len(self.cfg.branches), 'branch', 'branches')}",
                  style="Caption.TLabel", background=BAR, foreground=TONES["muted"]).pack(anchor="w")
        self.sync_button = ttk.Button(bar, text="Sync now", style="Accent.TButton", command=self.sync_now)
        self.sync_button.pack(side="right")
        self.message = ttk.Label(bar, style="Caption.TLabel", background=BAR, wraplength=520, justify="right")
        self.message.pack(side="right", padx=12)
        return bar

    def _build_side(self, master: tk.Misc) -> ttk.Frame:
        frame = ttk.Frame(master)
        ttk.Label(frame, text="Branches", style="Section.TLabel").grid(row=0, column=0, sticky="w", pady=(4, 6))
        silent = dt.timedelta(minutes=self.cfg.silent_after_minutes)
        self.branch_panel = BranchPanel(frame, silent, rows=len(self.cfg.branches))
        self.branch_panel.grid(row=1, column=0, sticky="ew")
        ttk.Label(frame, text=f"A branch is marked silent after {plural(self.cfg.silent_after_minutes, 'minute')} "
                              "without a change applied.", style="Caption.TLabel", foreground=TONES["muted"],
                  wraplength=SIDE_WIDTH).grid(row=2, column=0, sticky="w", pady=(4, 16))
        ttk.Label(frame, text="Sales per day (Total)", style="Section.TLabel").grid(row=3, column=0, sticky="w", pady=(0, 6))
        self.chart = SalesChart(frame, self.cfg.branches, width=SIDE_WIDTH)
        self.chart.grid(row=4, column=0, sticky="nsew")
        frame.columnconfigure(0, weight=1, minsize=SIDE_WIDTH)
        frame.rowconfigure(4, weight=1)
        return frame

    # ------------------------------------------------------------ engine events
    def handle_event(self, event: object) -> None:
        """React to one event from the consumer."""
        if isinstance(event, ev.RowsApplied):
            parts = [f"{event.upserts:,} saved"] + ([f"{event.deletes:,} deleted"] if event.deletes else [])
            self.status.set("applied", f"Last applied {event.at:%H:%M:%S}: {event.branch}, {', '.join(parts)}")
            self._live.poke()
            self._summaries.poke()
        elif isinstance(event, ev.DeadLettered):
            self.status.set("message", f"A message from {event.branch or 'an unknown sender'} was parked: "
                                       f"{sentence(event.reason)}", "bad")
        elif isinstance(event, ev.DeadLetterRecorded):
            self.reload_side()
        elif isinstance(event, ev.ConsumerStatus):
            words, tone = CONSUMER_WORDS.get(event.state, (f"● {event.state.capitalize()}", "warn"))
            self.status.set("consumer", words, tone)
            if event.error:
                self.status.set("message", f"{event.at:%H:%M:%S} {sentence(event.error)}", "bad" if tone != "good" else "muted")

    # ------------------------------------------------------------ reading
    def reload_summaries(self) -> None:
        """Re-read the totals line, the chart and the branch panel."""
        self.sales.reload_totals()
        self.reload_chart()
        self._panel_job.submit(lambda: branch_progress(self.engine), self._panel_loaded)

    def reload_chart(self) -> None:
        """Re-read the chart for the sales filter."""
        filt = self.sales.filter

        def done(ok: bool, value) -> None:
            if ok and filt == self.sales.filter:
                self.chart.show(value)

        self._chart_job.submit(lambda: daily_totals(self.engine, filt), done)

    def reload_side(self) -> None:
        """Re-read the branch panel, the dead letters and the filter lists."""
        self._panel_job.submit(lambda: branch_progress(self.engine), self._panel_loaded)
        self._letters_job.submit(lambda: (parked_dead_letters(self.engine), filter_choices(self.engine)), self._letters_loaded)

    def _panel_loaded(self, ok: bool, value) -> None:
        if not ok:
            self._database_failed(value)
            return
        self._database_answered()
        self.branch_panel.show(value)

    def _letters_loaded(self, ok: bool, value) -> None:
        if not ok:
            self._database_failed(value)
            return
        letters, choices = value
        self.dead_letters.show(letters)
        self.notebook.tab(self.dead_letters, text=f"Dead letters ({len(letters):,})" if letters else "Dead letters")
        self.status.set("letters", f"{plural(len(letters), 'dead letter')} parked" if letters else "No dead letters",
                        "bad" if letters else "normal")
        self.sales.filter_bar.set_choices(choices)

    # ------------------------------------------------------------ actions
    def sync_now(self) -> None:
        """Ask every connected branch to send what it has now."""
        self.consumer.request_sync()
        self.sync_button.configure(state="disabled")
        later(self, 3000, lambda: self.sync_button.configure(state="normal"))
        self.say(f"Asked every connected branch to send what it has now ({dt.datetime.now():%H:%M:%S}).", "good")

    def retry_dead_letter(self, dead_letter_id: int) -> None:
        """Put a dead letter back on the intake queue (the consumer thread does it)."""
        self.consumer.retry_dead_letter(dead_letter_id)
        self.say(f"Dead letter #{dead_letter_id} goes back to the intake queue; if it fails again it is parked again.", "busy")
        later(self, 1000, self.reload_side)

    def discard_dead_letter(self, dead_letter_id: int) -> None:
        """Mark a dead letter discarded, after asking; it stays on record."""
        if not self.confirm("Discard dead letter", f"Discard dead letter #{dead_letter_id}?\n\n"
                            "Its changes will not be applied. It stays on record as discarded."):
            return

        def done(ok: bool, value) -> None:
            if not ok:
                self._database_failed(value)
                return
            self.say(f"Discarded dead letter #{dead_letter_id}." if value else
                     f"Dead letter #{dead_letter_id} was already retried or discarded.", "good")
            self.reload_side()

        run_in_thread(self, lambda: discard_dead_letter(self.engine, dead_letter_id), done)

    def say(self, text: str, tone: str) -> None:
        """Show a sentence in the header, coloured by tone."""
        self.message.configure(text=text)
        paint(self.message, tone)

    # ------------------------------------------------------------ database health
    def _database_failed(self, exc: BaseException) -> None:
        self.database_down = True
        problem, cause = database_problem(exc, self.cfg.name)
        self.banner.show(f"{problem} What is on screen may be out of date; it updates by itself when the database "
                         "answers again.", cause)

    def _database_answered(self) -> None:
        if self.database_down:
            self.database_down = False
            self.banner.hide()

    def dispose(self) -> None:
        """Release the window's database connections."""
        self.engine.dispose()


def run_head_office_window(cfg: OfficeConfig) -> int:
    """The Head Office program with a window: the consumer runs beside it and stops when it closes."""
    from sync.intake import IntakeConsumer

    def build(root: tk.Tk, events: queue.Queue):
        consumer = IntakeConsumer(cfg, on_event=events.put)
        return HeadOfficeWindow(root, cfg, consumer, events), consumer

    return run_window(f"{cfg.name} — Branch Sync", build)

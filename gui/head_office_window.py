"""The manager's window at the Head Office: every branch's sales, filling in live as the consumer applies them.

It composes the filter, the consolidated sales (``SalesView``), their subtotals
(``SummaryView``), the dead letters, the branch panel and the chart, and wires
them to the consumer: the consumer's events come through a queue drained with
``after``, and every read runs in a worker thread.  A new filter is read at once and
the late answers of the old one are dropped; until its own figures arrive the old
ones are marked as updating.  Live refreshes are merged, never run over a read still
running, and back off while reads are slow (``LiveRefresh``).

Keys: F5 refreshes, Ctrl+F goes to the filter, Ctrl+E exports the tab shown.
"""
from __future__ import annotations

import datetime as dt
import queue
import tkinter as tk
from collections.abc import Callable
from tkinter import messagebox, ttk
from typing import Protocol

from config import OfficeConfig
from gui.alerts_view import AlertsView
from gui.app import run_window, window_engine
from gui.background import EventPump, LiveRefresh, Newest, OneAtATime, every, later, run_in_thread
from gui.branch_panel import BranchPanel
from gui.catalogue_view import CatalogueView
from gui.chart import SalesChart
from gui.day_close_view import DayCloseView
from gui.dead_letters import DeadLetterView
from gui.filter_bar import FilterBar
from gui.formats import database_problem, plural
from gui.keys import bind_shortcuts, focus_and_select
from gui.notice import Notice, Words
from gui.sales_view import SalesView
from gui.summary_view import SummaryView
from gui.sync_words import manager_words
from gui.theme import BAR, TONES
from gui.widgets import Banner, StatusBar
from models.head_office_view import SalesFilter, daily_totals, filter_choices
from sync import events as ev
from sync.dead_letters import discard as discard_dead_letter
from sync.dead_letters import parked
from sync.letter_contents import read_letter
from sync.status import branch_progress

# Rows applied -> the page, then the totals, chart, subtotals and branch panel, re-read: never over a read still
# running, and the next no sooner than max(gap, 5 x the last refresh's duration) after it (gui.background.LiveRefresh).
LIVE_PAGE_GAP_MS = 1000
LIVE_SUMMARY_GAP_MS = 2000
LIVE_BACKOFF = 5.0
SIDE_REFRESH_MS = 10_000    # branch panel and dead letters, even when nothing arrives
SIDE_SHARE, SIDE_LEAST, SIDE_MOST = 0.25, 256, 440   # the side panel's share of the width, in pixels at least/most
CONSUMER_WORDS = {ev.ONLINE: ("● Receiving", "good"), ev.OFFLINE: ("● Not receiving", "warn"), ev.STOPPED: ("● Stopped", "muted")}
KEYS_HINT = "F5 refresh · Ctrl+F filter · Ctrl+E export"
SIDE_FIXED_HEIGHT, ROW_HEIGHT = 200, 28   # the side panel's titles and captions; a table row (roughly)


class IntakeControl(Protocol):
    """The part of ``sync.intake.IntakeConsumer`` the window uses."""

    def request_sync(self) -> None: ...

    def retry_dead_letter(self, dead_letter_id: int) -> None: ...


def ask_yes_no(title: str, question: str) -> bool:
    return messagebox.askyesno(title, question, icon="warning", default="no")


def side_width(window_width: int) -> int:
    """How wide the side panel is in a window this wide."""
    return max(SIDE_LEAST, min(SIDE_MOST, int(window_width * SIDE_SHARE)))


class HeadOfficeWindow(ttk.Frame):
    """The filter, then the sales, their subtotals, the dead letters and the alerts on the left; the branches and a chart
    on the right.

    ``confirm(title, question) -> bool`` asks before a discard; tests replace it
    (and ``sales.ask_export_path``/``summary.ask_export_path``) to answer without a dialog.
    """

    def __init__(self, master: tk.Misc, cfg: OfficeConfig, consumer: IntakeControl, events: queue.Queue, engine=None):
        super().__init__(master)
        self.cfg, self.consumer = cfg, consumer
        self.engine = engine or window_engine(cfg.db_url)
        self.confirm: Callable[[str, str], bool] = ask_yes_no
        self.database_down = False
        self._consumer_notice = False   # the header says the consumer cannot receive
        self.names: dict[str, str] = dict(cfg.branches)   # code -> name, completed from sync_branches
        self._chart_job = Newest(self)
        self._panel_job, self._letters_job = OneAtATime(self), OneAtATime(self)
        self.winfo_toplevel().title(f"{cfg.name} — Branch Sync")

        self._build_header().grid(row=0, column=0, sticky="ew")
        self.banner = Banner(self)
        self.banner.grid(row=1, column=0, sticky="ew")
        self.banner.hide()
        self.body = ttk.Frame(self, padding=(14, 10, 14, 10))
        self.body.grid(row=2, column=0, sticky="nsew")
        self._build_main(self.body).grid(row=0, column=0, sticky="nsew")
        self.side = self._build_side(self.body)
        self.side.grid(row=0, column=1, sticky="nsew", padx=(14, 0))
        self.body.columnconfigure(0, weight=1)
        self.body.rowconfigure(0, weight=1)
        self.body.bind("<Configure>", lambda e: self._fit_side(e.width, e.height))
        self.status = StatusBar(self, ["consumer", "applied", "letters", "message"], stretch="message")
        self.status.grid(row=3, column=0, sticky="ew")
        self.status.set("consumer", "● Starting…", "muted")
        self.columnconfigure(0, weight=1)
        self.rowconfigure(2, weight=1)
        bind_shortcuts(self, {"<F5>": self.refresh_all, "<Control-f>": self.find, "<Control-F>": self.find,
                              "<Control-e>": self.export_shown, "<Control-E>": self.export_shown})

        self.live_page = LiveRefresh(self, self.sales.refresh, lambda: self.sales.page_pending, LIVE_PAGE_GAP_MS,
                                     LIVE_BACKOFF)
        self.live_summaries = LiveRefresh(self, self.reload_summaries, self._summaries_pending, LIVE_SUMMARY_GAP_MS,
                                          LIVE_BACKOFF)
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
        ttk.Label(titles, text=f"Consolidated sales of {plural(len(self.cfg.branches), 'branch', 'branches')} · {KEYS_HINT}",
                  style="Caption.TLabel", background=BAR, foreground=TONES["muted"]).pack(anchor="w")
        self.sync_button = ttk.Button(bar, text="Sync now", style="Accent.TButton", command=self.sync_now)
        self.sync_button.pack(side="right")
        self.notice = Notice(bar, wraplength=460, background=BAR, frame_style="Bar.TFrame")
        self.notice.pack(side="right", padx=12)
        return bar

    @property
    def message(self) -> ttk.Label:
        """The sentence in the header."""
        return self.notice.label

    def _build_main(self, master: tk.Misc) -> ttk.Frame:
        main = ttk.Frame(master)
        self.filter_bar = FilterBar(main, self.names, self.set_filter)
        self.filter_bar.grid(row=0, column=0, sticky="ew", pady=(0, 8))
        self.notebook = ttk.Notebook(main)
        self.notebook.grid(row=1, column=0, sticky="nsew")
        self.sales = SalesView(self.notebook, self.engine, self.branch_name, say=self.say, problem=self._database_failed,
                               answered=self._database_answered)
        self.notebook.add(self.sales, text="Sales")
        self.summary = SummaryView(self.notebook, self.engine, self.branch_name, say=self.say,
                                   problem=self._database_failed, answered=self._database_answered)
        self.notebook.add(self.summary, text="Subtotals")
        self.dead_letters = DeadLetterView(self.notebook, self.retry_dead_letter, self.discard_dead_letter,
                                           read_letter=lambda letter_id: read_letter(self.engine, letter_id, self.cfg),
                                           branch_name=self.branch_name)
        self.notebook.add(self.dead_letters, text="Dead letters")
        self.day_close = DayCloseView(self.notebook, self.engine, self.names, self.cfg.name)
        self.notebook.add(self.day_close, text="Day close")
        self.alerts = AlertsView(self.notebook, self.engine, self.branch_name, on_loaded=self._alerts_loaded,
                                 on_failed=self._database_failed)
        self.notebook.add(self.alerts, text="Alerts")
        self.catalogue = CatalogueView(self.notebook, self.engine, confirm=lambda t, q: self.confirm(t, q))
        self.notebook.add(self.catalogue, text="Catalogue")
        self.notebook.bind("<<NotebookTabChanged>>", lambda e: self._tab_changed())
        main.columnconfigure(0, weight=1)
        main.rowconfigure(1, weight=1)
        return main

    def _build_side(self, master: tk.Misc) -> ttk.Frame:
        frame = ttk.Frame(master, width=SIDE_LEAST)
        frame.grid_propagate(False)   # as wide as _fit_side says, whatever its contents ask for
        ttk.Label(frame, text="Branches", style="Section.TLabel").grid(row=0, column=0, sticky="w", pady=(4, 4))
        silent = dt.timedelta(minutes=self.cfg.silent_after_minutes)
        self.branch_panel = BranchPanel(frame, silent, rows=len(self.cfg.branches))
        self.branch_panel.grid(row=1, column=0, sticky="ew")
        self.silent_caption = ttk.Label(frame, text=f"Silent: no change applied for {plural(self.cfg.silent_after_minutes, 'minute')}.",
                                        style="Caption.TLabel", foreground=TONES["muted"], wraplength=SIDE_LEAST)
        self.silent_caption.grid(row=2, column=0, sticky="w", pady=(2, 10))
        ttk.Label(frame, text="Total per day", style="Section.TLabel").grid(row=3, column=0, sticky="w", pady=(0, 2))
        self.chart = SalesChart(frame, self.names, width=SIDE_LEAST, height=160)
        self.chart.grid(row=4, column=0, sticky="nsew")
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(4, weight=1)
        return frame

    def _fit_side(self, body_width: int, body_height: int) -> None:
        # Rows of the branch table: what the height leaves after the chart's fair share.
        self.branch_panel.fit_rows((body_height - SIDE_FIXED_HEIGHT) // 2 // ROW_HEIGHT)
        width = side_width(body_width)
        if int(str(self.side.cget("width"))) != width:
            self.side.configure(width=width)
            self.silent_caption.configure(wraplength=width - 4)

    def branch_name(self, code: str) -> str:
        """A branch's name, or its code when the Head Office knows no name for it."""
        return self.names.get(code) or code

    # ------------------------------------------------------------ engine events
    def handle_event(self, event: object) -> None:
        """React to one event from the consumer."""
        match event:
            case ev.RowsApplied():
                self._rows_applied(event)
            case ev.DeadLettered(branch=branch):
                who = self.branch_name(branch) if branch else "an unknown sender"
                self.status.set("message", f"A message from {who} could not be applied: see Dead letters.", "bad")
                self.reload_side()
            case ev.ConsumerStatus():
                self._consumer_changed(event)

    def _rows_applied(self, event: ev.RowsApplied) -> None:
        parts = [f"{event.upserts:,} saved"] + ([f"{event.deletes:,} deleted"] if event.deletes else [])
        self.status.set("applied", f"Last applied {event.at:%H:%M:%S}: {self.branch_name(event.branch)}, {', '.join(parts)}")
        self.live_page.poke()
        self.live_summaries.poke()

    def _consumer_changed(self, event: ev.ConsumerStatus) -> None:
        words, tone = CONSUMER_WORDS.get(event.state, (f"● {event.state.capitalize()}", "warn"))
        self.status.set("consumer", words, tone)
        notice = manager_words(event)
        if notice is not None:
            self._consumer_notice = True
            self.notice.show(notice)
        elif event.state == ev.ONLINE and self._consumer_notice:
            self._consumer_notice = False
            self.notice.clear()       # receiving again: the worry is over

    def _summaries_pending(self) -> bool:
        """Whether a read of the totals, the chart, the subtotals or the branch panel is still running."""
        return (self.sales.totals_pending or self._chart_job.pending or self.summary.pending
                or self._panel_job.running)

    # ------------------------------------------------------------ reading
    def set_filter(self, filt: SalesFilter) -> None:
        """A new filter: every view follows it at once, marking its old figures as updating until then."""
        self.sales.set_filter(filt)
        self.chart.set_updating()
        self.reload_chart()
        self.summary.filter = filt
        if self._summary_shown():
            self.summary.reload()

    def reload_summaries(self) -> None:
        """Re-read the totals line, the chart, the subtotals (when shown) and the branch panel."""
        self.sales.reload_totals()
        self.reload_chart()
        if self._summary_shown():
            self.summary.reload()
        self._panel_job.submit(lambda: branch_progress(self.engine), self._panel_loaded)

    def reload_chart(self) -> None:
        """Re-read the chart for the filter."""
        filt = self.sales.filter

        def done(ok: bool, value) -> None:
            if ok and filt == self.sales.filter:
                self.chart.show(value, filtered=filt != SalesFilter())

        self._chart_job.submit(lambda: daily_totals(self.engine, filt), done)

    def reload_side(self) -> None:
        """Re-read the branch panel, the dead letters and the filter lists."""
        self._panel_job.submit(lambda: branch_progress(self.engine), self._panel_loaded)
        self._letters_job.submit(lambda: (parked(self.engine), filter_choices(self.engine)), self._letters_loaded)
        self.alerts.reload()

    def refresh_all(self) -> None:
        """F5: read everything on screen again now."""
        self.sales.refresh()
        self.reload_summaries()
        self.reload_side()
        if self.day_close.winfo_viewable():
            self.day_close.refresh()

    def _panel_loaded(self, ok: bool, value) -> None:
        if not ok:
            self._database_failed(value)
            return
        self._database_answered()
        learned = {p.code: p.name for p in value if p.name and p.code not in self.names}
        if learned:   # branches the Head Office knows beyond its configuration: name them everywhere
            self.names.update(learned)
            self.filter_bar.set_branches(self.names)
            self.sales.redraw()
            self.chart.draw()
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
        self.filter_bar.set_choices(choices)

    def _alerts_loaded(self, active: int) -> None:
        self.notebook.tab(self.alerts, text=f"Alerts ({active:,})" if active else "Alerts")

    def _summary_shown(self) -> bool:
        return self.notebook.select() == str(self.summary)

    def _tab_changed(self) -> None:
        if self._summary_shown() and self.summary.updating:
            self.summary.reload()

    # ------------------------------------------------------------ actions
    def find(self) -> None:
        """Ctrl+F: to the first filter field."""
        focus_and_select(self.filter_bar.first_field)

    def export_shown(self) -> None:
        """Ctrl+E: export what the tab shown holds (the sales, or the subtotals)."""
        if self._summary_shown():
            self.summary.export_csv()
        elif self.notebook.select() == str(self.sales):
            self.sales.export_csv()

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
        self.notice.show(Words(text, tone))

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
    from config import HeadOfficeConfig
    from sync.head_office import HeadOfficeService

    assert isinstance(cfg, HeadOfficeConfig)

    def build(root: tk.Tk, events: queue.Queue):
        service = HeadOfficeService(cfg, on_event=events.put)  # the consumer, its alerts and metrics
        return HeadOfficeWindow(root, cfg, service, events), service

    return run_window(f"{cfg.name} — Branch Sync", build)

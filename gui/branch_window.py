"""The branch clerk's window: enter sales, watch them reach the Head Office, see the link's state.

It talks to the relay only through ``sync_now()``/``notify()`` and the events the
relay puts on a queue; it reads and writes the branch database only through
``models.branch_sales``, always in a worker thread, so a database or a link
that does not answer never freezes it.

Keys: F5 syncs now, Ctrl+F goes to the quick filter; in the form Enter saves and
Escape clears (or cancels an edit).
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
from gui.background import EventPump, OneAtATime, every, later, run_in_thread
from gui.branch_sales_view import BranchSalesView
from gui.day_status import DayStatusLine
from gui.formats import clock, database_problem, money
from gui.keys import bind_shortcuts, focus_and_select
from gui.notice import Notice, Words
from gui.sale_form import SaleForm
from gui.sync_words import clerk_words, failure_words, link_words, waiting_words
from gui.theme import BAR, TONES
from gui.today_card import TodayCard
from gui.widgets import Banner, StatusBar
from models.branch_sales import (
    DayTakings,
    SalesPage,
    Waiting,
    add_sale,
    day_takings,
    delete_sale,
    known_names,
    recent_sales,
    update_sale,
    waiting,
)
from models.catalogue import load_catalogue
from models.names import merge_names
from models.sale import Sale
from sync import events as ev
from sync.failures import Failure
from sync.outbox import Outbox, OutboxCounts

REFRESH_MS = 2000           # how often the table and counts are re-read
SYNC_ANSWER_SECONDS = 90    # re-enable "Sync now" if the agent never says how it ended
TABLE_LIMIT = 500
SHORTCUTS_HINT = "F5 sync now · Ctrl+F quick filter · Ctrl+A selects a field's text"


class SyncAgent(Protocol):
    """The part of ``sync.relay.OutboxRelay`` the window uses."""

    def sync_now(self) -> None: ...

    def notify(self) -> None: ...


def ask_yes_no(title: str, question: str) -> bool:
    return messagebox.askyesno(title, question, icon="question", default="no")


class BranchWindow(ttk.Frame):
    """Sale form on the left, this branch's sales on the right, the day and the sync controls above, the status below.

    ``confirm(title, question) -> bool`` asks before a delete and before a new
    product or region; tests replace it to answer without a dialog.
    """

    def __init__(self, master: tk.Misc, cfg: OfficeConfig, relay: SyncAgent, events: queue.Queue, engine=None):
        super().__init__(master)
        self.cfg, self.relay = cfg, relay
        self.engine = engine or window_engine(cfg.db_url)
        self.confirm: Callable[[str, str], bool] = ask_yes_no
        self.database_down = False
        self.waiting: Waiting | None = None
        self._failure: Failure | None = None       # why nothing goes just now, while the notice says so
        self._reads = OneAtATime(self)
        self._sync_attempt = 0
        self._select_next: tuple[str, str | None] | None = None  # (row to select, selection when asked)
        self.winfo_toplevel().title(f"{cfg.name} — Branch Sync")

        self._build_header().grid(row=0, column=0, sticky="ew")
        self.banner = Banner(self)
        self.banner.grid(row=1, column=0, sticky="ew")
        self.banner.hide()
        body = ttk.Frame(self)
        body.grid(row=2, column=0, sticky="nsew")
        self.form = SaleForm(body, cfg.tax_rate, cfg.region, self._submit, confirm=lambda t, q: self.confirm(t, q),
                             allow_cost_override=cfg.allow_cost_override, allow_free_products=cfg.allow_free_products)
        self.form.grid(row=0, column=0, rowspan=2, sticky="nsw")
        ttk.Separator(body, orient="vertical").grid(row=0, column=1, rowspan=2, sticky="ns")
        self.days = DayStatusLine(body, self.engine)  # above the sales: the Head Office's word on this branch's days
        self.days.grid(row=0, column=2, sticky="ew")
        self.sales = BranchSalesView(body, self.edit_selected, self.delete_selected, self.refresh)
        self.sales.grid(row=1, column=2, sticky="nsew")
        body.columnconfigure(2, weight=1)
        body.rowconfigure(1, weight=1)
        self.status = StatusBar(self, ["link", "waiting", "last_sync", "keys"], stretch="keys")
        self.status.grid(row=3, column=0, sticky="ew")
        self.columnconfigure(0, weight=1)
        self.rowconfigure(2, weight=1)
        self.status.set("link", "● Starting…", "muted")
        self.status.set("keys", SHORTCUTS_HINT, "muted")
        self.status.on_click("waiting", self.show_waiting)
        bind_shortcuts(self, {"<F5>": self.sync_now, "<Control-f>": self.find, "<Control-F>": self.find})

        self.pump = EventPump(self, events, self.handle_event).start()
        every(self, REFRESH_MS, self.refresh)
        self._load_known_names()
        self._load_catalogue()
        self.refresh()
        focus_and_select(self.form.inputs["sale_date"])

    # ------------------------------------------------------------ layout
    def _build_header(self) -> ttk.Frame:
        bar = ttk.Frame(self, style="Bar.TFrame", padding=(20, 10))
        titles = ttk.Frame(bar, style="Bar.TFrame")
        titles.grid(row=0, column=0, sticky="w")
        ttk.Label(titles, text=self.cfg.name, style="Title.TLabel", background=BAR).pack(anchor="w")
        rate = (self.cfg.tax_rate * 100).normalize()
        ttk.Label(titles, text=f"Branch {self.cfg.code} · Region {self.cfg.region} · Tax {rate:f}%",
                  style="Caption.TLabel", background=BAR, foreground=TONES["muted"]).pack(anchor="w")
        self.today = TodayCard(bar)
        self.today.grid(row=0, column=1, sticky="w", padx=(28, 0))
        # The sentence takes what width is left and wraps in it, so it never pushes the rest out of the window.
        self.notice = Notice(bar, wraplength=300, background=BAR, frame_style="Bar.TFrame", fit=True)
        self.notice.grid(row=0, column=2, sticky="ew", padx=12)
        actions = ttk.Frame(bar, style="Bar.TFrame")
        actions.grid(row=0, column=3, sticky="e")
        self.sync_button = ttk.Button(actions, text="Sync now", style="Accent.TButton", command=self.sync_now)
        self.sync_button.pack(side="right")
        self.progress = ttk.Progressbar(actions, length=120, mode="determinate")
        bar.columnconfigure(2, weight=1)
        return bar

    @property
    def sync_message(self) -> ttk.Label:
        """The sentence beside "Sync now"."""
        return self.notice.label

    # ------------------------------------------------------------ engine events (Tk thread, via the pump)
    def handle_event(self, event: object) -> None:
        """React to one event from the relay."""
        match event:
            case ev.LinkStatus():
                self._link_changed(event)
            case ev.SyncProgress(sent=sent, total=total):
                self.progress.configure(maximum=max(1, total), value=sent)
                self.notice.show(Words(f"Sent {sent:,} of {total:,} changes…", "busy"))
            case ev.SyncFinished():
                self._sync_ended(event)
            case ev.ReceiptsRecorded():
                self.refresh()
            case ev.CatalogueReceived():
                self._load_catalogue()

    def _link_changed(self, event: ev.LinkStatus) -> None:
        words, tone = link_words(event)
        if event.state == ev.OUTSIDE_WINDOW and self.cfg.sync_windows:
            words += " (" + ", ".join(str(w) for w in self.cfg.sync_windows) + ")"
        self.status.set("link", words, tone)
        if event.state == ev.ONLINE and self._failure is not None:
            self._failure = None
            self.notice.clear()        # the link is back: the worry is over
        elif event.state == ev.OFFLINE and event.failure:
            self._show_failure(event.failure, event)

    # ------------------------------------------------------------ sync now
    def sync_now(self) -> None:
        """Ask the relay to connect and send everything now; the button waits for the answer."""
        if str(self.sync_button.cget("state")) == "disabled":
            return
        self.sync_button.configure(state="disabled", text="Syncing…")
        self.progress.configure(value=0, maximum=1)
        self.progress.pack(side="right", padx=(0, 12), before=self.sync_button)
        self.notice.show(Words("Connecting to the Head Office…", "busy"))
        self._sync_attempt += 1
        attempt = self._sync_attempt
        later(self, SYNC_ANSWER_SECONDS * 1000, lambda: self._sync_unanswered(attempt))
        self.relay.sync_now()

    def _show_failure(self, failure: Failure, event: ev.LinkStatus) -> None:
        self._failure = failure
        if str(self.sync_button.cget("state")) != "disabled":   # a press waits for its own answer
            self.notice.show(clerk_words(event, self.waiting))

    def _sync_ended(self, event: ev.SyncFinished) -> None:
        self._failure = event.failure
        self.notice.show(clerk_words(event, self.waiting))
        self._sync_idle()
        self.refresh()

    def _sync_unanswered(self, attempt: int) -> None:
        if attempt != self._sync_attempt or str(self.sync_button.cget("state")) != "disabled":
            return  # that press was answered
        self.notice.show(Words("No answer from the sync agent yet; it keeps trying in the background.", "warn"))
        self._sync_idle()

    def _sync_idle(self) -> None:
        self.progress.pack_forget()
        self.sync_button.configure(state="normal", text="Sync now")

    # ------------------------------------------------------------ keys
    def find(self) -> None:
        """Ctrl+F: to the quick filter, its text selected."""
        focus_and_select(self.sales.filter_entry)

    def show_waiting(self) -> None:
        """Show only the sales waiting to go (a click on the status bar's count)."""
        self.sales.waiting_only.set(True)
        self.refresh()

    # ------------------------------------------------------------ reading
    def refresh(self) -> None:
        """Re-read the sales shown, what is waiting, today's figures and the last sync, in a worker thread."""
        text, waiting_only = self.sales.filter_text, self.sales.waiting_only.get()

        def read() -> tuple[SalesPage, Waiting, DayTakings, OutboxCounts]:
            return (recent_sales(self.engine, text, TABLE_LIMIT, waiting_only=waiting_only), waiting(self.engine),
                    day_takings(self.engine, dt.date.today()), Outbox(self.engine).counts())

        self._reads.submit(read, self._refreshed)

    def _refreshed(self, ok: bool, value) -> None:
        if not ok:
            self._database_failed(value, "The table and counts will update when it is back.")
            return
        self._database_answered()
        before = self.waiting
        page, self.waiting, takings, counts = value
        self.sales.show(page)
        self.today.show(takings)
        self.status.set("waiting", *waiting_words(self.waiting))
        self.status.set("last_sync", f"Last sync {clock(counts.last_sync)}")
        if self._failure is not None and self.notice.text == failure_words(self._failure, before).text:
            self.notice.show(failure_words(self._failure, self.waiting))   # the count follows what is kept
        if self._select_next is not None:
            wanted, selected_then = self._select_next
            # Only if the clerk has not picked another row in the meantime.
            if wanted in self.sales.shown and self.sales.table.selected() == selected_then:
                self.sales.table.select(wanted)
            self._select_next = None

    def _load_known_names(self) -> None:
        def done(ok: bool, known) -> None:
            if ok:
                self.form.set_known(known.products, merge_names([self.cfg.region], known.regions))

        run_in_thread(self, lambda: known_names(self.engine), done)

    def _load_catalogue(self) -> None:
        """Sell from the catalogue this branch holds (received from the Head Office; offline, the last one)."""
        def done(ok: bool, catalogue) -> None:
            if ok:
                self.form.set_catalogue(catalogue)

        run_in_thread(self, lambda: load_catalogue(self.engine, head_office=False), done)

    # ------------------------------------------------------------ writing
    def _submit(self, sale: Sale, editing_id: int | None) -> None:
        self.form.set_busy(True)
        if editing_id is None:
            run_in_thread(self, lambda: add_sale(self.engine, sale), lambda ok, value: self._saved(ok, value, None))
        else:
            run_in_thread(self, lambda: update_sale(self.engine, editing_id, sale),
                          lambda ok, value: self._saved(ok, value, editing_id))

    def _saved(self, ok: bool, value, editing_id: int | None) -> None:
        self.form.set_busy(False)
        if not ok:
            self._database_failed(value, "The sale was not saved; what you typed is kept, so press Enter again once it is back.")
            return
        self._database_answered()
        if editing_id is None:
            self.notice.show(Words(f"Saved sale #{value}.", "good"))
            self._select_next = (str(value), self.sales.table.selected())
        elif value:
            self.notice.show(Words(f"Saved the changes to sale #{editing_id}.", "good"))
            self._select_next = (str(editing_id), self.sales.table.selected())
        else:
            self.notice.show(Words(f"Sale #{editing_id} was deleted meanwhile, so nothing was changed.", "warn"))
        self.form.saved()
        self.relay.notify()
        self.refresh()

    def selected_sale(self):
        return self.sales.selected_sale()

    def edit_selected(self) -> None:
        """Load the selected sale into the form for editing."""
        row = self.selected_sale()
        if row is not None:
            self.form.edit(row.id, row.sale)

    def delete_selected(self) -> None:
        """Delete the selected sale, after asking."""
        row = self.selected_sale()
        if row is None:
            return
        s = row.sale
        question = (f"Delete sale #{row.id} ({s.sale_date}, {s.product}, qty {s.qty}, total {money(s.total)})?\n\n"
                    "The deletion is also sent to the Head Office.")
        if not self.confirm("Delete sale", question):
            return

        def done(ok: bool, value) -> None:
            if not ok:
                self._database_failed(value, "The sale was not deleted.")
                return
            self.notice.show(Words(f"Deleted sale #{row.id}." if value else f"Sale #{row.id} was already deleted.", "good"))
            if self.form.editing_id == row.id:
                self.form.cancel()
            self.relay.notify()
            self.refresh()

        run_in_thread(self, lambda: delete_sale(self.engine, row.id), done)

    # ------------------------------------------------------------ database health
    def _database_failed(self, exc: BaseException, consequence: str) -> None:
        self.database_down = True
        problem, cause = database_problem(exc, self.cfg.name)
        self.banner.show(f"{problem} {consequence}", cause)

    def _database_answered(self) -> None:
        if self.database_down:
            self.database_down = False
            self.banner.hide()
            self.notice.show(Words("The branch database is answering again.", "good"))

    def dispose(self) -> None:
        """Release the database connections (the window's own; the relay has its own)."""
        self.engine.dispose()


def run_branch_window(cfg: OfficeConfig) -> int:
    """The branch program with a window: the relay runs beside it and stops when it closes."""
    from sync.relay import OutboxRelay

    def build(root: tk.Tk, events: queue.Queue):
        relay = OutboxRelay(cfg, on_event=events.put)
        return BranchWindow(root, cfg, relay, events), relay

    return run_window(f"{cfg.name} — Branch Sync", build)

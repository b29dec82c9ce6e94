"""The branch clerk's window: enter sales, watch them reach the Head Office, see the link's state.

It talks to the relay only through ``sync_now()``/``notify()`` and the events the
relay puts on a queue; it reads and writes the branch database only through
``models.branch_sales``, always in a worker thread, so a database or a link
that does not answer never freezes it.
"""
from __future__ import annotations

import queue
import tkinter as tk
from collections.abc import Callable
from tkinter import messagebox, ttk
from typing import Protocol

from config import OfficeConfig
from gui.app import run_window, window_engine
from gui.background import EventPump, OneAtATime, Throttle, every, later, run_in_thread
from gui.formats import clock, database_problem, money, plural, sentence
from gui.sale_form import SaleForm
from gui.theme import BAR, TONES, paint
from gui.widgets import Banner, Column, DataTable, Row, StatusBar
from models.branch_sales import BranchSale, SalesPage, add_sale, delete_sale, known_regions, recent_sales, update_sale
from models.sale import Sale
from sync import events as ev
from sync.outbox import Outbox, OutboxCounts

REFRESH_MS = 2000           # how often the table and counts are re-read
SYNC_ANSWER_SECONDS = 90    # re-enable "Sync now" if the agent never says how it ended
TABLE_LIMIT = 500

SYNC_WORDS = {"pending": "pending", "sent": "sent", "applied": "applied at HO", "rejected": "refused by HO", None: "—"}
SYNC_TONES = {"pending": "warn", "sent": "busy", "applied": "good", "rejected": "bad", None: None}
LINK_WORDS = {
    ev.ONLINE: ("● Online", "good"), ev.OFFLINE: ("● Offline", "bad"), ev.CONNECTING: ("● Connecting…", "busy"),
    ev.OUTSIDE_WINDOW: ("● Outside the sync window", "muted"), ev.STOPPED: ("● Stopped", "muted"),
}
COLUMNS = [
    Column("id", "#", 60, "e"), Column("date", "Date", 100), Column("region", "Region", 90),
    Column("product", "Product", 130, stretch=True), Column("qty", "Qty", 60, "e"), Column("cost", "Cost", 80, "e"),
    Column("amt", "Amt", 95, "e"), Column("tax", "Tax", 75, "e"), Column("total", "Total", 95, "e"),
    Column("sync", "Sync", 120),
]


class SyncAgent(Protocol):
    """The part of ``sync.relay.OutboxRelay`` the window uses."""

    def sync_now(self) -> None: ...

    def notify(self) -> None: ...


def ask_yes_no(title: str, question: str) -> bool:
    return messagebox.askyesno(title, question, icon="warning", default="no")


class BranchWindow(ttk.Frame):
    """Sale form on the left, this branch's sales on the right, the sync controls above, the status below.

    ``confirm(title, question) -> bool`` asks before a delete; tests replace it to answer without a dialog.
    """

    def __init__(self, master: tk.Misc, cfg: OfficeConfig, relay: SyncAgent, events: queue.Queue, engine=None):
        super().__init__(master)
        self.cfg, self.relay = cfg, relay
        self.engine = engine or window_engine(cfg.db_url)
        self.confirm: Callable[[str, str], bool] = ask_yes_no
        self.shown: dict[str, BranchSale] = {}
        self.database_down = False
        self._reads = OneAtATime(self)
        self._sync_attempt = 0
        self._select_next: tuple[str, str | None] | None = None  # (row to select, selection when asked)
        self.last_error = ""
        self.winfo_toplevel().title(f"{cfg.name} — Branch Sync")

        self._build_header().grid(row=0, column=0, sticky="ew")
        self.banner = Banner(self)
        self.banner.grid(row=1, column=0, sticky="ew")
        self.banner.hide()
        body = ttk.Frame(self)
        body.grid(row=2, column=0, sticky="nsew")
        self.form = SaleForm(body, cfg.tax_rate, cfg.region, self._submit)
        self.form.grid(row=0, column=0, sticky="nsw")
        ttk.Separator(body, orient="vertical").grid(row=0, column=1, sticky="ns")
        self._build_sales(body).grid(row=0, column=2, sticky="nsew")
        body.columnconfigure(2, weight=1)
        body.rowconfigure(0, weight=1)
        self.status = StatusBar(self, ["link", "waiting", "last_sync", "error"], stretch="error")
        self.status.grid(row=3, column=0, sticky="ew")
        self.columnconfigure(0, weight=1)
        self.rowconfigure(2, weight=1)
        self.status.set("link", "● Starting…", "muted")

        self.pump = EventPump(self, events, self.handle_event).start()
        every(self, REFRESH_MS, self.refresh)
        self._load_regions()
        self.refresh()
        self.form.inputs["sale_date"].focus_set()

    # ------------------------------------------------------------ layout
    def _build_header(self) -> ttk.Frame:
        bar = ttk.Frame(self, style="Bar.TFrame", padding=(20, 12))
        titles = ttk.Frame(bar, style="Bar.TFrame")
        titles.pack(side="left")
        ttk.Label(titles, text=self.cfg.name, style="Title.TLabel", background=BAR).pack(anchor="w")
        rate = (self.cfg.tax_rate * 100).normalize()
        ttk.Label(titles, text=f"Branch {self.cfg.code} · Region {self.cfg.region} · Tax {rate:f}% · Sales entry",
                  style="Caption.TLabel", background=BAR, foreground=TONES["muted"]).pack(anchor="w")
        self.sync_button = ttk.Button(bar, text="Sync now", style="Accent.TButton", command=self.sync_now, takefocus=False)
        self.sync_button.pack(side="right")
        self.progress = ttk.Progressbar(bar, length=160, mode="determinate")
        self.sync_message = ttk.Label(bar, style="Caption.TLabel", background=BAR, wraplength=520, justify="right")
        self.sync_message.pack(side="right", padx=12)
        return bar

    def _build_sales(self, master: tk.Misc) -> ttk.Frame:
        frame = ttk.Frame(master, padding=(20, 16))
        top = ttk.Frame(frame)
        top.grid(row=0, column=0, sticky="ew", pady=(0, 8))
        ttk.Label(top, text="Sales at this branch", style="Section.TLabel").pack(side="left")
        self.filter_var = tk.StringVar(self)
        self.filter_entry = ttk.Entry(top, textvariable=self.filter_var, width=28)
        self.filter_entry.pack(side="right")
        ttk.Label(top, text="Quick filter", style="Caption.TLabel", foreground=TONES["muted"]).pack(side="right", padx=(0, 8))
        refilter = Throttle(self, 300, self.refresh)
        self.filter_var.trace_add("write", lambda *_: refilter.poke())

        self.table = DataTable(frame, COLUMNS, height=16)
        self.table.grid(row=1, column=0, sticky="nsew")
        tree = self.table.tree
        tree.bind("<Double-1>", lambda e: self.edit_selected())
        tree.bind("<Return>", lambda e: self.edit_selected())
        tree.bind("<Delete>", lambda e: self.delete_selected())
        tree.bind("<<TreeviewSelect>>", lambda e: self._update_buttons())

        bottom = ttk.Frame(frame)
        bottom.grid(row=2, column=0, sticky="ew", pady=(8, 0))
        self.count_label = ttk.Label(bottom, style="Caption.TLabel", foreground=TONES["muted"])
        self.count_label.pack(side="left")
        self.delete_button = ttk.Button(bottom, text="Delete…", command=self.delete_selected, state="disabled")
        self.delete_button.pack(side="right")
        self.edit_button = ttk.Button(bottom, text="Edit", command=self.edit_selected, state="disabled")
        self.edit_button.pack(side="right", padx=(0, 8))
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(1, weight=1)
        return frame

    # ------------------------------------------------------------ engine events (Tk thread, via the pump)
    def handle_event(self, event: object) -> None:
        """React to one event from the relay."""
        if isinstance(event, ev.LinkStatus):
            words, tone = LINK_WORDS.get(event.state, (f"● {event.state}", "muted"))
            if event.state == ev.OUTSIDE_WINDOW and self.cfg.sync_windows:
                words += " (" + ", ".join(str(w) for w in self.cfg.sync_windows) + ")"
            self.status.set("link", words, tone)
            if event.state == ev.ONLINE and self.last_error:
                self.status.set("error", self.last_error, "muted")   # kept for the record, no longer a worry
            elif event.error:
                self.last_error = f"Last error at {event.at:%H:%M:%S}: {sentence(event.error)}"
                self.status.set("error", self.last_error, "bad" if event.state == ev.OFFLINE else "muted")
        elif isinstance(event, ev.SyncProgress):
            self.progress.configure(maximum=max(1, event.total), value=event.sent)
            self._say(f"Sent {event.sent:,} of {event.total:,}…", "busy")
        elif isinstance(event, ev.SyncFinished):
            self._sync_ended(event)
        elif isinstance(event, ev.ReceiptsRecorded):
            self.refresh()

    # ------------------------------------------------------------ sync now
    def sync_now(self) -> None:
        """Ask the relay to connect and send everything now; the button waits for the answer."""
        if str(self.sync_button.cget("state")) == "disabled":
            return
        self.sync_button.configure(state="disabled", text="Syncing…")
        self.progress.configure(value=0, maximum=1)
        self.progress.pack(side="right", padx=(12, 0), before=self.sync_message)
        self._say("Connecting to the Head Office…", "busy")
        self._sync_attempt += 1
        attempt = self._sync_attempt
        later(self, SYNC_ANSWER_SECONDS * 1000, lambda: self._sync_unanswered(attempt))
        self.relay.sync_now()

    def _sync_ended(self, event: ev.SyncFinished) -> None:
        if event.ok:
            self._say(f"{sentence(event.message)} ({event.at:%H:%M:%S})", "good")
        else:
            detail = sentence(event.message.removeprefix("Could not sync: "))
            self._say(f"Cannot reach the Head Office: {detail} Your sales are kept here and go when the link is back.", "bad")
        self._sync_idle()
        self.refresh()

    def _sync_unanswered(self, attempt: int) -> None:
        if attempt != self._sync_attempt or str(self.sync_button.cget("state")) != "disabled":
            return  # that press was answered
        self._say("No answer from the sync agent yet; it keeps trying in the background.", "warn")
        self._sync_idle()

    def _sync_idle(self) -> None:
        self.progress.pack_forget()
        self.sync_button.configure(state="normal", text="Sync now")

    def _say(self, text: str, tone: str) -> None:
        self.sync_message.configure(text=text)
        paint(self.sync_message, tone)

    # ------------------------------------------------------------ reading
    def refresh(self) -> None:
        """Re-read the sales shown and the outbox counts, in a worker thread."""
        text = self.filter_var.get()

        def read() -> tuple[SalesPage, OutboxCounts]:
            return recent_sales(self.engine, text, TABLE_LIMIT), Outbox(self.engine).counts()

        self._reads.submit(read, self._refreshed)

    def _refreshed(self, ok: bool, value) -> None:
        if not ok:
            self._database_failed(value, "The table and counts will update when it is back.")
            return
        self._database_answered()
        page, counts = value
        self.shown = {str(row.id): row for row in page.rows}
        self.table.set_rows(self._row(row) for row in page.rows)
        filtered = " matching the filter" if self.filter_var.get().strip() else ""
        if page.matching > len(page.rows):
            self.count_label.configure(text=f"Showing the newest {len(page.rows):,} of {plural(page.matching, 'sale')}{filtered}")
        else:
            self.count_label.configure(text=plural(page.matching, "sale") + filtered)
        waiting = counts.pending + counts.sent
        self.status.set("waiting", f"{plural(waiting, 'change')} waiting" if waiting else "Nothing waiting",
                        "warn" if counts.pending else "normal")
        if counts.rejected:
            self.status.set("waiting", f"{plural(waiting, 'change')} waiting · {counts.rejected:,} refused by HO", "bad")
        self.status.set("last_sync", f"Last sync {clock(counts.last_sync)}")
        if self._select_next is not None:
            wanted, selected_then = self._select_next
            # Only if the clerk has not picked another row in the meantime.
            if wanted in self.shown and self.table.selected() == selected_then:
                self.table.select(wanted)
            self._select_next = None
        self._update_buttons()

    @staticmethod
    def _row(row: BranchSale) -> Row:
        s = row.sale
        values = (row.id, s.sale_date.isoformat(), s.region, s.product, f"{s.qty:,}", money(s.cost), money(s.amt),
                  money(s.tax), money(s.total), SYNC_WORDS.get(row.sync_state, row.sync_state))
        return Row(str(row.id), values, SYNC_TONES.get(row.sync_state))

    def _load_regions(self) -> None:
        def done(ok: bool, regions) -> None:
            if ok:
                self.form.set_regions(sorted({self.cfg.region, *regions}))

        run_in_thread(self, lambda: known_regions(self.engine), done)

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
            self._say(f"Saved sale #{value}.", "good")
            self._select_next = (str(value), self.table.selected())
        elif value:
            self._say(f"Saved the changes to sale #{editing_id}.", "good")
            self._select_next = (str(editing_id), self.table.selected())
        else:
            self._say(f"Sale #{editing_id} was deleted meanwhile, so nothing was changed.", "warn")
        self.form.saved()
        self.relay.notify()
        self.refresh()

    def selected_sale(self) -> BranchSale | None:
        iid = self.table.selected()
        return self.shown.get(iid) if iid else None

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
            self._say(f"Deleted sale #{row.id}." if value else f"Sale #{row.id} was already deleted.", "good")
            if self.form.editing_id == row.id:
                self.form.cancel()
            self.relay.notify()
            self.refresh()

        run_in_thread(self, lambda: delete_sale(self.engine, row.id), done)

    def _update_buttons(self) -> None:
        state = "normal" if self.selected_sale() is not None else "disabled"
        self.edit_button.configure(state=state)
        self.delete_button.configure(state=state)

    # ------------------------------------------------------------ database health
    def _database_failed(self, exc: BaseException, consequence: str) -> None:
        self.database_down = True
        self.banner.show(f"{database_problem(exc, self.cfg.name)} {consequence}")

    def _database_answered(self) -> None:
        if self.database_down:
            self.database_down = False
            self.banner.hide()
            self._say("The branch database is answering again.", "good")

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

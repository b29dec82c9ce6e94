"""The Head Office's consolidated sales: filters, one page of the table, the totals line and CSV export.

The table shows one page that the database filtered, sorted and cut.  When rows
arrive, ``refresh()`` re-reads the page on screen from the row at its top, so
rows that sort above it stay above it and the manager's place and selection stay put.
"""
from __future__ import annotations

import datetime as dt
import os
import tkinter as tk
from collections.abc import Callable
from tkinter import filedialog, ttk

from gui.background import OneAtATime, run_in_thread
from gui.filter_bar import FilterBar
from gui.formats import money, plural
from gui.theme import TONES
from gui.widgets import Column, DataTable, Row
from models.head_office_view import (
    HeadOfficeSale,
    Page,
    PagePosition,
    SalesFilter,
    SortOrder,
    Totals,
    sales_page,
    sales_totals,
    write_csv,
)

PAGE_SIZE = 200
TEXT_COLUMNS = ("branch", "region", "product")  # sorted A to Z first; numbers and dates largest/newest first
COLUMNS = [
    Column("branch", "Branch", 65), Column("branch_sale_id", "Sale #", 65, "e"), Column("sale_date", "Date", 100),
    Column("region", "Region", 75), Column("product", "Product", 100, stretch=True), Column("qty", "Qty", 55, "e"),
    Column("cost", "Cost", 70, "e"), Column("amt", "Amt", 100, "e"), Column("tax", "Tax", 80, "e"),
    Column("total", "Total", 100, "e"),
]

Say = Callable[[str, str], None]            # say(sentence, tone) in the window's message area
Problem = Callable[[BaseException], None]   # a database call failed
Answered = Callable[[], None]               # a database call worked


def ask_csv_path() -> str:
    return filedialog.asksaveasfilename(
        title="Export the filtered sales", defaultextension=".csv", initialfile=f"sales-{dt.date.today()}.csv",
        filetypes=[("CSV files", "*.csv"), ("All files", "*")],
    )


class SalesView(ttk.Frame):
    """Filter bar, table, pager, totals and export of the consolidated sales.

    ``on_filter(filter)`` tells the window when the filter changes (the chart follows it).
    Tests replace ``ask_export_path() -> str`` ('' cancels) to avoid the file dialog.
    """

    def __init__(self, master: tk.Misc, engine, branches: dict[str, str], say: Say, problem: Problem,
                 answered: Answered, on_filter: Callable[[SalesFilter], None]):
        super().__init__(master, padding=(12, 12, 12, 8))
        self.engine, self.say, self.problem, self.answered, self.on_filter = engine, say, problem, answered, on_filter
        self.ask_export_path: Callable[[], str] = ask_csv_path
        self.filter, self.order = SalesFilter(), SortOrder()
        self.position = PagePosition()
        self.page: Page | None = None
        self.offset = 0            # rows before the page on screen, as far as the view knows
        self.totals: Totals | None = None
        self._page_job, self._totals_job = OneAtATime(self), OneAtATime(self)

        self.filter_bar = FilterBar(self, branches, self.set_filter)
        self.filter_bar.grid(row=0, column=0, sticky="ew", pady=(0, 6))
        self.table = DataTable(self, COLUMNS, on_sort=self.sort_by, height=14)
        self.table.grid(row=1, column=0, sticky="nsew")
        self.table.show_sort(self.order.column, self.order.descending)
        pager = ttk.Frame(self)
        pager.grid(row=2, column=0, sticky="ew", pady=(8, 0))
        self.page_buttons: dict[str, ttk.Button] = {}
        for name, text, position in (("first", "First", PagePosition), ("prev", "◀ Previous", self._previous),
                                     ("next", "Next ▶", self._next), ("last", "Last", lambda: PagePosition("last"))):
            button = ttk.Button(pager, text=text, command=lambda p=position: self.load_page(p()))
            button.pack(side="left", padx=(0, 4))
            self.page_buttons[name] = button
        self.rows_label = ttk.Label(pager, style="Caption.TLabel", foreground=TONES["muted"])
        self.rows_label.pack(side="left", padx=(8, 0))
        self.export_button = ttk.Button(pager, text="Export CSV…", command=self.export_csv)
        self.export_button.pack(side="right")
        self.totals_label = ttk.Label(self, style="Amount.TLabel")
        self.totals_label.grid(row=3, column=0, sticky="w", pady=(10, 0))
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)

    # ------------------------------------------------------------ what to show
    def set_filter(self, filt: SalesFilter) -> None:
        """Show the first page of a new filter, with its totals."""
        self.filter = filt
        self.load_page(PagePosition())
        self.reload_totals()
        self.on_filter(filt)

    def sort_by(self, column: str) -> None:
        """Sort by a column (what a click on its heading does); the same column again turns the order round."""
        if column == self.order.column:
            self.order = SortOrder(column, not self.order.descending)
        else:
            self.order = SortOrder(column, column not in TEXT_COLUMNS)
        self.table.show_sort(self.order.column, self.order.descending)
        self.load_page(PagePosition())

    def refresh(self) -> None:
        """Re-read the page on screen from its top row; rows that arrived above it stay above."""
        self.load_page(self.position)

    def _previous(self) -> PagePosition:
        return PagePosition("before", self.page.rows[0].key(self.order)) if self.page and self.page.rows else PagePosition()

    def _next(self) -> PagePosition:
        return PagePosition("after", self.page.rows[-1].key(self.order)) if self.page and self.page.rows else PagePosition()

    # ------------------------------------------------------------ reading
    def load_page(self, position: PagePosition) -> None:
        """Read the page at ``position`` in a worker thread and show it."""
        filt, order = self.filter, self.order

        def done(ok: bool, value) -> None:
            if not ok:
                self.problem(value)
            elif (filt, order) == (self.filter, self.order):  # not overtaken by a newer choice
                self._show_page(value, position)

        self._page_job.submit(lambda: sales_page(self.engine, filt, order, position, PAGE_SIZE), done)

    def _show_page(self, page: Page, position: PagePosition) -> None:
        self.answered()
        previous = self.page
        if not page.more_before:
            self.offset = 0
        elif position.kind == "after" and previous:
            self.offset += len(previous.rows)
        elif position.kind == "before":
            self.offset = max(0, self.offset - len(page.rows))
        elif position.kind == "last" and self.totals:
            self.offset = max(0, self.totals.rows - len(page.rows))
        self.page = page
        # What "the page on screen" means from now on, for live refreshes.
        self.position = PagePosition("from", page.rows[0].key(self.order)) if page.more_before and page.rows else PagePosition()
        self.table.set_rows(self._row(row) for row in page.rows)
        for name, more in (("first", page.more_before), ("prev", page.more_before), ("next", page.more_after),
                           ("last", page.more_after)):
            self.page_buttons[name].configure(state="normal" if more else "disabled")
        self._show_row_range()

    @staticmethod
    def _row(sale: HeadOfficeSale) -> Row:
        values = (sale.branch, sale.branch_sale_id, sale.sale_date.isoformat(), sale.region, sale.product, f"{sale.qty:,}",
                  money(sale.cost), money(sale.amt), money(sale.tax), money(sale.total))
        return Row(str(sale.id), values)

    def _show_row_range(self) -> None:
        if self.page is None:
            return
        shown = len(self.page.rows)
        if not shown:
            self.rows_label.configure(text="No sales match the filter." if self.filter != SalesFilter() else "No sales yet.")
            return
        # The count comes from a separate, slower query; until it catches up with rows
        # that just arrived it is left out rather than shown wrong.
        of = f" of {self.totals.rows:,}" if self.totals and self.totals.rows >= self.offset + shown else ""
        self.rows_label.configure(text=f"Rows {self.offset + 1:,}–{self.offset + shown:,}{of}")

    def reload_totals(self) -> None:
        """Re-read the totals line for the current filter."""
        filt = self.filter

        def done(ok: bool, value) -> None:
            if not ok:
                self.problem(value)
            elif filt == self.filter:
                self.totals = value
                self.totals_label.configure(
                    text=f"Totals of {plural(value.rows, 'row')}:   Qty {value.qty:,}   ·   Amt {money(value.amt)}   ·   "
                         f"Tax {money(value.tax)}   ·   Total {money(value.total)}")
                self._show_row_range()

        self._totals_job.submit(lambda: sales_totals(self.engine, filt), done)

    # ------------------------------------------------------------ export
    def export_csv(self) -> None:
        """Write every row the filter matches (not just this page) to a CSV file the manager names."""
        path = self.ask_export_path()
        if not path:
            return
        filt, order = self.filter, self.order
        self.export_button.configure(state="disabled", text="Exporting…")

        def work() -> int:
            partial = f"{path}.part"  # a half-written file never carries the real name
            try:
                with open(partial, "w", newline="", encoding="utf-8") as out:
                    count = write_csv(self.engine, filt, order, out)
                os.replace(partial, path)
            finally:
                if os.path.exists(partial):
                    os.remove(partial)
            return count

        def done(ok: bool, value) -> None:
            self.export_button.configure(state="normal", text="Export CSV…")
            if ok:
                self.say(f"Exported {plural(value, 'row')} to {path}.", "good")
            elif isinstance(value, OSError):
                self.say(f"Could not write {path}: {value.strerror or value}. Choose another place.", "bad")
            else:
                self.problem(value)

        run_in_thread(self, work, done)

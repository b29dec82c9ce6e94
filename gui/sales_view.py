"""The Head Office's consolidated sales: one page of the table, the pager, the totals line and CSV export.

The table shows one page that the database filtered, sorted and cut.  When rows
arrive, ``refresh()`` re-reads the page on screen from the row at its top, so
rows that sort above it stay above it and the manager's place and selection stay put.
A new filter is read at once, however slow the read it replaces; until its
totals arrive, the old ones are marked as updating.
"""
from __future__ import annotations

import datetime as dt
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from gui.background import Newest
from gui.export import ExportProgress, ask_csv_path, report_export
from gui.flow import FigureLine, Flow
from gui.formats import day_text, money, plural, visible
from gui.theme import TONES
from gui.widgets import Column, DataTable, Row
from models.head_office_view import (
    HeadOfficeSale,
    Page,
    PagePosition,
    SalesFilter,
    SortOrder,
    Totals,
    iter_filtered_rows,
    sales_page,
    sales_totals,
)

PAGE_SIZE = 200
TEXT_COLUMNS = ("branch", "region", "product")  # sorted A to Z first; numbers and dates largest/newest first
# Sorts an index serves whatever the table holds; the others sort every matching row
# (3.5-5.4 s over 5 million, docs/PERFORMANCE.md), so they are offered only for a filter
# holding at most SORT_LIMIT sales (tens of milliseconds).
INDEXED_SORTS = ("sale_date", "region", "product")
SORT_LIMIT = 100_000
COLUMNS = [
    Column("branch", "Branch", 110, stretch=True, sample="Aberdeen"), Column("branch_sale_id", "Sale #", 62, "e", sample="60000"),
    Column("sale_date", "Date", 96, sample="2021-04-29"), Column("region", "Region", 78, sample="North"),
    Column("product", "Product", 100, stretch=True, sample="Envelopes"), Column("qty", "Qty", 50, "e", sample="999"),
    Column("cost", "Cost", 68, "e", sample="64.50"), Column("amt", "Amt", 92, "e", sample="3,483.00"),
    Column("tax", "Tax", 76, "e", sample="243.81"), Column("total", "Total", 92, "e", sample="3,726.81"),
]

STALE = "stale"                             # the tag of rows shown greyed until the new filter's rows arrive
Say = Callable[[str, str], None]            # say(sentence, tone) in the window's message area
Problem = Callable[[BaseException], None]   # a database call failed
Answered = Callable[[], None]               # a database call worked


class SalesView(ttk.Frame):
    """Table, pager, totals and export of the consolidated sales for the filter the window sets.

    ``branch_name(code)`` names a branch for the table and the export.  Tests
    replace ``ask_export_path() -> str`` ('' cancels) to avoid the file dialog.
    """

    def __init__(self, master: tk.Misc, engine, branch_name: Callable[[str], str], say: Say, problem: Problem,
                 answered: Answered):
        super().__init__(master, padding=(8, 8, 8, 6))
        self.engine, self.branch_name, self.say, self.problem, self.answered = engine, branch_name, say, problem, answered
        self.ask_export_path: Callable[[], str] = lambda: ask_csv_path("Export the filtered sales", f"sales-{dt.date.today()}.csv")
        self.filter, self.order = SalesFilter(), SortOrder()
        self.position = PagePosition()
        self.page: Page | None = None
        self.offset = 0            # rows before the page on screen, as far as the view knows
        self.totals: Totals | None = None
        self._totals_for: SalesFilter | None = None   # the filter the totals on screen belong to
        self._page_for: SalesFilter | None = None     # the filter the rows on screen belong to
        self._page_job, self._totals_job = Newest(self), Newest(self)

        self.table = DataTable(self, COLUMNS, on_sort=self.sort_by, height=14)
        self.table.grid(row=0, column=0, sticky="nsew")
        self.table.show_sort(self.order.column, self.order.descending)
        self.table.tree.tag_configure(STALE, foreground=TONES["stale"])   # rows of the previous filter
        pager = Flow(self, gap=4)
        pager.grid(row=1, column=0, sticky="ew", pady=(8, 0))
        self.page_buttons: dict[str, ttk.Button] = {}
        for name, text, position in (("first", "First", PagePosition), ("prev", "◀ Previous", self._previous),
                                     ("next", "Next ▶", self._next), ("last", "Last", lambda: PagePosition("last"))):
            button = ttk.Button(pager, text=text, command=lambda p=position: self.load_page(p()))
            pager.add(button)
            self.page_buttons[name] = button
        self.rows_label = pager.add(ttk.Label(pager, style="Caption.TLabel", foreground=TONES["muted"], padding=(8, 6, 8, 0)))
        self.export_button = pager.add(ttk.Button(pager, text="Export CSV… (Ctrl+E)", command=self.export_csv),
                                       push_right=True)
        self.export_progress = ExportProgress(self)
        self.totals_line = FigureLine(self, ["rows", "qty", "amt", "tax", "total", "updating"])
        self.totals_line.grid(row=3, column=0, sticky="ew", pady=(10, 0))
        self.columnconfigure(0, weight=1)
        self.rowconfigure(0, weight=1)

    # ------------------------------------------------------------ what to show
    def set_filter(self, filt: SalesFilter) -> None:
        """Show the first page of a new filter, with its totals; the old totals are marked until then."""
        self.filter = filt
        self.load_page(PagePosition())
        self.reload_totals()
        self.redraw()
        self.rows_label.configure(text="Reading the sales for the new filter…", foreground=TONES["busy"])

    def sort_by(self, column: str) -> None:
        """Sort by a column (what a click on its heading does); the same column again turns the order round.

        A sort no index serves is refused, with a sentence, while the filter holds more than SORT_LIMIT sales.
        """
        if not self.sort_is_cheap(column):
            heading = next(c.heading for c in COLUMNS if c.key == column)
            held = f" (it holds {self.totals.rows:,})" if self.totals is not None else ""
            self.say(f"Sorting by {heading} is offered once the filter holds at most {SORT_LIMIT:,} sales{held}: "
                     "choose a branch or dates first. Date, Region and Product sort at any size.", "normal")
            return
        if column == self.order.column:
            self.order = SortOrder(column, not self.order.descending)
        else:
            self.order = SortOrder(column, column not in TEXT_COLUMNS)
        self.table.show_sort(self.order.column, self.order.descending)
        self.load_page(PagePosition())

    def sort_is_cheap(self, column: str) -> bool:
        """Whether sorting by ``column`` costs what a page shows: an index serves it, or the filter holds few sales."""
        # Judged by the totals on screen (a new filter's arrive within milliseconds, from the daily sums); when
        # they show the filter too large for the sort chosen, the table goes back to date order.
        return column in INDEXED_SORTS or self.totals is None or self.totals.rows <= SORT_LIMIT

    def refresh(self) -> None:
        """Re-read the page on screen from its top row; rows that arrived above it stay above."""
        self.load_page(self.position)

    def _previous(self) -> PagePosition:
        return PagePosition("before", self.page.rows[0].key(self.order)) if self.page and self.page.rows else PagePosition()

    def _next(self) -> PagePosition:
        return PagePosition("after", self.page.rows[-1].key(self.order)) if self.page and self.page.rows else PagePosition()

    @property
    def last_read_seconds(self) -> float | None:
        """How long the last page read took (live refreshes wait longer when it is slow)."""
        return self._page_job.last_seconds

    @property
    def totals_read_seconds(self) -> float | None:
        """How long the last totals read took."""
        return self._totals_job.last_seconds

    @property
    def page_pending(self) -> bool:
        """Whether a page read is still running (or waiting to)."""
        return self._page_job.pending

    @property
    def totals_pending(self) -> bool:
        """Whether a totals read is still running (or waiting to)."""
        return self._totals_job.pending

    # ------------------------------------------------------------ reading
    def load_page(self, position: PagePosition) -> None:
        """Read the page at ``position`` in a worker thread and show it."""
        filt, order = self.filter, self.order

        def done(ok: bool, value) -> None:
            if not ok:
                self.problem(value)
            elif (filt, order) == (self.filter, self.order):  # not overtaken by a newer choice
                self._page_for = filt
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

    def redraw(self) -> None:
        """Show the page on screen again (after branches were named, or greyed for a new filter), without reading it."""
        if self.page is not None:
            self.table.set_rows(self._row(row) for row in self.page.rows)

    @property
    def rows_stale(self) -> bool:
        """Whether the rows on screen belong to another filter than the one chosen (they are greyed meanwhile)."""
        return self._page_for != self.filter

    def _row(self, sale: HeadOfficeSale) -> Row:
        values = (self.branch_name(sale.branch), sale.branch_sale_id, day_text(sale.sale_date), visible(sale.region),
                  visible(sale.product), f"{sale.qty:,}", money(sale.cost), money(sale.amt), money(sale.tax), money(sale.total))
        return Row(str(sale.id), values, STALE if self.rows_stale else None)

    def _show_row_range(self) -> None:
        if self.page is None:
            return
        self.rows_label.configure(foreground=TONES["muted"])
        shown = len(self.page.rows)
        if not shown:
            self.rows_label.configure(text="No sales match the filter." if self.filter != SalesFilter() else "No sales yet.")
            return
        # The count comes from a separate, slower query; until it catches up with rows
        # that just arrived (or with a new filter) it is left out rather than shown wrong.
        current = self.totals is not None and self._totals_for == self.filter
        of = f" of {self.totals.rows:,}" if current and self.totals.rows >= self.offset + shown else ""
        self.rows_label.configure(text=f"Rows {self.offset + 1:,}–{self.offset + shown:,}{of}")

    def reload_totals(self) -> None:
        """Re-read the totals line for the current filter; totals of another filter are marked as updating meanwhile."""
        filt = self.filter

        def done(ok: bool, value) -> None:
            if not ok:
                self.problem(value)
            elif filt == self.filter:
                self.totals, self._totals_for = value, filt
                self._show_totals()
                self._show_row_range()
                if not self.sort_is_cheap(self.order.column):  # the filter grew past what that sort costs
                    self.order = SortOrder()
                    self.table.show_sort(self.order.column, self.order.descending)
                    self.load_page(PagePosition())

        self._totals_job.submit(lambda: sales_totals(self.engine, filt), done)
        self._show_totals()

    @property
    def updating(self) -> bool:
        """Whether the totals on screen belong to another filter than the one chosen."""
        return self._totals_for != self.filter

    def _show_totals(self) -> None:
        t = self.totals
        texts = {"rows": "Totals: no rows", "qty": "", "amt": "", "tax": "", "total": ""}
        if t is not None:
            texts = {"rows": f"Totals of {plural(t.rows, 'row')}:", "qty": f"Qty {t.qty:,}", "amt": f"Amt {money(t.amt)}",
                     "tax": f"Tax {money(t.tax)}", "total": f"Total {money(t.total)}"}
        texts["updating"] = "Updating for the new filter…" if self.updating else ""
        tone = "stale" if self.updating else "normal"
        self.totals_line.show(texts, {name: "busy" if name == "updating" else tone for name in texts})

    @property
    def totals_text(self) -> str:
        """The totals line as one text (cells separated by '  ·  ')."""
        return self.totals_line.text

    # ------------------------------------------------------------ export
    def export_csv(self) -> None:
        """Write every row the filter matches (not just this page) to a CSV file the manager names."""
        if self.export_progress.running:
            return
        path = self.ask_export_path()
        if not path:
            return
        filt, order, name = self.filter, self.order, self.branch_name
        self.export_button.configure(state="disabled", text="Exporting…")
        self.export_progress.reset()
        self.export_progress.grid(row=2, column=0, sticky="e", pady=(6, 0))

        def rows():
            for row in iter_filtered_rows(self.engine, filt, order):
                yield (name(row[0]), *row[1:])

        expected = self.totals.rows if self.totals is not None and self._totals_for == filt else None

        def done(ok: bool, value) -> None:
            self.export_progress.grid_remove()
            self.export_button.configure(state="normal", text="Export CSV… (Ctrl+E)")
            report_export(self.say, self.problem, path, ok, value)

        self.export_progress.start(path, [c.heading for c in COLUMNS], rows, expected, done)


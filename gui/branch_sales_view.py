"""The branch's own sales: quick filter, "only waiting", the table, and a line about the selected sale.

Any row a database can hold is shown: a date a checked sale could not have is
shown as stored, hidden characters as a visible mark, and the line under the
table says when the Head Office refused the sale (and why) or when it holds
values no sale may have, with what to do.
"""
from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from gui.background import Throttle
from gui.flow import Flow
from gui.formats import day_text, money, plural, sentence, visible
from gui.theme import TONES
from gui.widgets import Column, DataTable, Row
from models.branch_sales import BranchSale, SalesPage
from models.sale import check_received

SYNC_WORDS = {"pending": "waiting", "sent": "on its way", "applied": "at the HO", "rejected": "⚠ refused", None: "—"}
SYNC_TONES = {"pending": "warn", "sent": "busy", "applied": "good", "rejected": "bad", None: None}
COLUMNS = [
    Column("id", "#", 60, "e", sample="60000"), Column("date", "Date", 100, sample="2021-04-29"),
    Column("region", "Region", 90, sample="East"), Column("product", "Product", 130, stretch=True, sample="Paper"),
    Column("qty", "Qty", 60, "e", sample="99"), Column("cost", "Cost", 80, "e", sample="64.50"),
    Column("amt", "Amt", 95, "e", sample="2,064.00"), Column("tax", "Tax", 75, "e", sample="144.48"),
    Column("total", "Total", 95, "e", sample="2,208.48"), Column("sync", "Sync", 110, sample="on its way"),
]
FIX_REFUSED = "Edit the sale and save it again; the corrected sale is sent."


def row_of(row: BranchSale) -> Row:
    """The table row for a sale, whatever the sale holds."""
    s = row.sale
    values = (row.id, day_text(s.sale_date), visible(s.region), visible(s.product), f"{s.qty:,}", money(s.cost),
              money(s.amt), money(s.tax), money(s.total), SYNC_WORDS.get(row.sync_state, str(row.sync_state)))
    return Row(str(row.id), values, SYNC_TONES.get(row.sync_state))


def note_on(row: BranchSale) -> str:
    """What the clerk should know about a sale beyond its cells: a refusal and its fix, or impossible values."""
    lines = []
    if row.sync_state == "rejected":
        reason = f": {sentence(row.refusal)}" if row.refusal else "."
        lines.append(f"⚠ The Head Office refused sale #{row.id}{reason} {FIX_REFUSED}")
    try:
        check_received(row.sale.as_row())
    except ValueError:
        lines.append(f"⚠ Sale #{row.id} holds values no sale may have (it was not entered here). "
                     "Press Enter to open it, correct what is marked and save.")
    return "\n".join(lines)


class BranchSalesView(ttk.Frame):
    """Title and filters, the table of sales, a note on the selected one, Edit and Delete.

    ``on_edit()``/``on_delete()`` act on the selected sale; ``on_filter()`` asks for a re-read.
    """

    def __init__(self, master: tk.Misc, on_edit: Callable[[], None], on_delete: Callable[[], None],
                 on_filter: Callable[[], None]):
        super().__init__(master, padding=(14, 12))
        self.shown: dict[str, BranchSale] = {}
        top = Flow(self, gap=12)
        top.grid(row=0, column=0, sticky="ew", pady=(0, 8))
        top.add(ttk.Label(top, text="Sales at this branch", style="Section.TLabel", padding=(0, 4, 0, 0)))
        self.waiting_only = tk.BooleanVar(self, value=False)
        self.waiting_check = top.add(ttk.Checkbutton(top, text="Only sales waiting to go", variable=self.waiting_only,
                                                     command=on_filter))
        find = ttk.Frame(top)
        ttk.Label(find, text="Quick filter (Ctrl+F)", style="Caption.TLabel", foreground=TONES["muted"]).pack(
            side="left", padx=(0, 8))
        self.filter_var = tk.StringVar(self)
        self.filter_entry = ttk.Entry(find, textvariable=self.filter_var, width=18)
        self.filter_entry.pack(side="left")
        top.add(find, push_right=True)
        refilter = Throttle(self, 300, on_filter)
        self.filter_var.trace_add("write", lambda *_: refilter.poke())

        self.table = DataTable(self, COLUMNS, height=16)
        self.table.grid(row=1, column=0, sticky="nsew")
        tree = self.table.tree
        tree.bind("<Double-1>", lambda e: on_edit())
        tree.bind("<Return>", lambda e: on_edit())
        tree.bind("<Delete>", lambda e: on_delete())
        tree.bind("<<TreeviewSelect>>", lambda e: self._selection_changed())
        self.note = ttk.Label(self, style="Caption.TLabel", foreground=TONES["bad"], wraplength=640, justify="left")
        self.note.grid(row=2, column=0, sticky="ew", pady=(6, 0))
        self.note.bind("<Configure>", lambda e: self.note.configure(wraplength=max(200, e.width)))

        bottom = ttk.Frame(self)
        bottom.grid(row=3, column=0, sticky="ew", pady=(8, 0))
        self.count_label = ttk.Label(bottom, style="Caption.TLabel", foreground=TONES["muted"])
        self.count_label.pack(side="left")
        self.delete_button = ttk.Button(bottom, text="Delete…", command=on_delete, state="disabled")
        self.delete_button.pack(side="right")
        self.edit_button = ttk.Button(bottom, text="Edit", command=on_edit, state="disabled")
        self.edit_button.pack(side="right", padx=(0, 8))
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)

    @property
    def filter_text(self) -> str:
        return self.filter_var.get()

    def show(self, page: SalesPage) -> None:
        """Show a page of sales and say how many match."""
        self.shown = {str(row.id): row for row in page.rows}
        self.table.set_rows(row_of(row) for row in page.rows)
        narrowed = [words for on, words in ((self.filter_text.strip(), "matching the filter"),
                                            (self.waiting_only.get(), "waiting to go")) if on]
        what = plural(page.matching, "sale") + (" " + " and ".join(narrowed) if narrowed else "")
        if page.matching > len(page.rows):
            what = f"Showing the newest {len(page.rows):,} of {what}"
        self.count_label.configure(text=what)
        self._selection_changed()

    def selected_sale(self) -> BranchSale | None:
        iid = self.table.selected()
        return self.shown.get(iid) if iid else None

    def _selection_changed(self) -> None:
        row = self.selected_sale()
        state = "normal" if row is not None else "disabled"
        self.edit_button.configure(state=state)
        self.delete_button.configure(state=state)
        text = note_on(row) if row is not None else ""
        self.note.configure(text=text)
        if text:
            self.note.grid()
        else:
            self.note.grid_remove()

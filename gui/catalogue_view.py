"""The Head Office's Catalogue tab: find a product, add one, change a price from a date, retire or bring back,
import and export CSV.

Every change is one catalogue version (``models.catalogue``); the consumer sends it
to every branch within seconds (sync/catalogue_feed.py).  Reads and writes run in a
worker thread; a refusal is one sentence under the form, nothing changed.
"""
from __future__ import annotations

import datetime as dt
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Any

from sqlalchemy.engine import Engine

from gui.background import run_in_thread
from gui.date_entry import DateEntry
from gui.formats import money, sentence
from gui.theme import TONES
from gui.widgets import Column, DataTable, LabelledField, Row
from models.catalogue import (
    Catalogue,
    CatalogueError,
    add_product,
    catalogue_write,
    load_catalogue,
    set_active,
    set_price,
)
from models.catalogue_csv import ImportRefused, export_csv, import_csv
from models.names import name_key

COLUMNS = [
    Column("product", "Product", 180, stretch=True, sample="Staplers"),
    Column("cost", "Cost today", 90, "e", sample="64.50"),
    Column("next", "Next price", 150, sample="2.50 from 2026-12-01"),
    Column("state", "On sale", 80, sample="retired"),
    Column("version", "Version", 70, "e", sample="1234"),
]
Confirm = Callable[[str, str], bool]


def rows_of(catalogue: Catalogue, day: dt.date, find: str = "") -> list[Row]:
    """A row per product whose name holds ``find``, by name: its cost on ``day`` and the next price after it."""
    wanted = name_key(find)
    rows = []
    for product in sorted(catalogue.products.values(), key=lambda p: name_key(p.name)):
        if wanted and wanted not in name_key(product.name):
            continue
        price = catalogue.price_on(product.id, day)
        later = [p for p in catalogue.prices.get(product.id, []) if p.effective_from > day]
        nxt = f"{money(later[0].cost)} from {later[0].effective_from:%Y-%m-%d}" if later else ""
        version = max([product.version, *(p.version for p in catalogue.prices.get(product.id, []))])
        rows.append(Row(str(product.id), (product.name, money(price.cost) if price else "—", nxt,
                                          "yes" if product.active else "retired", f"{version:,}"),
                        None if product.active else "muted"))
    return rows


class CatalogueView(ttk.Frame):
    """The catalogue's table with a find field, and a form to add a product or change a price from a date."""

    def __init__(self, master: tk.Misc, engine: Engine, confirm: Confirm, today: Callable[[], dt.date] = dt.date.today):
        super().__init__(master, padding=(0, 8, 0, 0))
        self.engine, self.confirm, self.today = engine, confirm, today
        self.catalogue: Catalogue | None = None

        top = ttk.Frame(self)
        top.grid(row=0, column=0, sticky="ew", pady=(0, 6))
        ttk.Label(top, text="Find").pack(side="left")
        self.find_var = tk.StringVar(self)
        self.find_entry = ttk.Entry(top, textvariable=self.find_var, width=24)
        self.find_entry.pack(side="left", padx=(6, 12))
        self.find_var.trace_add("write", lambda *_: self._show())
        self.version_label = ttk.Label(top, style="Caption.TLabel", foreground=TONES["muted"])
        self.version_label.pack(side="left")
        ttk.Button(top, text="Export CSV…", command=self.ask_export).pack(side="right")
        ttk.Button(top, text="Import CSV…", command=self.ask_import).pack(side="right", padx=(0, 6))

        self.table = DataTable(self, COLUMNS, height=12)
        self.table.grid(row=1, column=0, sticky="nsew")
        self.table.tree.bind("<<TreeviewSelect>>", lambda e: self._selected())

        form = ttk.Frame(self, padding=(0, 8, 0, 0))
        form.grid(row=2, column=0, sticky="ew")
        self.vars = {name: tk.StringVar(self) for name in ("product", "cost", "effective_from")}
        self.vars["effective_from"].set(self.today().isoformat())
        self.fields = {
            "product": LabelledField(form, "Product", lambda m: ttk.Entry(m, textvariable=self.vars["product"], width=22)),
            "cost": LabelledField(form, "Cost", lambda m: ttk.Entry(m, textvariable=self.vars["cost"], width=10,
                                                                    justify="right")),
            "effective_from": LabelledField(form, "From", lambda m: DateEntry(m, self.vars["effective_from"], width=11)),
        }
        for column, name in enumerate(("product", "cost", "effective_from")):
            self.fields[name].grid(row=0, column=column, sticky="nw", padx=(0, 10))
        buttons = ttk.Frame(form)
        buttons.grid(row=0, column=3, sticky="nw", pady=(18, 0))
        self.add_button = ttk.Button(buttons, text="Add product", command=self.add)
        self.add_button.pack(side="left")
        self.price_button = ttk.Button(buttons, text="Set price", style="Accent.TButton", command=self.change_price)
        self.price_button.pack(side="left", padx=(6, 0))
        self.retire_button = ttk.Button(buttons, text="Retire", command=self.toggle_active)
        self.retire_button.pack(side="left", padx=(6, 0))
        self.message = ttk.Label(self, wraplength=700, justify="left")
        self.message.grid(row=3, column=0, sticky="w", pady=(6, 0))
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)
        self.reload()

    # ------------------------------------------------------------ reading
    def reload(self) -> None:
        """Read the catalogue again (in a worker) and show it."""
        def done(ok: bool, value: Any) -> None:
            if ok:
                self.catalogue = value
                self._show()
            else:
                self.say(f"The catalogue could not be read: {value}", "bad")

        run_in_thread(self, lambda: load_catalogue(self.engine, head_office=True), done)

    def _show(self) -> None:
        if self.catalogue is None:
            return
        rows = rows_of(self.catalogue, self.today(), self.find_var.get())
        self.table.set_rows(rows)
        on_sale = sum(1 for p in self.catalogue.products.values() if p.active)
        self.version_label.configure(text=f"{on_sale:,} products on sale · catalogue version {self.catalogue.version:,}")
        self._selected()

    def selected_product(self) -> int | None:
        iid = self.table.selected()
        return int(iid) if iid else None

    def _selected(self) -> None:
        product_id = self.selected_product()
        product = self.catalogue.products.get(product_id) if self.catalogue and product_id else None
        self.retire_button.configure(text="Bring back" if product and not product.active else "Retire",
                                     state="normal" if product else "disabled")
        if product:
            self.vars["product"].set(product.name)
            price = self.catalogue.price_on(product.id, self.today()) if self.catalogue else None
            self.vars["cost"].set(str(price.cost) if price else "")

    def say(self, text: str, tone: str = "normal") -> None:
        self.message.configure(text=sentence(text) if text else "", foreground=TONES.get(tone, TONES["normal"]))

    # ------------------------------------------------------------ writing
    def _day(self) -> dt.date | None:
        try:
            return dt.date.fromisoformat(self.vars["effective_from"].get().strip())
        except ValueError:
            self.say("From must be a date written YYYY-MM-DD", "bad")
            return None

    def _write(self, work: Callable[[Any], Any], done_words: str) -> None:
        def done(ok: bool, value: Any) -> None:
            if ok:
                self.say(done_words, "good")
            elif isinstance(value, (CatalogueError, ImportRefused)):
                self.say(str(value), "bad")
            else:
                self.say(f"Nothing was changed: the database said {value}", "bad")
            self.reload()

        run_in_thread(self, lambda: catalogue_write(self.engine, work), done)

    def add(self) -> None:
        """Add the product typed, at the cost typed, from the date typed."""
        name, cost, day = self.vars["product"].get(), self.vars["cost"].get(), self._day()
        if day is not None:
            self._write(lambda conn: add_product(conn, name, cost, day), f"Added {name.strip()} at {cost} from {day}.")

    def change_price(self) -> None:
        """Give the selected product the cost typed from the date typed (the branches sell at it from that day)."""
        product_id, cost, day = self.selected_product(), self.vars["cost"].get(), self._day()
        if product_id is None:
            self.say("Select the product whose price changes", "bad")
            return
        if day is not None:
            name = self.catalogue.products[product_id].name if self.catalogue else "the product"
            self._write(lambda conn: set_price(conn, product_id, cost, day), f"{name} costs {cost} from {day}.")

    def toggle_active(self) -> None:
        """Retire the selected product (no longer sold at any branch), or bring it back."""
        product_id = self.selected_product()
        if product_id is None or self.catalogue is None:
            return
        product = self.catalogue.products[product_id]
        words = f"{product.name} is {'on sale again' if not product.active else 'retired'}."
        self._write(lambda conn: set_active(conn, product_id, not product.active), words)

    def import_file(self, path: str) -> None:
        """Import a CSV file (checked whole first); a held import is asked about before it is forced."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.say(f"{path} cannot be read as UTF-8 text ({exc.__class__.__name__}); nothing was changed", "bad")
            return

        def done(ok: bool, value: Any) -> None:
            if ok and value.held:
                if self.confirm("Import held", f"{value.held}\n\nImport it anyway?"):
                    self._write(lambda conn: import_csv(conn, text, self.today(), force=True),
                                f"Imported {Path(path).name}: {value.summary()}.")
                    return
                self.say(f"Nothing was changed. {value.held}", "warn")
            elif ok:
                self.say(f"Imported {Path(path).name}: {value.summary()}." if value.changes
                         else f"{Path(path).name} changes nothing.", "good")
            elif isinstance(value, ImportRefused):
                self.say(f"Nothing was changed; {Path(path).name} has problems:\n{value}", "bad")
            else:
                self.say(f"Nothing was changed: the database said {value}", "bad")
            self.reload()

        run_in_thread(self, lambda: catalogue_write(self.engine, lambda conn: import_csv(conn, text, self.today())),
                      done)

    def export_file(self, path: str) -> None:
        """Write the catalogue as CSV (it imports back unchanged)."""
        def done(ok: bool, value: Any) -> None:
            self.say(f"Exported the catalogue to {path}." if ok else f"The export failed: {value}", "good" if ok else "bad")

        def work() -> None:
            Path(path).write_text(export_csv(load_catalogue(self.engine, head_office=True), self.today()),
                                  encoding="utf-8")

        run_in_thread(self, work, done)

    def ask_import(self) -> None:
        path = filedialog.askopenfilename(parent=self, title="Import a catalogue",
                                          filetypes=[("CSV files", "*.csv"), ("All files", "*")])
        if path:
            self.import_file(path)

    def ask_export(self) -> None:
        path = filedialog.asksaveasfilename(parent=self, title="Export the catalogue", defaultextension=".csv",
                                            initialfile=f"catalogue-{self.today():%Y-%m-%d}.csv")
        if path:
            self.export_file(path)

"""The clerk's sale form: fields in keyboard order, live Amt/Tax/Total, a sentence beside each wrong value.

The form checks a sale with ``models.sale.new_sale``, the very rules the Head
Office applies, and computes amounts only through ``models.money.compute_line``.
It never touches the database: it hands a checked ``Sale`` to ``on_submit``.
"""
from __future__ import annotations

import datetime as dt
import tkinter as tk
from collections.abc import Callable
from decimal import Decimal
from tkinter import ttk

from gui.date_entry import DateEntry
from gui.formats import money, sentence
from gui.theme import TONES
from gui.widgets import LabelledField
from models.branch_sales import PRODUCT_CATALOGUE, catalogue_cost
from models.money import compute_line, parse_money
from models.sale import Sale, SaleInvalid, new_sale

FIELD_ORDER = ("sale_date", "region", "product", "qty", "cost")
LABELS = {"sale_date": "Date", "region": "Region", "product": "Product", "qty": "Qty", "cost": "Cost"}

# on_submit(sale, id of the sale being edited or None for a new one)
Submit = Callable[[Sale, int | None], None]


class SaleForm(ttk.Frame):
    """Date, Region, Product, Qty and Cost, then the computed amounts and Save.

    Enter anywhere in the form saves; Escape cancels an edit.  ``saved()`` clears
    it for the next sale, keeping the date and region, with focus on Product.
    """

    def __init__(self, master: tk.Misc, tax_rate: Decimal, default_region: str, on_submit: Submit):
        super().__init__(master, padding=(20, 16))
        self.tax_rate = tax_rate
        self.on_submit = on_submit
        self.editing_id: int | None = None
        self.vars = {name: tk.StringVar(self) for name in FIELD_ORDER}
        self.vars["sale_date"].set(dt.date.today().isoformat())
        self.vars["region"].set(default_region)
        self._previous_product = ""

        self.heading = ttk.Label(self, text="New sale", style="Section.TLabel")
        self.heading.grid(row=0, column=0, sticky="w", pady=(0, 12))
        self.fields = {
            "sale_date": LabelledField(self, "Date", lambda m: DateEntry(m, self.vars["sale_date"])),
            "region": LabelledField(self, "Region", lambda m: ttk.Combobox(m, textvariable=self.vars["region"],
                                                                           values=[default_region])),
            "product": LabelledField(self, "Product", lambda m: ttk.Combobox(m, textvariable=self.vars["product"],
                                                                             values=list(PRODUCT_CATALOGUE))),
            "qty": LabelledField(self, "Qty", lambda m: ttk.Entry(m, textvariable=self.vars["qty"], justify="right")),
            "cost": LabelledField(self, "Cost", lambda m: ttk.Entry(m, textvariable=self.vars["cost"], justify="right")),
        }
        for row, name in enumerate(FIELD_ORDER, start=1):
            self.fields[name].grid(row=row, column=0, sticky="ew", pady=(0, 6))
        self.inputs: dict[str, tk.Widget] = {name: field.input for name, field in self.fields.items()}
        self.inputs["sale_date"] = self.fields["sale_date"].input.entry

        self.amounts = self._build_amounts(row=len(FIELD_ORDER) + 1)
        buttons = ttk.Frame(self)
        buttons.grid(row=len(FIELD_ORDER) + 2, column=0, sticky="ew", pady=(16, 0))
        self.save_button = ttk.Button(buttons, text="Save sale", style="Accent.TButton", command=self.submit)
        self.save_button.pack(side="left", fill="x", expand=True)
        self.clear_button = ttk.Button(buttons, text="Clear", command=self.cancel)
        self.clear_button.pack(side="left", padx=(8, 0))
        ttk.Label(self, text="Enter saves · Esc clears · ↑/↓ change the date", style="Caption.TLabel",
                  foreground=TONES["muted"]).grid(
            row=len(FIELD_ORDER) + 3, column=0, sticky="w", pady=(10, 0))
        self.columnconfigure(0, weight=1)

        for widget in [*self.inputs.values(), self.save_button]:
            widget.bind("<Return>", self._on_enter)
            widget.bind("<KP_Enter>", self._on_enter)
            widget.bind("<Escape>", lambda e: self.cancel())
        for name, var in self.vars.items():
            var.trace_add("write", lambda *_, n=name: self._changed(n))
        self._update_amounts()

    @property
    def product_box(self) -> ttk.Combobox:
        return self.fields["product"].input

    @property
    def region_box(self) -> ttk.Combobox:
        return self.fields["region"].input

    def _build_amounts(self, row: int) -> dict[str, ttk.Label]:
        box = ttk.Frame(self, padding=(0, 10, 0, 0))
        box.grid(row=row, column=0, sticky="ew")
        ttk.Separator(box).grid(row=0, column=0, columnspan=2, sticky="ew", pady=(0, 8))
        labels = {}
        rate = (self.tax_rate * 100).normalize()
        for index, (name, title) in enumerate((("amt", "Amt"), ("tax", f"Tax ({rate:f}%)"), ("total", "Total")), start=1):
            ttk.Label(box, text=title).grid(row=index, column=0, sticky="w", pady=1)
            labels[name] = ttk.Label(box, text="—", style="Amount.TLabel", anchor="e")
            labels[name].grid(row=index, column=1, sticky="e", pady=1)
        box.columnconfigure(1, weight=1)
        return labels

    # ------------------------------------------------------------ reacting to typing
    def _changed(self, name: str) -> None:
        self.fields[name].show_error(None)
        if name == "product":
            self._fill_cost_from_catalogue()
        if name in ("qty", "cost"):
            self._update_amounts()

    def _fill_cost_from_catalogue(self) -> None:
        """Fill Cost from the catalogue unless the clerk has typed a cost of their own."""
        product = self.vars["product"].get()
        price = catalogue_cost(product)
        current = self.vars["cost"].get().strip()
        previous_price = catalogue_cost(self._previous_product)
        self._previous_product = product
        if price is not None and (not current or (previous_price is not None and current == str(previous_price))):
            self.vars["cost"].set(str(price))

    def _update_amounts(self) -> None:
        line = self.preview()
        for name in ("amt", "tax", "total"):
            self.amounts[name].configure(text=money(getattr(line, name)) if line else "—")

    def preview(self):
        """Amt, Tax and Total for what is typed so far, or None while Qty or Cost is not a valid value."""
        qty_text, cost_text = self.vars["qty"].get().strip(), self.vars["cost"].get().strip()
        if not qty_text.isdigit() or int(qty_text) < 1:
            return None
        try:
            cost = parse_money(cost_text)
        except ValueError:
            return None
        return compute_line(int(qty_text), cost, self.tax_rate) if cost >= 0 else None

    # ------------------------------------------------------------ saving
    def _on_enter(self, _event: tk.Event) -> str:
        self.submit()
        return "break"

    def submit(self) -> None:
        """Check what is typed; show a sentence per wrong field, or hand the sale to on_submit."""
        if str(self.save_button.cget("state")) == "disabled":
            return  # a save is already on its way
        try:
            sale = new_sale(tax_rate=self.tax_rate, **{name: self.vars[name].get() for name in FIELD_ORDER})
        except SaleInvalid as invalid:
            self.show_errors(invalid.errors)
            return
        self.on_submit(sale, self.editing_id)

    def show_errors(self, errors: dict[str, str]) -> None:
        """Put each sentence beside its field and the cursor in the first wrong one."""
        for name in FIELD_ORDER:
            self.fields[name].show_error(sentence(errors[name]) if name in errors else None)
        first = next((name for name in FIELD_ORDER if name in errors), None)
        if first:
            self.inputs[first].focus_set()

    def error_for(self, name: str) -> str:
        """The sentence shown beside a field ('' when none)."""
        return self.fields[name].error_text

    def set_busy(self, busy: bool) -> None:
        """While a save is on its way the button says so and cannot be pressed again."""
        label = "Save changes" if self.editing_id is not None else "Save sale"
        self.save_button.configure(state="disabled" if busy else "normal", text="Saving…" if busy else label)

    def saved(self) -> None:
        """Ready for the next sale: keep Date and Region, empty the rest, focus Product."""
        self._leave_edit()
        for name in ("product", "qty", "cost"):
            self.vars[name].set("")
        for field in self.fields.values():
            field.show_error(None)
        self.inputs["product"].focus_set()

    # ------------------------------------------------------------ editing
    def edit(self, sale_id: int, sale: Sale) -> None:
        """Load a saved sale into the form; Save then replaces it."""
        self.editing_id = sale_id
        self._previous_product = sale.product
        values = {"sale_date": sale.sale_date.isoformat(), "region": sale.region, "product": sale.product,
                  "qty": str(sale.qty), "cost": str(sale.cost)}
        for name, value in values.items():
            self.vars[name].set(value)
        for field in self.fields.values():
            field.show_error(None)
        self.heading.configure(text=f"Editing sale #{sale_id}")
        self.save_button.configure(text="Save changes")
        self.clear_button.configure(text="Cancel")
        self.inputs["qty"].focus_set()

    def cancel(self) -> None:
        """Escape: leave an edit without saving, or clear a half-typed sale."""
        self.saved()

    def _leave_edit(self) -> None:
        self.editing_id = None
        self.heading.configure(text="New sale")
        self.save_button.configure(text="Save sale")
        self.clear_button.configure(text="Clear")

    def set_regions(self, regions: list[str]) -> None:
        self.region_box.configure(values=regions)

"""The clerk's sale form: fields in keyboard order, live Amt/Tax/Total, a sentence beside each wrong value.

The form checks a sale with ``models.sale.new_sale``, the very rules the Head
Office applies, and computes amounts only through ``models.money.compute_line``.
Products come from the catalogue the branch received from the Head Office
(``models.catalogue``): Product completes as the clerk types (the rest of the
name selected, so typing on replaces it) and its list narrows to the names that
hold what is typed; Cost is filled with the price in effect on the sale's date,
and follows the date until the clerk types a cost of their own.  Whether the clerk
may type another cost (``allow_cost_override``) or a product the catalogue does not
have (``allow_free_products``: then asked about once) are the branch's settings.
Regions are matched to the names already known without regard to case
(``models.names``).  It never touches the database: it hands a checked ``Sale`` to
``on_submit``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import tkinter as tk
from collections.abc import Callable
from decimal import Decimal
from tkinter import ttk

from gui.date_entry import DateEntry
from gui.formats import day_text, money, sentence
from gui.keys import focus_and_select
from gui.theme import TONES
from gui.widgets import LabelledField
from models.catalogue import Catalogue, seed_catalogue
from models.money import MAX_COST, compute_line, parse_money
from models.names import known_spelling, merge_names, name_key
from models.sale import QTY_MAX, Sale, SaleInvalid, new_sale

FIELD_ORDER = ("sale_date", "region", "product", "qty", "cost")
HINT_NEW = "Enter saves · Esc clears · ↑/↓ change the date"
HINT_EDIT = "Enter saves the changes · Esc cancels the edit"
NAMED = {"product": "product", "region": "region"}  # fields whose names are matched to the known ones
FIELD_WIDTH = 16   # characters: room for usual names, and the form leaves the table its room

# on_submit(sale, id of the sale being edited or None for a new one)
Submit = Callable[[Sale, int | None], None]
# confirm(title, question) -> bool
Confirm = Callable[[str, str], bool]


def qty_unreadable(text: str) -> bool:
    """Text that looks like digits yet is no whole number ('²', '--5'): the sale rules would fail on it with
    Python's own words, so the form says it in a sentence instead."""
    stripped = text.strip()
    if not stripped.lstrip("-").isdigit():
        return False
    try:
        int(stripped)
    except ValueError:
        return True
    return False


class SaleForm(ttk.Frame):
    """Date, Region, Product, Qty and Cost, then the computed amounts and Save.

    Enter anywhere in the form saves; Escape cancels an edit.  ``saved()`` clears
    it for the next sale, keeping the date and region (after an edit: the ones it
    had before the edit), with focus on Product.  Every field the form puts the
    cursor in has its text selected, so typing replaces it.
    """

    def __init__(self, master: tk.Misc, tax_rate: Decimal, default_region: str, on_submit: Submit,
                 confirm: Confirm = lambda title, question: True, catalogue: Catalogue | None = None,
                 allow_cost_override: bool = True, allow_free_products: bool = False):
        super().__init__(master, padding=(16, 12))
        self.tax_rate = tax_rate
        self.on_submit = on_submit
        self.confirm = confirm
        self.allow_cost_override, self.allow_free_products = allow_cost_override, allow_free_products
        self.catalogue = catalogue or seed_catalogue()
        self.editing_id: int | None = None
        self._edited_product: str | None = None   # the product of the sale being edited (kept even if retired)
        self._before_edit: dict[str, str] | None = None   # date and region of the new sale an edit interrupted
        self.known = {"product": self.catalogue.names(), "region": [default_region]}
        self.vars = {name: tk.StringVar(self) for name in FIELD_ORDER}
        self.vars["sale_date"].set(dt.date.today().isoformat())
        self.vars["region"].set(default_region)
        self._filled_cost: str | None = None   # the cost the form put in Cost (None: the clerk's own, or none)
        self._loading = False                   # a saved sale's values are being put in: Cost is its own

        self.heading = ttk.Label(self, text="New sale", style="Section.TLabel")
        self.heading.grid(row=0, column=0, sticky="w", pady=(0, 8))
        self.fields = {
            "sale_date": LabelledField(self, "Date", lambda m: DateEntry(m, self.vars["sale_date"], width=11)),
            "region": LabelledField(self, "Region", lambda m: ttk.Combobox(m, textvariable=self.vars["region"], width=FIELD_WIDTH,
                                                                           values=self.known["region"])),
            "product": LabelledField(self, "Product", lambda m: ttk.Combobox(m, textvariable=self.vars["product"],
                                                                             width=FIELD_WIDTH, values=self.known["product"])),
            "qty": LabelledField(self, "Qty", lambda m: ttk.Entry(m, textvariable=self.vars["qty"], justify="right",
                                                                  width=FIELD_WIDTH)),
            "cost": LabelledField(self, "Cost", lambda m: ttk.Entry(m, textvariable=self.vars["cost"], justify="right",
                                                                    width=FIELD_WIDTH)),
        }
        for row, name in enumerate(FIELD_ORDER, start=1):
            self.fields[name].grid(row=row, column=0, sticky="ew", pady=(0, 8))
        self.inputs: dict[str, tk.Widget] = {name: field.input for name, field in self.fields.items()}
        self.inputs["sale_date"] = self.fields["sale_date"].input.entry
        if not allow_cost_override:
            self.fields["cost"].input.configure(state="readonly", takefocus=0)
        # Type-ahead runs after the entry's own binding has inserted the key.
        box = self.product_box
        box.bindtags((*box.bindtags()[:2], "TypeAhead", *box.bindtags()[2:]))
        box.bind_class("TypeAhead", "<KeyPress>", self._type_ahead)

        self.amounts = self._build_amounts(row=len(FIELD_ORDER) + 1)
        buttons = ttk.Frame(self)
        buttons.grid(row=len(FIELD_ORDER) + 2, column=0, sticky="ew", pady=(12, 0))
        self.save_button = ttk.Button(buttons, text="Save sale", style="Accent.TButton", command=self.submit)
        self.save_button.pack(side="left", fill="x", expand=True)
        self.clear_button = ttk.Button(buttons, text="Clear", command=self.cancel)
        self.clear_button.pack(side="left", padx=(8, 0))
        self.hint = ttk.Label(self, text=HINT_NEW, style="Caption.TLabel", foreground=TONES["muted"])
        self.hint.grid(row=len(FIELD_ORDER) + 3, column=0, sticky="w", pady=(8, 0))
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
        box = ttk.Frame(self, padding=(0, 6, 0, 0))
        box.grid(row=row, column=0, sticky="ew")
        ttk.Separator(box).grid(row=0, column=0, columnspan=2, sticky="ew", pady=(0, 6))
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
        if name in ("product", "sale_date"):
            self._fill_cost_from_catalogue()
        if name in ("qty", "cost"):
            self._update_amounts()

    def sale_day(self) -> dt.date | None:
        """The date typed, when it is one."""
        try:
            return dt.date.fromisoformat(self.vars["sale_date"].get().strip())
        except ValueError:
            return None

    def catalogue_cost(self) -> Decimal | None:
        """The catalogue's cost of the product typed, on the date typed (None: no such product or date)."""
        day = self.sale_day()
        return self.catalogue.cost_of(self.vars["product"].get(), day) if day else None

    def _fill_cost_from_catalogue(self) -> None:
        """Cost from the catalogue, on the sale's date, unless the clerk has typed a cost of their own."""
        if self._loading:
            return
        price = self.catalogue_cost()
        current = self.vars["cost"].get().strip()
        ours = not current or current == self._filled_cost or not self.allow_cost_override
        if ours and price is not None and current != str(price):
            self._filled_cost = str(price)
            self.vars["cost"].set(str(price))
        elif ours and price is None and self._filled_cost is not None and current == self._filled_cost:
            self._filled_cost = None   # no price on that day: the old one must not stay as if it were
            self.vars["cost"].set("")

    def _type_ahead(self, event: tk.Event) -> None:
        """Complete the product from the catalogue as it is typed, and narrow the list to what matches."""
        box = self.product_box
        typed = box.get()
        wanted = name_key(typed)
        names = self.known["product"]
        box.configure(values=[n for n in names if wanted in name_key(n)] or names)
        if not event.char or not event.char.isprintable() or event.keysym in ("BackSpace", "Delete"):
            return
        if box.index("insert") != len(typed) or not wanted:
            return   # typing inside the name, not at its end
        match = next((n for n in self.catalogue.names() if name_key(n).startswith(wanted)), None)
        if match and len(match) > len(typed) and name_key(match[:len(typed)]) == name_key(typed):
            self.vars["product"].set(match)
            box.icursor(len(typed))
            box.selection_range(len(typed), "end")

    def _update_amounts(self) -> None:
        line = self.preview()
        for name in ("amt", "tax", "total"):
            self.amounts[name].configure(text=money(getattr(line, name)) if line else "—")

    def preview(self):
        """Amt, Tax and Total for what is typed so far, or None while Qty or Cost is not a value a sale may have
        (a Total too large to store is still shown: the sentence on saving says why it is refused)."""
        qty_text, cost_text = self.vars["qty"].get().strip(), self.vars["cost"].get().strip()
        if not qty_text.isdecimal() or len(qty_text) > len(str(QTY_MAX)) or not 1 <= int(qty_text) <= QTY_MAX:
            return None
        try:
            cost = parse_money(cost_text)
        except ValueError:
            return None
        if not 0 <= cost <= MAX_COST:
            return None   # beyond any column: the sale is refused anyway, and the arithmetic would overflow
        return compute_line(int(qty_text), cost, self.tax_rate)

    # ------------------------------------------------------------ saving
    def _on_enter(self, _event: tk.Event) -> str:
        self.submit()
        return "break"

    def submit(self) -> None:
        """Check what is typed; show a sentence per wrong field, or hand the sale to on_submit."""
        if str(self.save_button.cget("state")) == "disabled":
            return  # a save is already on its way
        typed = {name: self.vars[name].get() for name in FIELD_ORDER}
        try:
            sale = new_sale(tax_rate=self.tax_rate, **typed)
        except SaleInvalid as invalid:
            errors = dict(invalid.errors)
            if qty_unreadable(typed["qty"]):
                errors["qty"] = "Qty must be a whole number, like 12"
            self.show_errors(errors)
            return
        refusal = self._catalogue_refusal(sale)
        if refusal:
            self.show_errors(refusal)
            return
        sale = self._with_known_names(sale)
        if sale is not None:
            self.on_submit(sale, self.editing_id)

    def _catalogue_refusal(self, sale: Sale) -> dict[str, str] | None:
        """Why the catalogue refuses this sale (a sentence per field), or None."""
        product = self.catalogue.find(sale.product)
        kept = self.editing_id is not None and self._edited_product is not None \
            and name_key(self._edited_product) == name_key(sale.product)
        if product is None:
            if self.allow_free_products or kept:
                return None
            return {"product": f"“{sale.product}” is not in the catalogue; choose a product from the list"}
        price = self.catalogue.price_on(product.id, sale.sale_date)
        if not product.active and not kept:
            return {"product": f"{product.name} is no longer on sale (the Head Office retired it)"}
        if price is None:
            if kept:
                return None
            later = [p.effective_from for p in self.catalogue.prices.get(product.id, []) if p.effective_from > sale.sale_date]
            when = f" before {later[0]:%Y-%m-%d}" if later else ""
            return {"product": f"{product.name} has no price in the catalogue{when}; check the date"}
        if not self.allow_cost_override and sale.cost != price.cost:
            return {"cost": f"The cost of {product.name} on {sale.sale_date:%Y-%m-%d} is {price.cost} "
                            "(this branch does not change the catalogue's costs)"}
        return None

    def _with_known_names(self, sale: Sale) -> Sale | None:
        """The sale with its product and region spelled as already known; None when the clerk declines a new name."""
        spelled = {}
        for field, word in NAMED.items():
            typed = getattr(sale, field)
            product = self.catalogue.find(typed) if field == "product" else None
            known = product.name if product else known_spelling(typed, self.known[field])
            if known is None:
                question = (f"“{typed}” is not a {word} this branch has used before.\n\n"
                            f"Save the sale with “{typed}” as a new {word}?")
                if not self.confirm(f"New {word}", question):
                    self.show_errors({field: f"Check the {word}: choose one from the list, or confirm “{typed}” as a new one"})
                    return None
                self.add_known(field, [typed])
                known = typed
            spelled[field] = known
            if known != self.vars[field].get():
                self.vars[field].set(known)   # the clerk sees what is stored
        return dataclasses.replace(sale, **spelled)

    def add_known(self, field: str, names: list[str]) -> None:
        """Add names to the known products or regions (the first spelling of a name stays)."""
        self.known[field] = merge_names(self.known[field], names)
        self.fields[field].input.configure(values=self.known[field])

    def show_errors(self, errors: dict[str, str]) -> None:
        """Put each sentence beside its field and the cursor, text selected, in the first wrong one."""
        for name in FIELD_ORDER:
            self.fields[name].show_error(sentence(errors[name]) if name in errors else None)
        first = next((name for name in FIELD_ORDER if name in errors), None)
        if first:
            focus_and_select(self.inputs[first])

    def error_for(self, name: str) -> str:
        """The sentence shown beside a field ('' when none)."""
        return self.fields[name].error_text

    def set_busy(self, busy: bool) -> None:
        """While a save is on its way the button says so and cannot be pressed again."""
        label = "Save changes" if self.editing_id is not None else "Save sale"
        self.save_button.configure(state="disabled" if busy else "normal", text="Saving…" if busy else label)

    def saved(self) -> None:
        """Ready for the next sale: keep Date and Region (those from before an edit), empty the rest, focus Product."""
        self._leave_edit()
        for name in ("product", "qty", "cost"):
            self.vars[name].set("")
        self._filled_cost = None
        for field in self.fields.values():
            field.show_error(None)
        self.inputs["product"].focus_set()

    # ------------------------------------------------------------ editing
    def edit(self, sale_id: int, sale: Sale) -> None:
        """Load a saved sale into the form; Save then replaces it.

        A stored value no sale may have (a row written by plain SQL) is shown as it
        is, with its sentence beside it, so the clerk can correct it.
        """
        if self._before_edit is None:
            self._before_edit = {name: self.vars[name].get() for name in ("sale_date", "region")}
        self.editing_id = sale_id
        self._edited_product = sale.product
        values = {"sale_date": day_text(sale.sale_date), "region": sale.region, "product": sale.product,
                  "qty": str(sale.qty), "cost": str(sale.cost)}
        self._loading = True
        try:
            for name, value in values.items():
                self.vars[name].set(value)
        finally:
            self._loading = False
        # Cost follows a new date only if it was the catalogue's on the sale's own date.
        self._filled_cost = values["cost"] if self.catalogue_cost() == sale.cost else None
        for field in self.fields.values():
            field.show_error(None)
        self.heading.configure(text=f"Editing sale #{sale_id}")
        self.save_button.configure(text="Save changes")
        self.clear_button.configure(text="Cancel")
        self.hint.configure(text=HINT_EDIT)
        try:
            new_sale(tax_rate=self.tax_rate, **values)
        except SaleInvalid as invalid:
            self.show_errors(invalid.errors)
            return
        focus_and_select(self.inputs["qty"])

    def cancel(self) -> None:
        """Escape: leave an edit without saving, or clear a half-typed sale."""
        self.saved()

    def _leave_edit(self) -> None:
        self.editing_id = None
        self._edited_product = None
        if self._before_edit is not None:
            for name, value in self._before_edit.items():
                self.vars[name].set(value)
            self._before_edit = None
        self.heading.configure(text="New sale")
        self.save_button.configure(text="Save sale")
        self.clear_button.configure(text="Clear")
        self.hint.configure(text=HINT_NEW)

    def set_known(self, products: list[str], regions: list[str]) -> None:
        """Offer these regions (besides the office's), and these products where the branch allows free entry."""
        if self.allow_free_products:
            self.add_known("product", products)
        self.add_known("region", regions)

    def set_catalogue(self, catalogue: Catalogue) -> None:
        """Sell from this catalogue from now on (the branch received a new one); Cost follows it."""
        self.catalogue = catalogue
        extra = [n for n in self.known["product"] if self.allow_free_products and catalogue.find(n) is None]
        self.known["product"] = merge_names(catalogue.names(), extra)
        self.product_box.configure(values=self.known["product"])
        self._fill_cost_from_catalogue()

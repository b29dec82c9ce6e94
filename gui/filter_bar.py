"""The Head Office filter: branch, region, product and a date range, applied as the manager picks them."""
from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from gui.date_entry import DateEntry, parse_date
from gui.theme import TONES
from models.head_office_view import FilterChoices, SalesFilter

ALL_BRANCHES, ALL_REGIONS, ALL_PRODUCTS = "All branches", "All regions", "All products"


class FilterBar(ttk.Frame):
    """Picks a SalesFilter.  A list choice applies at once; typed text applies on Enter or on leaving the field.

    A date that is not a date gets a sentence, and the filter stays as it was.
    """

    def __init__(self, master: tk.Misc, branches: dict[str, str], on_change: Callable[[SalesFilter], None]):
        super().__init__(master)
        self.on_change = on_change
        self.applied = SalesFilter()
        self._resetting = False
        self._branch_codes = {ALL_BRANCHES: None} | {f"{name} ({code})": code for code, name in branches.items()}
        self.vars = {name: tk.StringVar(self) for name in ("branch", "region", "product", "date_from", "date_to")}
        self.vars["branch"].set(ALL_BRANCHES)
        self.vars["region"].set(ALL_REGIONS)
        self.vars["product"].set(ALL_PRODUCTS)

        self.branch_box = ttk.Combobox(self, textvariable=self.vars["branch"], values=list(self._branch_codes),
                                       state="readonly", width=15)
        self.region_box = ttk.Combobox(self, textvariable=self.vars["region"], values=[ALL_REGIONS], width=10)
        self.product_box = ttk.Combobox(self, textvariable=self.vars["product"], values=[ALL_PRODUCTS], width=10)
        self.from_entry = DateEntry(self, self.vars["date_from"], width=9)
        self.to_entry = DateEntry(self, self.vars["date_to"], width=9)
        column = 0
        for label, widget in (("Branch", self.branch_box), ("Region", self.region_box), ("Product", self.product_box),
                              ("From", self.from_entry), ("To", self.to_entry)):
            ttk.Label(self, text=label, style="Caption.TLabel", foreground=TONES["muted"]).grid(row=0, column=column, sticky="w")
            widget.grid(row=1, column=column, sticky="ew", padx=(0, 8))
            column += 1
        self.clear_button = ttk.Button(self, text="Clear", command=self.clear)
        self.clear_button.grid(row=1, column=column, sticky="w")
        self.error = ttk.Label(self, style="Caption.TLabel", foreground=TONES["bad"])
        self.error.grid(row=2, column=0, columnspan=column + 1, sticky="w")

        for box in (self.branch_box, self.region_box, self.product_box):
            box.bind("<<ComboboxSelected>>", lambda e: self.apply())
        for widget in (self.region_box, self.product_box, self.from_entry.entry, self.to_entry.entry):
            widget.bind("<Return>", lambda e: self.apply())
            widget.bind("<KP_Enter>", lambda e: self.apply())
            widget.bind("<FocusOut>", lambda e: self.apply(), add="+")
        # A date picked from the calendar applies at once.
        for name in ("date_from", "date_to"):
            self.vars[name].trace_add("write", lambda *_: self._date_picked())

    def _date_picked(self) -> None:
        if not self._resetting and self.focus_get() not in (self.from_entry.entry, self.to_entry.entry):
            self.apply()

    def read(self) -> SalesFilter | None:
        """The filter as shown, or None (with a sentence shown) when a date cannot be read."""
        dates = {}
        for name, label in (("date_from", "From"), ("date_to", "To")):
            text = self.vars[name].get().strip()
            dates[name] = parse_date(text) if text else None
            if text and dates[name] is None:
                self.error.configure(text=f"{label}: write a date as YYYY-MM-DD, like 2021-04-29, or leave it empty.")
                return None
        if dates["date_from"] and dates["date_to"] and dates["date_from"] > dates["date_to"]:
            self.error.configure(text="The From date is after the To date, so nothing could match; swap them.")
            return None
        self.error.configure(text="")

        def chosen(name: str, everything: str) -> str | None:
            text = self.vars[name].get().strip()
            return None if text in ("", everything) else text

        return SalesFilter(
            branch=self._branch_codes.get(self.vars["branch"].get()),
            region=chosen("region", ALL_REGIONS), product=chosen("product", ALL_PRODUCTS), **dates,
        )

    def apply(self) -> None:
        """Tell the window about the filter if it changed."""
        wanted = self.read()
        if wanted is not None and wanted != self.applied:
            self.applied = wanted
            self.on_change(wanted)

    def clear(self) -> None:
        """Back to every sale."""
        self._resetting = True
        try:
            self.vars["branch"].set(ALL_BRANCHES)
            self.vars["region"].set(ALL_REGIONS)
            self.vars["product"].set(ALL_PRODUCTS)
            self.vars["date_from"].set("")
            self.vars["date_to"].set("")
        finally:
            self._resetting = False
        self.apply()

    def choose_branch(self, code: str | None) -> None:
        """Select a branch by code (None for all) and apply."""
        label = next(label for label, c in self._branch_codes.items() if c == code)
        self.vars["branch"].set(label)
        self.apply()

    def set_choices(self, choices: FilterChoices) -> None:
        """Offer the regions and products that exist."""
        self.region_box.configure(values=[ALL_REGIONS, *choices.regions])
        self.product_box.configure(values=[ALL_PRODUCTS, *choices.products])

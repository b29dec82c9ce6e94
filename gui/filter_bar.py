"""The Head Office filter: branch, region, product and a date range (typed, picked, or a named period).

A list choice applies at once; typed text applies on Enter or on leaving the
field.  The fields wrap onto a second line in a narrow window.
"""
from __future__ import annotations

import datetime as dt
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from gui.date_entry import DateEntry, parse_date
from gui.flow import Flow
from gui.periods import ANY_TIME, CUSTOM, PERIODS, period_named, period_range
from gui.theme import TONES
from models.head_office_view import FilterChoices, SalesFilter

ALL_BRANCHES, ALL_REGIONS, ALL_PRODUCTS = "All branches", "All regions", "All products"
DATE_WIDTH = 11   # characters: YYYY-MM-DD and a little room


def branch_labels(branches: dict[str, str]) -> dict[str, str | None]:
    """'All branches' and each branch as 'Name (code)', by name, with the code each stands for."""
    return {ALL_BRANCHES: None} | dict(sorted((f"{name} ({code})", code) for code, name in branches.items()))


class FilterBar(ttk.Frame):
    """Picks a SalesFilter; a date that is not a date gets a sentence, and the filter stays as it was."""

    def __init__(self, master: tk.Misc, branches: dict[str, str], on_change: Callable[[SalesFilter], None],
                 today: Callable[[], dt.date] = dt.date.today):
        super().__init__(master)
        self.on_change, self.today = on_change, today
        self.applied = SalesFilter()
        self._resetting = False
        self._branch_codes = branch_labels(branches)
        self.vars = {name: tk.StringVar(self) for name in ("branch", "region", "product", "period", "date_from", "date_to")}
        self.vars["branch"].set(ALL_BRANCHES)
        self.vars["region"].set(ALL_REGIONS)
        self.vars["product"].set(ALL_PRODUCTS)
        self.vars["period"].set(ANY_TIME)

        self.flow = Flow(self, gap=8)
        self.flow.grid(row=0, column=0, sticky="ew")
        self.branch_box = ttk.Combobox(self._cell("Branch"), textvariable=self.vars["branch"],
                                       values=list(self._branch_codes), state="readonly", width=18)
        self.region_box = ttk.Combobox(self._cell("Region"), textvariable=self.vars["region"], values=[ALL_REGIONS], width=11)
        self.product_box = ttk.Combobox(self._cell("Product"), textvariable=self.vars["product"], values=[ALL_PRODUCTS],
                                        width=11)
        self.period_box = ttk.Combobox(self._cell("Dates"), textvariable=self.vars["period"],
                                       values=[ANY_TIME, *PERIODS, CUSTOM], state="readonly", width=12)
        self.from_entry = DateEntry(self._cell("From"), self.vars["date_from"], width=DATE_WIDTH)
        self.to_entry = DateEntry(self._cell("To"), self.vars["date_to"], width=DATE_WIDTH)
        for widget in (self.branch_box, self.region_box, self.product_box, self.period_box, self.from_entry, self.to_entry):
            widget.grid(row=1, column=0, sticky="ew")
        cell = self._cell("")
        self.clear_button = ttk.Button(cell, text="Clear", command=self.clear)
        self.clear_button.grid(row=1, column=0, sticky="w")
        self.error = ttk.Label(self, style="Caption.TLabel", foreground=TONES["bad"])
        self.error.grid(row=1, column=0, sticky="w")
        self.columnconfigure(0, weight=1)

        for box in (self.branch_box, self.region_box, self.product_box):
            box.bind("<<ComboboxSelected>>", lambda e: self.apply())
        self.period_box.bind("<<ComboboxSelected>>", lambda e: self.choose_period(self.vars["period"].get()))
        for widget in (self.region_box, self.product_box, self.from_entry.entry, self.to_entry.entry):
            widget.bind("<Return>", lambda e: self.apply())
            widget.bind("<KP_Enter>", lambda e: self.apply())
            widget.bind("<FocusOut>", lambda e: self.apply(), add="+")
        # A date picked from the calendar applies at once.
        for name in ("date_from", "date_to"):
            self.vars[name].trace_add("write", lambda *_: self._date_picked())

    def _cell(self, caption: str) -> ttk.Frame:
        """A captioned cell of the flow; the widget goes in its row 1."""
        cell = ttk.Frame(self.flow)
        ttk.Label(cell, text=caption, style="Caption.TLabel", foreground=TONES["muted"]).grid(row=0, column=0, sticky="w")
        self.flow.add(cell)
        return cell

    @property
    def first_field(self) -> tk.Widget:
        return self.branch_box

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
        """Tell the window about the filter if it changed, and name the dates' period."""
        wanted = self.read()
        if wanted is None:
            return
        self._quietly("period", period_named(wanted.date_from, wanted.date_to, self.today()))
        if wanted != self.applied:
            self.applied = wanted
            self.on_change(wanted)

    def choose_period(self, name: str) -> None:
        """Fill From and To for a named period (or empty them for any time) and apply."""
        if name in PERIODS:
            first, last = period_range(name, self.today())
            self._quietly("date_from", first.isoformat())
            self._quietly("date_to", last.isoformat())
        elif name == ANY_TIME:
            self._quietly("date_from", "")
            self._quietly("date_to", "")
        self.apply()

    def _quietly(self, name: str, value: str) -> None:
        """Set a field without it applying the filter on its own."""
        self._resetting = True
        try:
            self.vars[name].set(value)
        finally:
            self._resetting = False

    def clear(self) -> None:
        """Back to every sale."""
        for name, value in (("branch", ALL_BRANCHES), ("region", ALL_REGIONS), ("product", ALL_PRODUCTS),
                            ("date_from", ""), ("date_to", "")):
            self._quietly(name, value)
        self.apply()

    def choose_branch(self, code: str | None) -> None:
        """Select a branch by code (None for all) and apply."""
        label = next(label for label, c in self._branch_codes.items() if c == code)
        self.vars["branch"].set(label)
        self.apply()

    def set_branches(self, branches: dict[str, str]) -> None:
        """Offer these branches (code -> name), by name."""
        self._branch_codes = branch_labels(branches)
        self.branch_box.configure(values=list(self._branch_codes))

    def set_choices(self, choices: FilterChoices) -> None:
        """Offer the regions and products that exist."""
        self.region_box.configure(values=[ALL_REGIONS, *choices.regions])
        self.product_box.configure(values=[ALL_PRODUCTS, *choices.products])

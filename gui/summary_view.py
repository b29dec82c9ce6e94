"""Subtotals of the filtered sales, by branch, region, product, day or month, and by a second one within it.

A pivot a manager asks for ("each branch, and each product within it"): the
subtotal of each group of the first choice, tinted, with the lines of the second
choice under it, and the grand total below.  Read with ``models.summaries``
for the window's filter; exportable like the sales.
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
from gui.theme import TONES, paint
from gui.widgets import Column, DataTable, Row
from models.head_office_view import SalesFilter
from models.summaries import Dimension, Summary, SummaryLine, sales_summary

NAMES = {Dimension.BRANCH: "Branch", Dimension.REGION: "Region", Dimension.PRODUCT: "Product", Dimension.DAY: "Day",
         Dimension.MONTH: "Month"}
NOTHING = "nothing more"
FIGURES = [Column("sales", "Sales", 70, "e", sample="60,000"), Column("qty", "Qty", 70, "e", sample="390,437"),
           Column("amt", "Amt", 110, "e", sample="4,699,447.50"), Column("tax", "Tax", 95, "e", sample="328,991.57"),
           Column("total", "Total", 110, "e", sample="5,028,439.07")]
INDENT = "      "
STALE = "stale"    # the tag of lines greyed until the new choice's subtotals arrive


def figures(line: SummaryLine) -> tuple:
    return (f"{line.sales:,}", f"{line.qty:,}", money(line.amt), money(line.tax), money(line.total))


class SummaryView(ttk.Frame):
    """Choices of grouping, the subtotals table, the grand total and export.

    ``branch_name(code)`` names branches; ``say``/``problem``/``answered`` report as the sales view does.
    """

    def __init__(self, master: tk.Misc, engine, branch_name: Callable[[str], str], say, problem, answered):
        super().__init__(master, padding=(12, 12, 12, 8))
        self.engine, self.branch_name, self.say, self.problem, self.answered = engine, branch_name, say, problem, answered
        self.ask_export_path: Callable[[], str] = lambda: ask_csv_path("Export the subtotals", f"subtotals-{dt.date.today()}.csv")
        self.filter = SalesFilter()
        self.summary: Summary | None = None
        self._summary_for: tuple | None = None
        self._job = Newest(self)
        self._rows: list[Row] = []     # the lines shown, in their own tones (greyed while updating)
        self._rows_drawn: tuple[list[Row], bool] | None = None

        controls = Flow(self, gap=8)
        controls.grid(row=0, column=0, sticky="ew", pady=(0, 8))
        self.first_var, self.then_var = tk.StringVar(self, value="Branch"), tk.StringVar(self, value="Product")
        controls.add(ttk.Label(controls, text="Subtotals by", padding=(0, 6, 0, 0)))
        self.first_box = controls.add(ttk.Combobox(controls, textvariable=self.first_var, state="readonly", width=9,
                                                   values=list(NAMES.values())))
        controls.add(ttk.Label(controls, text="then by", padding=(0, 6, 0, 0)))
        self.then_box = controls.add(ttk.Combobox(controls, textvariable=self.then_var, state="readonly", width=13,
                                                  values=[NOTHING, *NAMES.values()]))
        self.export_button = controls.add(ttk.Button(controls, text="Export CSV… (Ctrl+E)", command=self.export_csv),
                                          push_right=True)
        for box in (self.first_box, self.then_box):
            box.bind("<<ComboboxSelected>>", lambda e: self.reload())

        self.table = DataTable(self, [Column("group", "Branch / Product", 220, stretch=True, sample="Aberdeen"), *FIGURES], height=14)
        self.table.grid(row=1, column=0, sticky="nsew")
        self.table.tree.tag_configure(STALE, foreground=TONES["stale"])
        self.export_progress = ExportProgress(self)
        self.note = ttk.Label(self, style="Caption.TLabel", foreground=TONES["muted"])
        self.note.grid(row=3, column=0, sticky="w", pady=(6, 0))
        self.total_line = FigureLine(self, ["sales", "qty", "amt", "tax", "total"])
        self.total_line.grid(row=4, column=0, sticky="ew", pady=(6, 0))
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)

    # ------------------------------------------------------------ choices
    def grouping(self) -> tuple[Dimension, ...]:
        """The dimensions chosen (the second is dropped when it is none or the same as the first)."""
        by = {name: d for d, name in NAMES.items()}
        first = by[self.first_var.get()]
        then = by.get(self.then_var.get())
        return (first,) if then in (None, first) else (first, then)

    def set_filter(self, filt: SalesFilter) -> None:
        self.filter = filt
        self.reload()

    @property
    def updating(self) -> bool:
        """Whether what is shown belongs to another filter or grouping than the one chosen."""
        return self._summary_for != (self.filter, self.grouping())

    @property
    def last_read_seconds(self) -> float | None:
        return self._job.last_seconds

    @property
    def pending(self) -> bool:
        """Whether a read of the subtotals is still running (or waiting to)."""
        return self._job.pending

    # ------------------------------------------------------------ reading
    def reload(self) -> None:
        """Re-read the subtotals for the filter and grouping chosen; what is shown meanwhile is marked."""
        filt, by = self.filter, self.grouping()

        def done(ok: bool, value) -> None:
            if not ok:
                self.problem(value)
            elif (filt, by) == (self.filter, self.grouping()):
                self.answered()
                self.summary, self._summary_for = value, (filt, by)
                self._show()

        self._job.submit(lambda: sales_summary(self.engine, filt, by), done)
        self._show_state()

    def label(self, dimension: Dimension, value) -> str:
        if dimension is Dimension.BRANCH:
            return self.branch_name(value)
        if dimension is Dimension.DAY:
            return day_text(value)
        return visible(value) if value != "" else "(empty)"

    def _show(self) -> None:
        summary = self.summary
        by = summary.by
        self.table.tree.heading("group", text=" / ".join(NAMES[d] for d in by))
        rows: list[Row] = []
        if len(by) == 1:
            rows = [Row(f"l{i}", (self.label(by[0], line.key[0]), *figures(line))) for i, line in enumerate(summary.lines)]
        else:
            children: dict = {}
            for line in summary.lines:
                children.setdefault(line.key[0], []).append(line)
            for i, sub in enumerate(summary.subtotals):
                rows.append(Row(f"s{i}", (self.label(by[0], sub.key[0]), *figures(sub)), "busy"))
                rows += [Row(f"s{i}l{j}", (INDENT + self.label(by[1], line.key[1]), *figures(line)))
                         for j, line in enumerate(children.get(sub.key[0], []))]
        self._rows = rows
        self._show_state()

    def _show_state(self) -> None:
        notes = []
        if self.updating:
            notes.append("Updating for the new choice…")
        if self.summary is not None and self.summary.truncated:
            notes.append(f"Showing the first {len(self.summary.lines):,} lines; narrow the filter to see the rest "
                         "(the subtotals and the total count everything).")
        self.note.configure(text=" ".join(notes))
        paint(self.note, "busy" if self.updating else "muted")
        total = self.summary.total if self.summary is not None else None
        texts = {} if total is None else {
            "sales": f"Total of {plural(total.sales, 'sale')}:", "qty": f"Qty {total.qty:,}", "amt": f"Amt {money(total.amt)}",
            "tax": f"Tax {money(total.tax)}", "total": f"Total {money(total.total)}"}
        self.total_line.show(texts, dict.fromkeys(texts, "stale" if self.updating else "normal"))
        if self._rows_drawn != (self._rows, self.updating):     # lines greyed, or shown in their own tones again
            self._rows_drawn = (self._rows, self.updating)
            self.table.set_rows([Row(r.iid, r.values, STALE) for r in self._rows] if self.updating else self._rows)

    # ------------------------------------------------------------ export
    def export_rows(self) -> tuple[list[str], list[tuple]]:
        """The header and rows of the export: every line, each subtotal and the total, with screen labels."""
        summary = self.summary
        by = summary.by
        heads = [NAMES[d] for d in by] + [c.heading for c in FIGURES]
        plain = lambda line: (line.sales, line.qty, line.amt, line.tax, line.total)  # noqa: E731
        rows: list[tuple] = []
        if len(by) == 1:
            rows = [(self.label(by[0], line.key[0]), *plain(line)) for line in summary.lines]
        else:
            lines = {}
            for line in summary.lines:
                lines.setdefault(line.key[0], []).append(line)
            for sub in summary.subtotals:
                rows += [(self.label(by[0], line.key[0]), self.label(by[1], line.key[1]), *plain(line))
                         for line in lines.get(sub.key[0], [])]
                rows.append((self.label(by[0], sub.key[0]), f"All {NAMES[by[1]].lower()}s", *plain(sub)))
        rows.append(("Total", *([""] * (len(by) - 1)), *plain(summary.total)))
        return heads, rows

    def export_csv(self) -> None:
        """Write the subtotals on screen to a CSV file the manager names."""
        if self.summary is None or self.updating or self.export_progress.running:
            self.say("The subtotals are still being read; export them once they are shown.", "muted")
            return
        path = self.ask_export_path()
        if not path:
            return
        header, rows = self.export_rows()
        self.export_button.configure(state="disabled")
        self.export_progress.reset()
        self.export_progress.grid(row=2, column=0, sticky="e", pady=(6, 0))

        def done(ok: bool, value) -> None:
            self.export_progress.grid_remove()
            self.export_button.configure(state="normal")
            report_export(self.say, self.problem, path, ok, value)

        self.export_progress.start(path, header, lambda: rows, len(rows), done)

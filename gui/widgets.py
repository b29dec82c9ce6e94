"""Widgets both windows use: a table that survives refreshes, a status bar, a banner, a labelled field."""
from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from tkinter import ttk

from gui.notice import Notice, Words
from gui.theme import BAR, TINTS, TONES, paint


@dataclass(frozen=True)
class Column:
    """One table column: its key, heading, natural width in pixels, alignment, whether it takes spare width,
    and a sample of its widest usual value: the column is never squeezed below what the sample (and the
    heading) need in the table's font."""

    key: str
    heading: str
    width: int
    anchor: str = "w"
    stretch: bool = False
    sample: str = ""


CELL_PADDING = 10     # pixels around a cell's text
TREE_INSET = 10       # a Treeview's border and padding, both sides together
HEADING_EXTRA = 2     # a heading's padding is a little wider than a cell's


def fit_widths(natural: list[int], minimum: list[int], stretch: list[bool], available: int) -> list[int]:
    """Column widths that fill ``available`` pixels: spare width goes to the stretching columns; when there
    is too little, every column gives up width in proportion to what it can spare, none below its minimum."""
    natural = [max(n, m) for n, m in zip(natural, minimum, strict=True)]
    spare = available - sum(natural)
    if spare >= 0:
        takers = [i for i, s in enumerate(stretch) if s] or list(range(len(natural)))
        widths = list(natural)
        for n, i in enumerate(takers):
            widths[i] += spare // len(takers) + (1 if n < spare % len(takers) else 0)
        return widths
    squeezable = sum(n - m for n, m in zip(natural, minimum, strict=True))
    if squeezable <= 0:
        return list(minimum)
    ratio = min(1.0, -spare / squeezable)
    return [n - int((n - m) * ratio + 0.999) for n, m in zip(natural, minimum, strict=True)]


@dataclass(frozen=True)
class Row:
    """One table row: a stable id (kept across refreshes), the cell texts and an optional tone."""

    iid: str
    values: tuple
    tone: str | None = None


def ellipsized(text: str, width: int, font: tkfont.Font) -> str:
    """``text`` if it fits ``width`` pixels in ``font``, else its longest beginning that fits with '…' after it."""
    if width <= 0 or font.measure(text) <= width:
        return text
    low, high = 0, len(text)
    while low < high:            # the longest prefix whose ellipsized form fits
        middle = (low + high + 1) // 2
        if font.measure(text[:middle].rstrip() + "…") <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "…"


class DataTable(ttk.Frame):
    """A Treeview with a scroll bar whose rows can be replaced without the reader losing their place.

    ``set_rows`` updates rows in place by id, so the selection survives, and keeps the
    row that was at the top of the view at the top (unless the view was at the very
    top, where new rows should be seen).  The columns always fill the table's width
    (``fit_widths``); only when even their minimums do not fit does a horizontal
    scroll bar appear, so no column is ever cut off out of reach.
    """

    def __init__(self, master: tk.Misc, columns: list[Column], on_sort: Callable[[str], None] | None = None,
                 height: int = 12, selectmode: str = "browse", scroll: bool = True, show: str = "headings"):
        super().__init__(master)
        self.columns = columns
        self.tree = ttk.Treeview(self, columns=[c.key for c in columns], show=show, height=height, selectmode=selectmode)
        self.tree.grid(row=0, column=0, sticky="nsew")
        if scroll:
            bar = ttk.Scrollbar(self, orient="vertical", command=self.tree.yview)
            self.tree.configure(yscrollcommand=bar.set)
            bar.grid(row=0, column=1, sticky="ns")
        self.xbar = ttk.Scrollbar(self, orient="horizontal", command=self.tree.xview)
        self.tree.configure(xscrollcommand=self.xbar.set)
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)
        if "tree" in show:
            self.tree.column("#0", width=0, minwidth=0, stretch=False)
        body = tkfont.nametofont(str(ttk.Style(self).lookup("Treeview", "font")) or "TkDefaultFont", root=self)
        heading = tkfont.nametofont("TkHeadingFont", root=self)
        self.minimum = [max(heading.measure(c.heading) + HEADING_EXTRA, body.measure(c.sample)) + CELL_PADDING
                        for c in columns]
        for col in columns:
            command = (lambda key=col.key: on_sort(key)) if on_sort else ""
            self.tree.heading(col.key, text=col.heading, anchor=col.anchor, command=command)
            self.tree.column(col.key, width=col.width, minwidth=20, anchor=col.anchor, stretch=False)
        for tone, colour in TINTS.items():
            self.tree.tag_configure(tone, background=colour)
        self._fitted_to = 0
        self._font = body
        self._rows: dict[str, Row] = {}    # the rows shown, with their whole texts
        self.tree.bind("<Configure>", lambda e: self.fit(e.width), add="+")

    def fit(self, width: int) -> None:
        """Size the columns to fill ``width`` pixels (what the table does whenever it is resized)."""
        if width <= 1 or width == self._fitted_to:
            return
        self._fitted_to = width
        tree_column = int(self.tree.column("#0", "width")) if "tree" in str(self.tree.cget("show")) else 0
        widths = fit_widths([c.width for c in self.columns], self.minimum, [c.stretch for c in self.columns],
                            width - tree_column - TREE_INSET)
        for col, w in zip(self.columns, widths, strict=True):
            self.tree.column(col.key, width=w)
        if sum(widths) + tree_column > width:
            self.xbar.grid(row=1, column=0, sticky="ew")
        else:
            self.xbar.grid_remove()
        for iid, row in self._rows.items():   # texts cut for the old widths may fit whole now, or need cutting
            self.tree.item(iid, values=self._fitting(row.values))

    def _fitting(self, values: tuple) -> tuple:
        """The values as shown: a text wider than its stretching column ends in '…' rather than being cut
        mid-word with nothing to say so ('Reading 2' for 'Reading 25')."""
        shown = list(values)
        for i, col in enumerate(self.columns):
            if col.stretch and i < len(shown):
                shown[i] = ellipsized(str(shown[i]), int(self.tree.column(col.key, "width")) - CELL_PADDING, self._font)
        return tuple(shown)

    def clipped_columns(self) -> list[str]:
        """Columns that do not wholly show in the table's width while no scroll bar can reach them (none, normally)."""
        if self.xbar.winfo_ismapped():
            return []
        shown = self.tree.winfo_width()
        x, cut = int(self.tree.column("#0", "width")) if "tree" in str(self.tree.cget("show")) else 0, []
        for col in self.columns:
            x += int(self.tree.column(col.key, "width"))
            if x > shown:
                cut.append(col.key)
        return cut

    def set_rows(self, rows: Iterable[Row]) -> None:
        """Show exactly ``rows``, in order, keeping selection and scroll position."""
        tree = self.tree
        before = tree.get_children()
        top = self._top_row(before)
        wanted = list(rows)
        keep = {row.iid for row in wanted}
        for iid in before:
            if iid not in keep:
                tree.delete(iid)
        present = set(tree.get_children())
        self._rows = {row.iid: row for row in wanted}
        for index, row in enumerate(wanted):
            tags = (row.tone,) if row.tone else ()
            if row.iid in present:
                tree.item(row.iid, values=self._fitting(row.values), tags=tags)
                tree.move(row.iid, "", index)
            else:
                tree.insert("", index, iid=row.iid, values=self._fitting(row.values), tags=tags)
        if top is not None and tree.exists(top):
            tree.yview_moveto(tree.index(top) / max(1, len(wanted)))

    def _top_row(self, children: tuple) -> str | None:
        """The row at the top of the view, unless the view is at the very top."""
        first, _last = self.tree.yview()
        if not children or first <= 0:
            return None
        return children[min(len(children) - 1, round(first * len(children)))]

    def show_sort(self, key: str, descending: bool) -> None:
        """Mark the sorted column's heading with an arrow."""
        for col in self.columns:
            arrow = (" ▼" if descending else " ▲") if col.key == key else ""
            self.tree.heading(col.key, text=col.heading + arrow)

    def selected(self) -> str | None:
        """The id of the selected row, if any."""
        selection = self.tree.selection()
        return selection[0] if selection else None

    def select(self, iid: str) -> None:
        """Select a row, give it the keyboard focus and scroll it into view."""
        self.tree.selection_set(iid)
        self.tree.focus(iid)
        self.tree.see(iid)

    def row_values(self, iid: str) -> tuple:
        """The cell texts of a row, whole (a stretching column may show a long one cut short with '…')."""
        row = self._rows.get(iid)
        return tuple(str(v) for v in row.values) if row else tuple(self.tree.item(iid, "values"))

    def shown_values(self, iid: str) -> tuple:
        """The cell texts of a row as they appear on screen."""
        return tuple(self.tree.item(iid, "values"))

    def visible_ids(self) -> list[str]:
        return list(self.tree.get_children())


class StatusBar(ttk.Frame):
    """A line of named sections at the bottom of a window, each with a coloured text."""

    def __init__(self, master: tk.Misc, sections: list[str], stretch: str | None = None):
        super().__init__(master, padding=(12, 6), style="Bar.TFrame")
        self._labels: dict[str, ttk.Label] = {}
        for index, name in enumerate(sections):
            if index:
                ttk.Separator(self, orient="vertical").grid(row=0, column=2 * index - 1, sticky="ns", padx=10)
            label = ttk.Label(self, style="Caption.TLabel")
            paint(label, "normal", BAR)
            label.grid(row=0, column=2 * index, sticky="w")
            self._labels[name] = label
            if name == stretch:
                self.columnconfigure(2 * index, weight=1)

    def set(self, name: str, text: str, tone: str = "normal") -> None:
        """Show ``text`` in a section, coloured by tone (good, busy, warn, bad, muted, normal)."""
        self._labels[name].configure(text=text)
        paint(self._labels[name], tone)

    def text(self, name: str) -> str:
        return str(self._labels[name].cget("text"))

    def label(self, name: str) -> ttk.Label:
        """The label of a section."""
        return self._labels[name]

    def on_click(self, name: str, action: Callable[[], None]) -> None:
        """Run ``action`` when a section is clicked (its pointer says it can be)."""
        self._labels[name].configure(cursor="hand2")
        self._labels[name].bind("<Button-1>", lambda e: action())


class Banner(ttk.Frame):
    """A strip across the window for a problem that stops normal work, its cause behind "Details"; hidden when all is well."""

    def __init__(self, master: tk.Misc):
        super().__init__(master, style="Banner.TFrame", padding=(16, 8))
        self.notice = Notice(self, wraplength=900, background=TINTS["bad"], fit=True, side="left", style="Section.TLabel",
                             frame_style="Banner.TFrame")
        self.notice.pack(fill="x")

    def show(self, text: str, details: str = "") -> None:
        """Show a sentence (and its technical cause, folded away)."""
        self.notice.show(Words(text, "bad", details))
        self.grid()

    def hide(self) -> None:
        self.notice.clear()
        self.grid_remove()

    @property
    def text(self) -> str:
        return self.notice.text

    @property
    def details(self) -> str:
        return self.notice.details


class LabelledField(ttk.Frame):
    """A label, the input widget beside it, and under the input the sentence saying what is wrong (no room
    taken when nothing is).  Labels of one width line the inputs up."""

    def __init__(self, master: tk.Misc, label: str, make_input: Callable[[tk.Misc], tk.Widget], wrap: int = 230,
                 label_width: int = 7):
        super().__init__(master)
        ttk.Label(self, text=label, width=label_width).grid(row=0, column=0, sticky="w", padx=(0, 6))
        self.input = make_input(self)
        self.input.grid(row=0, column=1, sticky="ew")
        self.error = ttk.Label(self, style="Caption.TLabel", wraplength=wrap, justify="left", foreground=TONES["bad"])
        self.error.grid(row=1, column=1, sticky="w", pady=(2, 0))
        self.error.grid_remove()
        self.columnconfigure(1, weight=1)

    def show_error(self, text: str | None) -> None:
        """Show a sentence under the field, or clear it with None."""
        self.error.configure(text=text or "")
        if text:
            self.error.grid()
        else:
            self.error.grid_remove()

    @property
    def error_text(self) -> str:
        return str(self.error.cget("text"))

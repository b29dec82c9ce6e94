"""A row of widgets that wraps onto more lines when the window is too narrow for it, like words in a paragraph.

The frame never asks for width (it takes what its parent gives), so a long row
cannot push the window's other parts out of sight; it asks for the height its
lines need.
"""
from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from gui.background import later
from gui.theme import paint


class Flow(ttk.Frame):
    """Lays out ``add``-ed widgets left to right, starting a new line where the next one would not fit."""

    def __init__(self, master: tk.Misc, gap: int = 8, line_gap: int = 6, **kw):
        super().__init__(master, **kw)
        self.gap, self.line_gap = gap, line_gap
        self.items: list[tuple[tk.Widget, bool]] = []
        self._width = 0
        self._pending = False
        self.lines: list[list[tk.Widget]] = []   # the widgets on each line, as laid out last
        self.bind("<Configure>", self._resized)

    def add(self, widget: tk.Widget, push_right: bool = False) -> tk.Widget:
        """Add a widget (a child of this frame) at the end; ``push_right`` puts it at the right of its line."""
        self.items.append((widget, push_right))
        # A widget whose text grows is given its new size by the placer, which tells us here.
        widget.bind("<Configure>", lambda e: self._schedule(), add="+")
        self._schedule()
        return widget

    def _schedule(self) -> None:
        if not self._pending:
            self._pending = True
            later(self, 0, self.relayout)

    def _resized(self, event: tk.Event) -> None:
        if event.width != self._width:
            self._width = event.width
            self.relayout()

    def relayout(self) -> None:
        """Place every widget again for the current width."""
        self._pending = False
        width = self._width or self.winfo_width()
        if width <= 1:
            return
        lines: list[list[tk.Widget]] = [[]]
        x = y = line_height = 0
        for widget, push_right in self.items:
            need_w, need_h = widget.winfo_reqwidth(), widget.winfo_reqheight()
            if x and x + need_w > width:
                y += line_height + self.line_gap
                x, line_height = 0, 0
                lines.append([])
            place_x = max(x, width - need_w) if push_right else x
            # Wider than the whole row: cut to it (nothing better exists); otherwise its own width.
            widget.place(x=place_x, y=y, width=width if need_w > width else "")
            lines[-1].append(widget)
            x = place_x + need_w + self.gap
            line_height = max(line_height, need_h)
        self.lines = [line for line in lines if line]
        height = y + line_height
        if int(str(self.cget("height")) or 0) != height:
            self.configure(height=height)


class FigureLine(Flow):
    """Figures side by side ('Qty 1,234', 'Total 5,678.90'), each kept whole when the line wraps."""

    def __init__(self, master: tk.Misc, names: list[str], **kw):
        super().__init__(master, gap=18, line_gap=2, **kw)
        self.cells = {name: self.add(ttk.Label(self, style="Amount.TLabel")) for name in names}

    def show(self, texts: dict[str, str], tones: dict[str, str] | None = None) -> None:
        """Set each cell's text (a missing one is emptied) and tone ('normal' unless given)."""
        for name, label in self.cells.items():
            label.configure(text=texts.get(name, ""))
            paint(label, (tones or {}).get(name, "normal"))

    @property
    def text(self) -> str:
        """The figures as one text, cells separated by '  ·  '."""
        return "  ·  ".join(str(label.cget("text")) for label in self.cells.values() if label.cget("text"))

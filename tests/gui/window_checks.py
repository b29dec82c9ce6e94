"""Checks and raw rows the window tests share: whether anything in a window is cut off, and rows written
the way a careless script could write them."""
from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk

from sqlalchemy import text

from gui.widgets import CELL_PADDING, DataTable
from models.capture import install_triggers, trigger_bodies

ODD = "INSERT INTO sales (sale_date, region, product, qty, cost, amt, tax, total) VALUES (:d, :r, :p, :q, :c, :a, :t, :tot)"


def write_without_checks(engine, sql: str, rows: list[dict]) -> None:
    """Write as a careless script could: no strict mode, no CHECK constraints, and capture off.

    (With capture on, its triggers, created strict, refuse a zero date whatever the
    writer's mode; such rows come from before, or from capture switched off.)
    """
    with engine.begin() as conn:
        conn.execute(text("SET SESSION sql_mode = ''"))
        conn.execute(text("SET SESSION check_constraint_checks = 0"))
        for name in trigger_bodies():
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        conn.execute(text(sql), rows)
    with engine.begin() as conn:
        install_triggers(conn)


TEXT_WIDGETS = (ttk.Label, ttk.Button, ttk.Checkbutton, ttk.Entry, ttk.Combobox)


def widgets(top: tk.Misc):
    for child in top.winfo_children():
        yield child
        yield from widgets(child)


def inside(inner: tk.Misc, outer: tk.Misc) -> bool:
    x, y = inner.winfo_rootx(), inner.winfo_rooty()
    ox, oy = outer.winfo_rootx(), outer.winfo_rooty()
    return (ox <= x and oy <= y and x + inner.winfo_width() <= ox + outer.winfo_width()
            and y + inner.winfo_height() <= oy + outer.winfo_height())


def clipped(top: tk.Misc) -> list[str]:
    """Every shown widget that is cut off: outside its window or its parent, narrower than its text, a table
    with columns beyond its edge and no scroll bar to reach them, or a cell shortened without '…'."""
    problems = []
    for widget in widgets(top):
        if not widget.winfo_ismapped():
            continue
        if not inside(widget, top):
            problems.append(f"{widget} lies outside the window")
        elif not inside(widget, widget.master):
            problems.append(f"{widget} lies outside {widget.master}")
        if isinstance(widget, TEXT_WIDGETS) and widget.winfo_reqwidth() > widget.winfo_width() + 1:
            problems.append(f"{widget} ({widget.cget('text') if 'text' in widget.keys() else ''!s:.30}) is "
                            f"{widget.winfo_width()} px wide for {widget.winfo_reqwidth()} px")
        if isinstance(widget, ttk.Entry) and tuple(widget.xview()) != (0.0, 1.0):
            problems.append(f"{widget} is too narrow to show {widget.get()!r} whole")
        if isinstance(widget, DataTable):
            if widget.clipped_columns():
                problems.append(f"{widget} cuts off columns {widget.clipped_columns()}")
            font = tkfont.nametofont(str(ttk.Style(widget).lookup("Treeview", "font")), root=widget)
            room = [int(widget.tree.column(c.key, "width")) - CELL_PADDING for c in widget.columns]
            for iid in widget.visible_ids():
                for shown, whole, width in zip(widget.shown_values(iid), widget.row_values(iid), room, strict=True):
                    if str(shown) != whole and not str(shown).endswith("…"):
                        problems.append(f"{widget} shows {shown!r} for {whole!r}")
                    elif font.measure(str(shown)) > width + 2:
                        problems.append(f"{widget} cuts {shown!r} off ({width} px for it)")
    return problems

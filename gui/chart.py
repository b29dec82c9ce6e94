"""A chart of sales per branch per day, drawn on a Tk canvas (no plotting library needed).

A few days are drawn as grouped bars, many days as lines, one series per branch;
with more branches than colours, one series of all of them together (a filter
on one branch draws that branch alone).
The line above the chart says which days it covers: the 30 days up to the latest
sale the filter matches (from its From date, when that is later).  Values become floats only
here, to place pixels; every figure a person reads comes from the database.
"""
from __future__ import annotations

import datetime as dt
import math
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Iterable
from tkinter import ttk

from gui.theme import TONES
from models.head_office_view import DailyTotal, DailyTotals

SERIES_COLOURS = ("#005fb8", "#c239b3", "#ca5010", "#0f7b0f", "#8764b8", "#038387", "#986f0b", "#4f6bed")
BARS_UP_TO_DAYS = 10
OWN_SERIES = 8          # up to this many branches are drawn one by one; more are drawn as one series, ALL
ALL = "all"             # the series code of all branches together
GRID = "#e5e5e5"
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_BOTTOM = 58, 14, 30


# Axis tops whose quarters are round numbers too (1.6 -> 0.4, 0.8, 1.2).
NICE_STEPS = (1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8, 10)


def nice_ceiling(value: float) -> float:
    """The smallest round axis top (see NICE_STEPS) at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in NICE_STEPS if step * power >= value)


def short_amount(value: float) -> str:
    """12500 -> '12.5k', 3200000 -> '3.2M', for axis labels."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}" if value else "0"


def span_words(first: dt.date, last: dt.date) -> str:
    """'3 Nov – 2 Dec 2026', '1 – 30 Nov 2026', '29 Dec 2025 – 27 Jan 2026', '4 Nov 2026'."""
    if first == last:
        return f"{last.day} {last:%b %Y}"
    if first.year != last.year:
        return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"
    if first.month != last.month:
        return f"{first.day} {first:%b} – {last.day} {last:%b %Y}"
    return f"{first.day} – {last.day} {last:%b %Y}"


def day_span(totals: Iterable[DailyTotal]) -> list[dt.date]:
    """Every day from the first to the last that has sales, gaps included."""
    days = [t.day for t in totals]
    if not days:
        return []
    first, last = min(days), max(days)
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


class SalesChart(ttk.Frame):
    """Total sales per branch per day; ``show`` replaces the data and redraws."""

    def __init__(self, master: tk.Misc, branches: dict[str, str], width: int = 380, height: int = 280):
        super().__init__(master)
        self.branches = branches
        self.totals: list[DailyTotal] = []
        self.data = DailyTotals(None, None, [])
        self.filtered = False
        self.updating = False
        self.caption = ttk.Label(self, style="Caption.TLabel", foreground=TONES["muted"], wraplength=width)
        self.caption.pack(anchor="w", pady=(0, 4))
        self.bind("<Configure>", lambda e: self.caption.configure(wraplength=max(120, e.width - 4)))
        self.canvas = tk.Canvas(self, width=width, height=height, background="#ffffff", highlightthickness=1,
                                highlightbackground=GRID)
        self.canvas.pack(fill="both", expand=True)
        self.canvas.bind("<Configure>", lambda e: self.draw())

    def show(self, data: DailyTotals, filtered: bool = False) -> None:
        """Draw new totals; ``filtered`` says a filter is on (so 'nothing' means nothing matches)."""
        self.data, self.totals, self.filtered, self.updating = data, data.totals, filtered, False
        if data.first and data.last:
            self.caption.configure(text=f"{span_words(data.first, data.last)}{' · filtered' if filtered else ''}")
        else:
            self.caption.configure(text="")
        self.draw()

    def set_updating(self) -> None:
        """Mark what is drawn as belonging to the previous filter until ``show`` brings the new one."""
        self.updating = True
        self.draw()

    def series(self) -> list[str]:
        """Series codes in legend order: the configured branches, then any other that sent data; more than
        OWN_SERIES branches make the one series ALL."""
        seen = {t.branch for t in self.totals}
        codes = [code for code in self.branches if code in seen] + sorted(seen - set(self.branches))
        return codes if len(codes) <= OWN_SERIES else [ALL]

    def _values(self, codes: list[str]) -> dict[tuple[str, dt.date], float]:
        values: dict[tuple[str, dt.date], float] = {}
        for t in self.totals:
            code = ALL if codes == [ALL] else t.branch
            values[(code, t.day)] = values.get((code, t.day), 0.0) + float(t.total)
        return values

    def days(self) -> list[dt.date]:
        """The days drawn: those the data covers, days without sales included."""
        first, last = self.data.first, self.data.last
        if first is None or last is None:
            return day_span(self.totals)
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]

    def name_of(self, code: str) -> str:
        if code == ALL:
            return f"All {len({t.branch for t in self.totals}):,} branches together"
        return self.branches.get(code, code)

    def empty_text(self) -> str:
        """What the chart says instead of a drawing ('' when it draws data)."""
        if self.totals:
            return ""
        return "No sales match the filter" if self.filtered else "No sales at the Head Office yet"

    def draw(self) -> None:
        c = self.canvas
        c.delete("all")
        width, height = c.winfo_width(), c.winfo_height()
        if width < 100 or height < 100:
            return  # not laid out yet; <Configure> calls again
        if not self.totals:
            words = "Updating…" if self.updating else self.empty_text()
            c.create_text(width / 2, height / 2, text=words, fill=TONES["muted"], font="SunValleyBodyFont", tags="empty")
            return
        days, codes = self.days(), self.series()
        values = self._values(codes)
        top = nice_ceiling(max(values.values()))
        legend_bottom = self._legend(codes, width)
        plot = (MARGIN_LEFT, legend_bottom + 16, width - MARGIN_RIGHT, height - MARGIN_BOTTOM)
        self._axes(plot, top, days)
        slot = (plot[2] - plot[0]) / len(days)

        def y_of(value: float) -> float:
            return plot[3] - (plot[3] - plot[1]) * value / top

        for index, code in enumerate(codes):
            colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
            tags = ("data", f"branch:{code}")
            if len(days) <= BARS_UP_TO_DAYS:
                bar = slot * 0.8 / len(codes)
                for d, day in enumerate(days):
                    x = plot[0] + slot * d + slot * 0.1 + bar * index
                    value = values.get((code, day), 0.0)
                    if value:
                        c.create_rectangle(x + 1, y_of(value), x + bar - 1, plot[3], fill=colour, width=0, tags=tags)
            else:
                points = [(plot[0] + slot * (d + 0.5), y_of(values.get((code, day), 0.0))) for d, day in enumerate(days)]
                c.create_line(*[v for p in points for v in p], fill=colour, width=2, tags=tags)
                for x, y in points:
                    c.create_oval(x - 2, y - 2, x + 2, y + 2, fill=colour, outline=colour, tags=tags)
        if self.updating:
            c.create_rectangle(0, 0, width, height, fill="#ffffff", stipple="gray50", width=0, tags="updating")
            c.create_text(width / 2, height / 2, text="Updating…", fill=TONES["busy"], font="SunValleyBodyStrongFont",
                          tags="updating")

    def _axes(self, plot: tuple, top: float, days: list[dt.date]) -> None:
        c = self.canvas
        left, upper, right, bottom = plot
        for step in range(5):
            value = top * step / 4
            y = bottom - (bottom - upper) * step / 4
            c.create_line(left, y, right, y, fill=GRID)
            c.create_text(left - 8, y, text=short_amount(value), anchor="e", fill=TONES["muted"], font="SunValleyCaptionFont")
        slot = (right - left) / len(days)
        every = max(1, math.ceil(len(days) * 48 / (right - left)))  # a label needs about 48 px
        for d, day in enumerate(days):
            if d % every == 0:
                c.create_text(left + slot * (d + 0.5), bottom + 6, text=f"{day.day} {day:%b}", anchor="n",
                              fill=TONES["muted"], font="SunValleyCaptionFont")

    def _legend(self, codes: list[str], width: int) -> int:
        """Draw the legend across the top, wrapping as needed; returns its lower edge."""
        font = tkfont.nametofont("SunValleyCaptionFont", root=self)
        x, y = 12, 12
        for index, code in enumerate(codes):
            colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
            name = self.name_of(code)
            needed = 18 + font.measure(name)
            if x > 12 and x + needed > width - MARGIN_RIGHT:
                x, y = 12, y + 20
            self.canvas.create_rectangle(x, y + 2, x + 12, y + 14, fill=colour, width=0)
            self.canvas.create_text(x + 18, y + 8, text=name, anchor="w", fill=TONES["normal"], font=font)
            x += needed + 16
        return y + 16

    def drawn_series(self) -> list[str]:
        """Branch codes that have marks on the canvas (for tests and accessibility checks)."""
        found = set()
        for item in self.canvas.find_withtag("data"):
            found.update(tag.split(":", 1)[1] for tag in self.canvas.gettags(item) if tag.startswith("branch:"))
        return sorted(found)

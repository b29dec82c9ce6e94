"""The Head Office's Day close view: every branch by day, coloured by state, with both totals of the chosen day.

A cell is a branch-day (models/day_close.py): certified, in flight, different or
unknown.  Choosing one shows what the branch reported beside what the Head Office
holds now, and two buttons: "Which sales differ?" asks the branch for the hash of
each of its sales of that day (the sales missing, extra or changed are then listed),
and "Resend" asks the branch to send the day again.  The view reads when it is
shown, on Refresh (F5 in the window), and every ``REFRESH_MS`` while it is shown;
every read runs in a worker thread.
"""
from __future__ import annotations

import datetime as dt
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Any

from sqlalchemy.engine import Engine

from gui.background import OneAtATime, every, run_in_thread
from gui.formats import clock, database_problem, money
from gui.theme import TINTS, TONES
from models.day_close import Ask, BranchDay, DayState, SaleDifferences, ask_branch, day_close, sale_differences
from models.day_totals import DayTotals

DAYS_SHOWN = 14
REFRESH_MS = 20_000
CELL_W, CELL_H, NAME_W, HEAD_H = 62, 26, 140, 34  # a day's cell is as wide as the view allows, CELL_W at most
LOOK = {  # state -> (mark, tone)
    DayState.CERTIFIED: ("✓", "good"), DayState.IN_FLIGHT: ("…", "busy"), DayState.DIFFERENT: ("≠", "bad"),
    DayState.UNKNOWN: ("?", "warn"),
}
MEANING = {
    DayState.CERTIFIED: "Certified: the branch's totals and the Head Office's are equal to the cent.",
    DayState.IN_FLIGHT: "In flight: changes of this day are still on their way; it certifies once they arrive.",
    DayState.DIFFERENT: ("Different: everything has arrived, yet the totals differ. Ask which sales differ, "
                         "or ask the branch to send the day again."),
    DayState.UNKNOWN: "Unknown: the branch has not reported this day's totals yet.",
}
FIGURES = [("Sales", lambda t: f"{t.rows:,}"), ("Qty", lambda t: f"{t.qty:,}"), ("Amt", lambda t: money(t.amt)),
           ("Tax", lambda t: money(t.tax)), ("Total", lambda t: money(t.total)), ("Digest", lambda t: f"{t.digest:016x}")]


class DayCloseView(ttk.Frame):
    """Branches down, days across; the chosen branch-day's totals side by side below."""

    def __init__(self, master: tk.Misc, engine: Engine, branches: dict[str, str], office: str,
                 today: Callable[[], dt.date] = dt.date.today):
        super().__init__(master, padding=(0, 12, 0, 0))
        self.engine, self.branches, self.office, self.today = engine, branches, office, today
        self.days: dict[tuple[str, dt.date], BranchDay] = {}
        self.chosen: tuple[str, dt.date] | None = None
        self.differences: SaleDifferences | None = None
        self._reads = OneAtATime(self)
        self._build()
        self.bind("<Map>", lambda e: self.refresh())
        every(self, REFRESH_MS, lambda: self.refresh() if self.winfo_viewable() else None)

    # ------------------------------------------------------------ layout
    def _build(self) -> None:
        top = ttk.Frame(self)
        top.grid(row=0, column=0, sticky="ew", pady=(0, 8))
        self.caption = ttk.Label(top, text=f"Each branch's last {DAYS_SHOWN} days: ✓ certified, … in flight, "
                                           "≠ different, ? unknown. Choose a day to compare its totals.",
                                 style="Caption.TLabel", foreground=TONES["muted"])
        self.caption.pack(side="left")
        self.refresh_button = ttk.Button(top, text="Refresh", command=self.refresh)
        self.refresh_button.pack(side="right")
        grid = ttk.Frame(self)
        grid.grid(row=1, column=0, sticky="nsew")
        self.canvas = tk.Canvas(grid, height=CELL_H * 4 + HEAD_H, background="white", highlightthickness=0)
        self.canvas.grid(row=0, column=0, sticky="nsew")
        scroll = ttk.Scrollbar(grid, orient="vertical", command=self.canvas.yview)
        scroll.grid(row=0, column=1, sticky="ns")
        self.canvas.configure(yscrollcommand=scroll.set)
        self.canvas.bind("<Button-1>", self._clicked)
        self.canvas.bind("<Configure>", lambda e: self._fit(e.width))
        self.cell_w = CELL_W
        grid.columnconfigure(0, weight=1)
        grid.rowconfigure(0, weight=1)
        self.detail = self._build_detail()
        self.detail.grid(row=2, column=0, sticky="ew", pady=(10, 0))
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)

    def _build_detail(self) -> ttk.Frame:
        frame = ttk.Frame(self)
        self.title = ttk.Label(frame, text="No day chosen", style="Section.TLabel")
        self.title.grid(row=0, column=0, columnspan=4, sticky="w")
        self.meaning = ttk.Label(frame, text="", wraplength=700, justify="left")
        self.meaning.grid(row=1, column=0, columnspan=4, sticky="w", pady=(2, 6))
        ttk.Label(frame, text="", style="Caption.TLabel").grid(row=2, column=0)
        ttk.Label(frame, text="Branch reported", style="Caption.TLabel").grid(row=2, column=1, sticky="e", padx=12)
        ttk.Label(frame, text="Head Office holds", style="Caption.TLabel").grid(row=2, column=2, sticky="e", padx=12)
        self.cells: dict[tuple[str, str], ttk.Label] = {}
        for row, (name, _figure) in enumerate(FIGURES, start=3):
            ttk.Label(frame, text=name).grid(row=row, column=0, sticky="w")
            for column, side in ((1, "branch"), (2, "office")):
                label = ttk.Label(frame, text="—", font="TkFixedFont")
                label.grid(row=row, column=column, sticky="e", padx=12)
                self.cells[(name, side)] = label
        self.sales_line = ttk.Label(frame, text="", wraplength=700, justify="left")
        self.sales_line.grid(row=3 + len(FIGURES), column=0, columnspan=4, sticky="w", pady=(6, 0))
        buttons = ttk.Frame(frame)
        buttons.grid(row=4 + len(FIGURES), column=0, columnspan=4, sticky="w", pady=(8, 0))
        self.sales_button = ttk.Button(buttons, text="Which sales differ?", state="disabled",
                                       command=lambda: self.ask(Ask.SALES))
        self.sales_button.pack(side="left")
        self.resend_button = ttk.Button(buttons, text="Resend", state="disabled", command=lambda: self.ask(Ask.RESEND))
        self.resend_button.pack(side="left", padx=(8, 0))
        self.asked = ttk.Label(buttons, text="", style="Caption.TLabel", foreground=TONES["muted"])
        self.asked.pack(side="left", padx=(12, 0))
        frame.columnconfigure(3, weight=1)
        return frame

    # ------------------------------------------------------------ reading
    def shown_days(self) -> list[dt.date]:
        last = self.today()
        return [last - dt.timedelta(days=n) for n in range(DAYS_SHOWN - 1, -1, -1)]

    def refresh(self) -> None:
        """Read every branch-day shown (and the chosen day's differing sales) again."""
        days, chosen = self.shown_days(), self.chosen

        def read() -> tuple[list[BranchDay], SaleDifferences | None]:
            found = day_close(self.engine, list(self.branches), days[0], days[-1])
            differs = sale_differences(self.engine, chosen[0], chosen[1]) if chosen else None
            return found, differs

        self._reads.submit(read, self._read)

    def _read(self, ok: bool, value: Any) -> None:
        if not ok:
            self.caption.configure(text=database_problem(value, self.office)[0], foreground=TONES["bad"])
            return
        found, differs = value
        self.days = {(d.branch, d.day): d for d in found}
        self.differences = differs if self.chosen and differs is not None else None
        self.caption.configure(text=f"Each branch's last {DAYS_SHOWN} days: ✓ certified, … in flight, ≠ different, "
                                    f"? unknown. Choose a day to compare its totals. Read at {clock(dt.datetime.now())}.",
                               foreground=TONES["muted"])
        self.draw()
        self.show_chosen()

    # ------------------------------------------------------------ the grid
    def _fit(self, width: int) -> None:
        fitted = max(30, min(CELL_W, (width - NAME_W) // DAYS_SHOWN))
        if fitted != self.cell_w:
            self.cell_w = fitted
            self.draw()

    def draw(self) -> None:
        c = self.canvas
        c.delete("all")
        days = self.shown_days()
        for column, day in enumerate(days):
            x = NAME_W + column * self.cell_w
            c.create_text(x + self.cell_w / 2, HEAD_H / 2, text=f"{day:%a}\n{day.day} {day:%b}", justify="center",
                          font="SunValleyCaptionFont", fill=TONES["muted"])
        for row, (code, name) in enumerate(self.branches.items()):
            y = HEAD_H + row * CELL_H
            c.create_text(6, y + CELL_H / 2, text=name, anchor="w", font="SunValleyBodyFont", fill=TONES["normal"])
            for column, day in enumerate(days):
                x = NAME_W + column * self.cell_w
                found = self.days.get((code, day))
                mark, tone = LOOK[found.state] if found else ("", "muted")
                fill = TINTS.get(tone, "white") if found else "#fafafa"
                outline = TONES["normal"] if self.chosen == (code, day) else "#e0e0e0"
                c.create_rectangle(x + 1, y + 1, x + self.cell_w - 1, y + CELL_H - 1, fill=fill, outline=outline,
                                   width=2 if self.chosen == (code, day) else 1, tags=("cell", f"{code}|{day}"))
                c.create_text(x + self.cell_w / 2, y + CELL_H / 2, text=mark, fill=TONES[tone], font="SunValleyBodyStrongFont",
                              tags=("cell", f"{code}|{day}"))
        c.configure(scrollregion=(0, 0, NAME_W + self.cell_w * len(days), HEAD_H + CELL_H * len(self.branches)))

    def cell_center(self, branch: str, day: dt.date) -> tuple[int, int]:
        """Where a branch-day's cell is on the canvas (for a click)."""
        row = list(self.branches).index(branch)
        column = self.shown_days().index(day)
        return NAME_W + column * self.cell_w + self.cell_w // 2, HEAD_H + row * CELL_H + CELL_H // 2

    def _clicked(self, event: tk.Event) -> None:
        x, y = self.canvas.canvasx(event.x), self.canvas.canvasy(event.y)
        row, column = int((y - HEAD_H) // CELL_H), int((x - NAME_W) // self.cell_w)
        days = self.shown_days()
        if y < HEAD_H or x < NAME_W or not (0 <= row < len(self.branches) and 0 <= column < len(days)):
            return
        self.choose(list(self.branches)[row], days[column])

    def choose(self, branch: str, day: dt.date) -> None:
        """Show one branch-day's totals side by side, and read which sales differ if the branch said."""
        if self.chosen != (branch, day):
            self.differences = None
            self.asked.configure(text="")
        self.chosen = (branch, day)
        self.draw()
        self.show_chosen()
        run_in_thread(self, lambda: sale_differences(self.engine, branch, day), self._differences_read)

    def _differences_read(self, ok: bool, value: Any) -> None:
        if ok and self.chosen is not None:
            self.differences = value
            self.show_chosen()

    # ------------------------------------------------------------ the chosen day
    def show_chosen(self) -> None:
        if self.chosen is None:
            return
        branch, day = self.chosen
        found = self.days.get((branch, day))
        name = self.branches.get(branch, branch)
        state = found.state if found else None
        self.title.configure(text=f"{name} · {day:%A %d %B %Y}" + (f" · {state.value.capitalize()}" if state else ""),
                             foreground=TONES[LOOK[state][1]] if state else TONES["normal"])
        when = f" (since {clock(found.certified_at)})" if found and found.certified_at else ""
        self.meaning.configure(text=(MEANING[state] + when) if state else "Neither side holds a sale of this day.")
        reported = found.reported if found else None
        held = found.held if found else DayTotals.empty(day)
        for label, figure in FIGURES:
            theirs, mine = (figure(reported) if reported else "—"), figure(held)
            tone = TONES["bad"] if reported and theirs != mine else TONES["normal"]
            self.cells[(label, "branch")].configure(text=theirs, foreground=tone)
            self.cells[(label, "office")].configure(text=mine, foreground=tone)
        self.sales_line.configure(text=self._sales_words(state))
        usable = "normal" if found and found.reported is not None else "disabled"
        self.sales_button.configure(state=usable if state is not DayState.CERTIFIED else "disabled")
        self.resend_button.configure(state="normal" if found else "disabled")

    def _sales_words(self, state: DayState | None) -> str:
        d = self.differences
        if d is None or d.answered_at is None:
            return "" if state is not DayState.DIFFERENT else "Which sales differ is not known yet: ask the branch."
        if not d.any:
            return f"The branch's sales, as it sent them at {clock(d.answered_at)}, are all held here with the same values."
        parts = [(d.missing, "missing here"), (d.extra, "held here but not at the branch"),
                 (d.changed, "held here with other values")]
        said = "; ".join(f"{', '.join('#' + str(i) for i in ids[:12])}{' …' if len(ids) > 12 else ''} {words}"
                         for ids, words in parts if ids)
        return f"Sales that differ (as the branch sent them at {clock(d.answered_at)}): {said}."

    def ask(self, what: Ask) -> None:
        """Ask the chosen branch for the day's sales, or to send the day again (the consumer sends it)."""
        if self.chosen is None:
            return
        branch, day = self.chosen
        name = self.branches.get(branch, branch)

        def done(ok: bool, value: Any) -> None:
            if not ok:
                self.asked.configure(text=database_problem(value, self.office)[0], foreground=TONES["bad"])
                return
            words = "to send this day again" if what is Ask.RESEND else "which of its sales of this day differ"
            self.asked.configure(text=f"Asked {name} {words} at {clock(dt.datetime.now())}; the answer shows here "
                                      "when it arrives (the branch must be connected).", foreground=TONES["muted"])

        run_in_thread(self, lambda: ask_branch(self.engine, branch, day, what), done)

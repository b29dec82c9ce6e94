"""A date field: typed as YYYY-MM-DD, stepped with the arrow keys, or picked from a month calendar."""
from __future__ import annotations

import calendar
import datetime as dt
import tkinter as tk
from tkinter import ttk


def parse_date(text: str) -> dt.date | None:
    """The date written in ``text`` as YYYY-MM-DD, or None."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


class DateEntry(ttk.Frame):
    """An entry for a date with a small button that opens a calendar.

    Up and Down move the date a day, Page Up and Page Down a month; Alt+Down opens
    the calendar.  The button is left out of the Tab order so that the keyboard
    goes from the date straight to the next field.
    """

    def __init__(self, master: tk.Misc, variable: tk.StringVar, width: int = 12):
        super().__init__(master)
        self.variable = variable
        self.entry = ttk.Entry(self, textvariable=variable, width=width)
        self.entry.grid(row=0, column=0, sticky="ew")
        self.button = ttk.Button(self, text="▾", width=1, style="Icon.TButton", takefocus=False, command=self.toggle_calendar)
        self.button.grid(row=0, column=1, padx=(2, 0))
        self.columnconfigure(0, weight=1)
        self._popup: CalendarPopup | None = None
        self.entry.bind("<Up>", lambda e: self._step(days=1))
        self.entry.bind("<Down>", lambda e: self._step(days=-1))
        self.entry.bind("<Prior>", lambda e: self._step(months=1))
        self.entry.bind("<Next>", lambda e: self._step(months=-1))
        self.entry.bind("<Alt-Down>", lambda e: self.toggle_calendar() or "break")

    @property
    def calendar(self) -> CalendarPopup | None:
        """The open calendar, if any."""
        return self._popup

    def focus_set(self) -> None:
        self.entry.focus_set()

    def _step(self, days: int = 0, months: int = 0) -> str:
        current = parse_date(self.variable.get()) or dt.date.today()
        if months:
            current = add_months(current, months)
        self.variable.set((current + dt.timedelta(days=days)).isoformat())
        self.entry.icursor("end")
        return "break"

    def toggle_calendar(self) -> None:
        if self._popup is not None:
            self._popup.close()
            return
        self._popup = CalendarPopup(self, parse_date(self.variable.get()) or dt.date.today(), self._picked)

    def _picked(self, day: dt.date | None) -> None:
        self._popup = None
        if day is not None:
            self.variable.set(day.isoformat())
        self.entry.focus_force()  # the calendar took the focus by force; give it back the same way
        self.entry.icursor("end")


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (or earlier), clipped to the month's length."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


class CalendarPopup(tk.Toplevel):
    """A month of days under the date field; a click picks one, Escape or a click outside closes it."""

    def __init__(self, owner: DateEntry, shown: dt.date, on_close):
        super().__init__(owner)
        self.withdraw()
        self.overrideredirect(True)
        self.on_close = on_close
        self.month = shown.replace(day=1)
        self.chosen = shown
        self.frame = ttk.Frame(self, padding=8, relief="solid", borderwidth=1)
        self.frame.pack(fill="both", expand=True)
        self._draw()
        x, y = owner.winfo_rootx(), owner.winfo_rooty() + owner.winfo_height() + 2
        self.geometry(f"+{x}+{y}")
        self.deiconify()
        self.bind("<Escape>", lambda e: self.close())
        self.bind("<ButtonPress-1>", self._maybe_outside, add="+")
        self.after_idle(self._grab)

    def _grab(self) -> None:
        try:
            self.grab_set()
            # An override-redirect window gets no focus from the window manager; take it, as ttk's combobox list does.
            self.focus_force()
        except tk.TclError:
            pass  # not viewable yet, or gone; the popup still works without the grab

    def _draw(self) -> None:
        for child in self.frame.winfo_children():
            child.destroy()
        head = ttk.Frame(self.frame)
        head.grid(row=0, column=0, columnspan=7, sticky="ew", pady=(0, 6))
        ttk.Button(head, text="◀", width=2, command=lambda: self._turn(-1)).pack(side="left")
        ttk.Label(head, text=f"{calendar.month_name[self.month.month]} {self.month.year}",
                  style="Section.TLabel", anchor="center").pack(side="left", fill="x", expand=True)
        ttk.Button(head, text="▶", width=2, command=lambda: self._turn(1)).pack(side="right")
        for col, name in enumerate(calendar.day_abbr):
            ttk.Label(self.frame, text=name[:2], style="Caption.TLabel", anchor="center").grid(row=1, column=col)
        weeks = calendar.Calendar().monthdatescalendar(self.month.year, self.month.month)
        for row, week in enumerate(weeks, start=2):
            for col, day in enumerate(week):
                if day.month != self.month.month:
                    continue
                style = "Accent.TButton" if day == self.chosen else "TButton"
                ttk.Button(self.frame, text=str(day.day), width=3, style=style,
                           command=lambda d=day: self.close(d)).grid(row=row, column=col, padx=1, pady=1)

    def _turn(self, months: int) -> None:
        self.month = add_months(self.month, months)
        self._draw()

    def _maybe_outside(self, event: tk.Event) -> None:
        x, y = event.x_root - self.winfo_rootx(), event.y_root - self.winfo_rooty()
        if not (0 <= x < self.winfo_width() and 0 <= y < self.winfo_height()):
            self.close()

    def close(self, day: dt.date | None = None) -> None:
        """Close the calendar, handing the chosen day (or None) to the date field."""
        self.grab_release()
        self.destroy()
        self.on_close(day)

"""Exporting what a view shows to a CSV file a spreadsheet program opens correctly.

The file has the screen's column labels as its header, is UTF-8 with a byte
order mark (so spreadsheet programs read names like "Zürich" correctly), and is
written in a worker thread under a temporary name, with progress and a Cancel
that leaves nothing behind.  The manager is told when the file holds more rows
than a spreadsheet opens.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
import re
import threading
import tkinter as tk
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from tkinter import filedialog, ttk

from gui.background import later, run_in_thread
from gui.formats import plural

SPREADSHEET_ROWS = 1_048_576      # Excel and LibreOffice Calc open at most this many rows, the header included
PROGRESS_EVERY = 2000             # rows between two progress counts
_XDG_DIR = re.compile(r'^XDG_DOCUMENTS_DIR="?(.*?)"?\s*$')


def documents_folder(home: Path | None = None, environ: dict | None = None) -> Path:
    """The user's documents folder (XDG_DOCUMENTS_DIR on Linux, ~/Documents elsewhere), or home if there is none."""
    home = home or Path.home()
    environ = os.environ if environ is None else environ
    config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "user-dirs.dirs"
    try:
        for line in config.read_text(encoding="utf-8").splitlines():
            found = _XDG_DIR.match(line.strip())
            if found:
                folder = Path(found.group(1).replace("$HOME", str(home)))
                if folder.is_dir():
                    return folder
    except OSError:
        pass
    documents = home / "Documents"
    return documents if documents.is_dir() else home


def ask_csv_path(title: str, name: str) -> str:
    """Ask where to save, starting in the documents folder; '' when the manager cancels."""
    return filedialog.asksaveasfilename(
        title=title, defaultextension=".csv", initialdir=str(documents_folder()), initialfile=name,
        filetypes=[("CSV files", "*.csv"), ("All files", "*")],
    )


def cell(value: object) -> object:
    """A value as a spreadsheet should read it: dates as YYYY-MM-DD, money as stored (12.95)."""
    return value.isoformat() if isinstance(value, dt.date) else value


class Cancelled(Exception):
    """The manager cancelled the export."""


@dataclass(frozen=True)
class Exported:
    path: str
    rows: int

    @property
    def too_many_for_a_spreadsheet(self) -> bool:
        return self.rows + 1 > SPREADSHEET_ROWS


def write_rows(path: str, header: Sequence[str], rows: Iterable[Sequence], progress: Callable[[int], None],
               cancelled: threading.Event) -> Exported:
    """Write a CSV file (UTF-8 with BOM) through a temporary file; raise Cancelled, leaving nothing, when asked to stop."""
    partial = f"{path}.part"  # a half-written file never carries the real name
    count = 0
    try:
        with open(partial, "w", newline="", encoding="utf-8-sig") as out:
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(header)
            for row in rows:
                writer.writerow([cell(v) for v in row])
                count += 1
                if count % PROGRESS_EVERY == 0:
                    progress(count)
                    if cancelled.is_set():
                        raise Cancelled
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    progress(count)
    return Exported(path, count)


def finished_words(done: Exported) -> str:
    """The sentence after an export, with a word when a spreadsheet would not show every row."""
    words = f"Exported {plural(done.rows, 'row')} to {done.path}."
    if done.too_many_for_a_spreadsheet:
        words += (f" That is more than the {SPREADSHEET_ROWS - 1:,} rows a spreadsheet opens: Excel and LibreOffice show "
                  "only the first ones, so filter by branch or dates for smaller files, or open it in a database tool.")
    return words


class ExportProgress(ttk.Frame):
    """A progress bar, 'n of m rows' and Cancel, shown while an export runs; ``start`` runs one."""

    def __init__(self, master: tk.Misc):
        super().__init__(master)
        self.bar = ttk.Progressbar(self, length=160, mode="determinate")
        self.bar.grid(row=0, column=0, padx=(0, 8))
        self.label = ttk.Label(self, style="Caption.TLabel")
        self.label.grid(row=0, column=1, padx=(0, 8))
        self.cancel_button = ttk.Button(self, text="Cancel", command=self.cancel)
        self.cancel_button.grid(row=0, column=2)
        self._cancelled = threading.Event()
        self._written = 0
        self.running = False

    def start(self, path: str, header: Sequence[str], rows: Callable[[], Iterable[Sequence]], expected: int | None,
              done: Callable[[bool, object], None]) -> None:
        """Write ``rows()`` to ``path`` in a worker thread; ``done(ok, Exported | exception)`` in the Tk thread."""
        self._cancelled = threading.Event()
        self._written, self.running = 0, True
        self.bar.configure(mode="determinate", maximum=max(1, expected or 1), value=0)
        self._expected = expected
        self._show()

        def progress(count: int) -> None:   # in the worker thread: only a number crosses over
            self._written = count

        def finished(ok: bool, value: object) -> None:
            self.running = False
            self._show()
            done(ok, value)

        run_in_thread(self, lambda: write_rows(path, header, rows(), progress, self._cancelled), finished)
        self._tick()

    def _tick(self) -> None:
        if self.running:
            self._show()
            later(self, 200, self._tick)

    def _show(self) -> None:
        of = f" of {self._expected:,}" if self._expected else ""
        self.bar.configure(value=self._written)
        self.label.configure(text=f"{self._written:,}{of} rows")

    def cancel(self) -> None:
        """Stop the export; the file is not written."""
        self._cancelled.set()
        self.cancel_button.configure(state="disabled")

    def reset(self) -> None:
        self.cancel_button.configure(state="normal")


def report_export(say: Callable[[str, str], None], problem: Callable[[BaseException], None], path: str, ok: bool,
                  value: object) -> None:
    """Say how an export ended: done (with a word on spreadsheet limits), cancelled, or why it failed;
    a database failure goes to ``problem``."""
    if ok:
        say(finished_words(value), "warn" if value.too_many_for_a_spreadsheet else "good")
    elif isinstance(value, Cancelled):
        say("Export cancelled; no file was written.", "muted")
    elif isinstance(value, OSError):
        say(f"Could not write {path}: {value.strerror or value}. Choose another place.", "bad")
    else:
        problem(value)

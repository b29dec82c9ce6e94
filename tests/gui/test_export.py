"""Exports open in the documents folder, read correctly in spreadsheet programs, can be cancelled, and say when
a spreadsheet would not show every row (no Tk here)."""
from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest

from gui.export import SPREADSHEET_ROWS, Cancelled, Exported, documents_folder, finished_words, write_rows


def test_the_documents_folder_is_the_xdg_one_then_documents_then_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    assert documents_folder(home, environ={}) == home
    (home / "Documents").mkdir()
    assert documents_folder(home, environ={}) == home / "Documents"
    (home / "Dokumente").mkdir()
    (home / ".config").mkdir()
    (home / ".config" / "user-dirs.dirs").write_text('XDG_DESKTOP_DIR="$HOME/Desktop"\nXDG_DOCUMENTS_DIR="$HOME/Dokumente"\n')
    assert documents_folder(home, environ={}) == home / "Dokumente"


def test_a_file_has_a_byte_order_mark_the_screen_labels_and_exact_values(tmp_path):
    path = tmp_path / "sales.csv"
    rows = [("Zürich Süd", 7, dt.date(2021, 4, 29), "Paper", Decimal("12.95"))]
    done = write_rows(str(path), ["Branch", "Sale #", "Date", "Product", "Cost"], rows, lambda n: None, threading.Event())
    assert done == Exported(str(path), 1)
    assert path.read_bytes() == "\ufeffBranch,Sale #,Date,Product,Cost\r\nZürich Süd,7,2021-04-29,Paper,12.95\r\n".encode()


def test_cancel_stops_the_export_and_leaves_no_file(tmp_path):
    path = tmp_path / "big.csv"
    cancelled = threading.Event()
    counted = []

    def rows():
        for i in range(100_000):
            if i == 5000:
                cancelled.set()           # the manager presses Cancel while rows are being written
            yield (i, "x")

    with pytest.raises(Cancelled):
        write_rows(str(path), ["n", "x"], rows(), counted.append, cancelled)
    assert counted and max(counted) < 100_000
    assert list(tmp_path.iterdir()) == []


def test_the_manager_is_told_when_a_spreadsheet_would_not_show_every_row():
    fits = finished_words(Exported("/d/sales.csv", SPREADSHEET_ROWS - 1))    # with its header: exactly the limit
    assert fits == f"Exported {SPREADSHEET_ROWS - 1:,} rows to /d/sales.csv."
    big = finished_words(Exported("/d/sales.csv", 3_000_000))
    assert big.startswith("Exported 3,000,000 rows to /d/sales.csv. That is more than the 1,048,575 rows a spreadsheet opens")

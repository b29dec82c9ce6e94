"""The Head Office's Catalogue tab: find, add, change a price from a date, retire and bring back, import, export."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from models.catalogue import load_catalogue
from models.catalogue_csv import export_csv

pytestmark = pytest.mark.gui

TODAY = dt.date.today()


def catalogue(offices):
    return load_catalogue(offices.engine("ho"), head_office=True)


def test_the_catalogue_tab_finds_adds_reprices_retires_and_imports_and_exports_csv(
        offices, gui, open_head_office_window, tmp_path):
    window = open_head_office_window(offices.ho)
    view = window.catalogue
    window.notebook.select(view)
    gui.wait_until(lambda: view.table.visible_ids(), "the catalogue to show")
    view.find_var.set("pen")
    assert [view.table.row_values(i)[0] for i in view.table.visible_ids()] == ["Pencils", "Pens"]

    pens = str(catalogue(offices).find("Pens").id)
    view.table.select(pens)
    gui.settle()
    later = TODAY + dt.timedelta(days=7)
    view.vars["cost"].set("2.50")
    view.vars["effective_from"].set(later.isoformat())
    view.change_price()
    gui.wait_until(lambda: catalogue(offices).cost_of("Pens", later) == Decimal("2.50"), "the new price")
    assert catalogue(offices).cost_of("Pens", TODAY) == Decimal("2.19")          # the history is kept
    gui.wait_until(lambda: "2.50 from" in view.table.row_values(pens)[2], "the next price to show")

    view.vars["product"].set(" pens ")                                          # a product of that name exists
    view.add()
    gui.wait_until(lambda: "already in the catalogue" in view.message.cget("text"), "the refusal")
    view.vars["product"].set("Glue")
    view.vars["cost"].set("1.20")
    view.vars["effective_from"].set(TODAY.isoformat())
    view.add()
    gui.wait_until(lambda: catalogue(offices).cost_of("Glue", TODAY) == Decimal("1.20"), "Glue to be added")

    view.find_var.set("")
    toner = str(catalogue(offices).find("Toner").id)
    gui.wait_until(lambda: view.table.row_values(toner), "Toner to show")
    view.table.select(toner)
    gui.settle()
    view.toggle_active()
    gui.wait_until(lambda: not catalogue(offices).products[int(toner)].active, "Toner to be retired")
    gui.wait_until(lambda: view.retire_button.cget("text") == "Bring back", "the button to offer bringing it back")
    view.toggle_active()
    gui.wait_until(lambda: catalogue(offices).products[int(toner)].active, "Toner to be back on sale")

    before = catalogue(offices).version
    held = tmp_path / "held.csv"
    held.write_text("product,cost,active\nPaper,12.95,no\nPens,2.19,no\nPencils,0.89,no\n", encoding="utf-8")
    window.confirm = lambda title, question: False                             # the manager says no
    view.import_file(str(held))
    gui.wait_until(lambda: "more than a fifth" in view.message.cget("text"), "the held import's sentence")
    bad = tmp_path / "bad.csv"
    bad.write_text("product,cost\nPaper,12.95\nPens,two\n", encoding="utf-8")
    view.import_file(str(bad))
    gui.wait_until(lambda: "Line 3" in view.message.cget("text"), "the bad line's sentence")
    assert catalogue(offices).version == before                                 # nothing changed

    out = tmp_path / "out.csv"
    view.export_file(str(out))
    gui.wait_until(out.exists, "the export")
    assert out.read_text(encoding="utf-8") == export_csv(catalogue(offices), TODAY)

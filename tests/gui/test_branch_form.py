"""The sale form as a clerk really uses it: no silently wrong sale after an edit, and one spelling per product."""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text

from gui.formats import money
from models.money import compute_line
from tests.harness import insert_sales

pytestmark = pytest.mark.gui

RATE = Decimal("0.07")


def saved_rows(offices) -> list[tuple]:
    with offices.engine("bo1").connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, sale_date, region, product, qty FROM sales ORDER BY id"))]


def all_selected(entry) -> bool:
    """The entry's whole text is selected (so the next key typed replaces it)."""
    return bool(entry.selection_present()) and entry.index("sel.first") == 0 and entry.index("sel.last") == len(entry.get())


def open_for_edit(gui, window, sale_id: int) -> None:
    gui.wait_until(lambda: window.sales.table.tree.exists(str(sale_id)), f"sale {sale_id} to show")
    window.sales.table.select(str(sale_id))
    gui.key("Return", window.sales.table.tree)          # Enter on a row opens it in the form


def test_editing_a_sale_selects_qty_so_typing_3_over_2_gives_3_and_ctrl_a_selects_every_field(
        offices, gui, open_branch_window):
    (sale_id,) = insert_sales(offices.engine("bo1"), 1, product="Pens", qty=2)
    window = open_branch_window(offices.branch("bo1"))
    form = window.form
    gui.focus_window()
    open_for_edit(gui, window, sale_id)
    assert gui.focused() is form.inputs["qty"] and all_selected(form.inputs["qty"])
    gui.type("3")
    assert form.vars["qty"].get() == "3"
    line = compute_line(3, Decimal("2.19"), RATE)
    assert form.amounts["total"].cget("text") == money(line.total)

    # A refused save puts the cursor in the wrong field with its text selected too.
    gui.erase()
    gui.type("0")
    gui.key("Return")
    assert form.error_for("qty") and gui.focused() is form.inputs["qty"] and all_selected(form.inputs["qty"])
    gui.type("4")
    assert form.vars["qty"].get() == "4"

    # Ctrl+A selects the whole text in every entry (Tk's own binding would go to the line start).
    for entry in [*form.inputs.values(), window.sales.filter_entry]:
        if not entry.get():
            entry.insert(0, "some text")
        entry.focus_set()
        entry.icursor(2)
        entry.selection_clear()
        gui.key("Control-a", entry)
        assert all_selected(entry), entry


def test_after_an_edit_the_form_returns_to_the_date_and_region_it_had_before(offices, gui, open_branch_window):
    today, yesterday = dt.date.today(), dt.date.today() - dt.timedelta(days=1)
    (old_sale,) = insert_sales(offices.engine("bo1"), 1, day=yesterday, region="North")
    window = open_branch_window(offices.branch("bo1"))
    form = window.form
    gui.focus_window()
    assert form.vars["sale_date"].get() == today.isoformat()

    open_for_edit(gui, window, old_sale)                 # then cancelled with Escape
    assert form.vars["sale_date"].get() == yesterday.isoformat() and form.vars["region"].get() == "North"
    gui.key("Escape")
    assert (form.vars["sale_date"].get(), form.vars["region"].get()) == (today.isoformat(), "East")
    assert form.hint.cget("text").startswith("Enter saves ·")

    open_for_edit(gui, window, old_sale)                 # then saved
    assert "Esc cancels the edit" in form.hint.cget("text")
    gui.type("5")
    gui.key("Return")
    gui.wait_until(lambda: form.editing_id is None, "the edit to be saved")
    assert (form.vars["sale_date"].get(), form.vars["region"].get()) == (today.isoformat(), "East")

    gui.key("Tab", form.inputs["region"])              # the next new sale, typed: it is today's
    gui.type("Paper")
    gui.key("Tab")
    gui.type("2")
    gui.key("Return")
    rows = gui.wait_until(lambda: len(saved_rows(offices)) == 2 and saved_rows(offices), "the new sale to be saved")
    assert rows[0][1:] == (yesterday, "North", "Paper", 5)
    assert rows[1][1:] == (today, "East", "Paper", 2)


def test_known_products_and_regions_keep_their_spelling_and_a_new_one_is_asked_about_once(
        offices, gui, open_branch_window):
    insert_sales(offices.engine("bo1"), 1, product="Sticky notes", cost="1.99")
    # A branch that allows products the catalogue does not have (tests/gui/test_catalogue_form.py: one that does not).
    window = open_branch_window(dataclasses.replace(offices.branch("bo1"), allow_free_products=True))
    form = window.form
    asked: list[str] = []
    window.confirm = lambda title, question: asked.append(question) or True
    gui.wait_until(lambda: "Sticky notes" in form.product_box.cget("values"), "the branch's own products to be known")
    gui.focus_window()

    def enter(region: str, product: str, qty: str) -> None:
        for name, value in (("region", region), ("product", product), ("qty", qty), ("cost", "1.99")):
            form.vars[name].set(value)
        before = len(saved_rows(offices))
        gui.key("Return", form.inputs["qty"])
        gui.wait_until(lambda: len(saved_rows(offices)) == before + 1 or form.error_for("product"), "the save")
        gui.wait_until(lambda: str(form.save_button.cget("state")) == "normal", "the form to be ready")

    enter("east", "envelopes", "1")          # the catalogue's product, the office's region
    enter(" EAST ", "STICKY  notes", "2")    # the branch's own product, other case and spacing
    assert asked == []
    enter("East", "Glue sticks", "3")        # new: asked once, then known
    enter("East", "glue STICKS", "4")
    assert len(asked) == 1 and "“Glue sticks”" in asked[0] and "new product" in asked[0]

    window.confirm = lambda title, question: asked.append(question) or False
    enter("East", "Glew", "5")               # the clerk says no: nothing saved, a sentence beside Product
    assert len(asked) == 2 and "Glew" in form.error_for("product")
    assert gui.focused() is form.inputs["product"]
    assert [(r[2], r[3], r[4]) for r in saved_rows(offices)[1:]] == [
        ("East", "Envelopes", 1), ("East", "Sticky notes", 2), ("East", "Glue sticks", 3), ("East", "Glue sticks", 4)]

"""The sale form sells from the catalogue the branch received: type-ahead, the price of the sale's date,
the branch's rules on costs and on products the catalogue does not have, all with no link at all."""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text

from models.catalogue import Items, Price, Product, apply_items
from sync.states import LinkState

pytestmark = pytest.mark.gui

TODAY = dt.date.today()
LATER = TODAY + dt.timedelta(days=10)
NO_BROKER = ("amqp://guest:guest@127.0.0.1:9/%2F",)  # nothing listens there: the branch is offline throughout


def received(engine) -> None:
    """bo1 holds a catalogue from the Head Office: Pens dearer in ten days, Glue new today, Toner retired."""
    with engine.begin() as conn:
        apply_items(conn, Items(0, 40, [Product(2, "Pens", True, 31), Product(8, "Toner", False, 32),
                                        Product(9, "Glue", True, 33)],
                                [Price(2, LATER, Decimal("2.50"), 34), Price(9, TODAY, Decimal("1.20"), 35)]))


def saved(offices) -> list[tuple]:
    with offices.engine("bo1").connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT sale_date, product, qty, cost FROM sales ORDER BY id"))]


def offline_window(offices, open_branch_window, gui, **settings):
    received(offices.engine("bo1"))
    window = open_branch_window(dataclasses.replace(offices.branch("bo1"), amqp_urls=NO_BROKER, **settings))
    gui.wait_until(lambda: "Glue" in window.form.product_box.cget("values"), "the received catalogue to be read")
    gui.wait_until(lambda: window.relay.state is LinkState.OFFLINE, "the agent to find no link")
    gui.focus_window()
    return window


def test_offline_the_form_types_ahead_from_the_received_catalogue_and_costs_follow_the_sale_date(
        offices, gui, open_branch_window):
    window = offline_window(offices, open_branch_window, gui)
    form = window.form
    assert "Toner" not in form.product_box.cget("values")       # retired at the Head Office
    gui.key("Tab", form.inputs["region"])                        # to Product
    gui.type("pen")
    box = form.product_box
    assert form.vars["product"].get() == "Pencils" and box.selection_get() == "cils"   # completed, the rest selected
    assert list(box.cget("values")) == ["Pencils", "Pens"]       # the list narrowed to what holds "pen"
    gui.type("s")
    assert form.vars["product"].get() == "Pens" and form.vars["cost"].get() == "2.19"
    form.vars["sale_date"].set(LATER.isoformat())               # the new price takes effect on its date
    assert form.vars["cost"].get() == "2.50"
    form.vars["sale_date"].set(TODAY.isoformat())
    assert form.vars["cost"].get() == "2.19"
    gui.key("Tab")
    gui.type("3")
    gui.key("Return")
    gui.wait_until(lambda: saved(offices) == [(TODAY, "Pens", 3, Decimal("2.19"))], "the sale to be saved")

    for product, why in (("Toner", "no longer on sale"), ("Sticky notes", "not in the catalogue")):
        gui.wait_until(lambda: str(form.save_button.cget("state")) == "normal", "the form to be ready")
        form.vars["product"].set(product)
        form.vars["qty"].set("1")
        form.vars["cost"].set("1.00")
        gui.key("Return", form.inputs["qty"])
        assert why in form.error_for("product") and form.error_for("product").endswith(".")
    form.vars["product"].set("glue")                              # new at the Head Office today
    form.vars["sale_date"].set((TODAY - dt.timedelta(days=1)).isoformat())
    form.vars["cost"].set("1.20")
    gui.key("Return", form.inputs["qty"])
    assert "no price in the catalogue before" in form.error_for("product")
    assert len(saved(offices)) == 1


def test_a_cost_of_the_clerks_own_stays_put_unless_the_branch_forbids_overriding(offices, gui, open_branch_window):
    window = offline_window(offices, open_branch_window, gui)
    form = window.form
    form.vars["product"].set("Pens")
    form.vars["cost"].set("1.99")                                 # the clerk's own (allowed by default)
    form.vars["sale_date"].set(LATER.isoformat())
    assert form.vars["cost"].get() == "1.99"
    form.vars["qty"].set("2")
    gui.key("Return", form.inputs["qty"])
    gui.wait_until(lambda: saved(offices) == [(LATER, "Pens", 2, Decimal("1.99"))], "the off-price sale to be saved")


def test_a_branch_that_forbids_overriding_takes_the_catalogue_cost_only(offices, gui, open_branch_window):
    window = offline_window(offices, open_branch_window, gui, allow_cost_override=False)
    form = window.form
    assert str(form.inputs["cost"].cget("state")) == "readonly"
    form.vars["product"].set("pens")
    assert form.vars["cost"].get() == "2.19"
    form.vars["cost"].set("1.99")                                 # as a paste into the field would
    form.vars["qty"].set("2")
    gui.key("Return", form.inputs["qty"])
    assert "2.19" in form.error_for("cost") and saved(offices) == []
    form.vars["sale_date"].set(LATER.isoformat())                 # the catalogue's cost follows the date
    assert form.vars["cost"].get() == "2.50"
    gui.key("Return", form.inputs["qty"])
    gui.wait_until(lambda: saved(offices) == [(LATER, "Pens", 2, Decimal("2.50"))], "the sale to be saved")

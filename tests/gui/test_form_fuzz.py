"""Whatever a clerk types, the branch form never crashes, never saves an invalid
sale, and explains every refusal in a sentence beside the field."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from gui.formats import sentence
from models.sale import SaleInvalid, new_sale

pytestmark = pytest.mark.gui
RATE = Decimal("0.07")

TEXTY = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=70)
FIELDS = {
    "sale_date": st.one_of(st.dates().map(str), st.sampled_from(["2021-02-30", "29/04/2021", "", "2021-4-9", "0999-12-31"]), TEXTY),
    "region": st.one_of(st.sampled_from(["East", "West", " ", "'; DROP TABLE sales; --", "x" * 65]), TEXTY),
    "product": st.one_of(st.sampled_from(["Paper", "Pens", "Paper\tclip", "紙"]), TEXTY),
    "qty": st.one_of(st.integers(-5, 10**10).map(str), st.sampled_from(["1.5", "1e3", " 7 ", "", "٣"]), TEXTY),
    "cost": st.one_of(st.decimals(-10, 10**9, places=3, allow_nan=False).map(str),
                      st.sampled_from(["12.95", "NaN", "Infinity", "1e2", ",5", "-0", ""]), TEXTY),
}


def sale_count(offices) -> int:
    with offices.engine("bo1").connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM sales")).scalar_one()


@pytest.fixture
def branch_form(offices, gui, open_branch_window):
    window = open_branch_window(offices.branch("bo1"))
    gui.focus_window()
    return window


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(values=st.fixed_dictionaries(FIELDS))
def test_fuzzed_form_input_never_crashes_never_saves_an_invalid_sale_and_explains_every_refusal(
        offices, gui, branch_form, values):
    form = branch_form.form
    before = sale_count(offices)
    # Product first: choosing one fills Cost from the catalogue, and the fuzzed Cost must win.
    for name in ("product", "sale_date", "region", "qty", "cost"):
        form.vars[name].set(values[name])
    gui.key("Return", form.inputs["qty"])
    try:
        expected = new_sale(tax_rate=RATE, **values)
    except SaleInvalid as refused:
        gui.settle(0.05)
        for field, reason in refused.errors.items():
            assert form.error_for(field) == sentence(reason)
            assert form.error_for(field).endswith(".") and "Traceback" not in form.error_for(field)
        assert sale_count(offices) == before
        return
    gui.wait_until(lambda: sale_count(offices) == before + 1, "the valid sale to be saved")
    # The commit is seen before the window hears of it; until it does, the form is
    # busy ("Saving…") and would ignore the next example's Enter.
    gui.wait_until(lambda: str(form.save_button.cget("state")) != "disabled", "the form to be ready again")
    with offices.engine("bo1").connect() as conn:
        saved = conn.execute(text("SELECT sale_date, region, product, qty, cost, amt, tax, total FROM sales "
                                  "ORDER BY id DESC LIMIT 1")).one()
    assert tuple(saved) == tuple(expected.as_row().values())

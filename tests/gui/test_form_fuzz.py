"""Whatever a clerk types or pastes, the branch form never crashes, never saves an invalid
sale, and explains every refusal in a sentence beside the field.

Values go in the way a paste does, through Tcl: Python cannot hand Tk a lone
surrogate (tkinter refuses to encode it), but Tcl can hold one, and then
Python reads it back as surrogate escapes, which the sale rules refuse.
"""
from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from gui.formats import sentence
from gui.sale_form import FIELD_ORDER, qty_unreadable
from models.names import known_spelling
from models.sale import SaleInvalid, check_received, new_sale

pytestmark = pytest.mark.gui
RATE = Decimal("0.07")

LONE_SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
C1_CONTROL = st.characters(min_codepoint=0x80, max_codepoint=0x9F)
BIDI = st.sampled_from([chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))])
FOUR_BYTES = st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF)
HOSTILE = st.one_of(LONE_SURROGATE, C1_CONTROL, BIDI, FOUR_BYTES)
HUGE = st.sampled_from(["1e30", "9" * 40, "-1E+30", "9" * 5000, "²", "--5", "1_000", "９", "1e3", "0x10", "12.95e30"])
TEXTY = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=70)


def spiked(base: st.SearchStrategy) -> st.SearchStrategy:
    """A value with a hostile character put somewhere in it."""
    return st.tuples(base, HOSTILE, st.integers(0, 80)).map(lambda t: t[0][:t[2]] + t[1] + t[0][t[2]:])


def hostile(*usual: st.SearchStrategy) -> st.SearchStrategy:
    ordinary = st.one_of(*usual)
    return st.one_of(ordinary, spiked(ordinary), HUGE, st.text(HOSTILE, min_size=1, max_size=4))


FIELDS = {
    "sale_date": hostile(st.dates().map(str), st.sampled_from(["2021-02-30", "29/04/2021", "", "2021-4-9", "0999-12-31"]),
                         TEXTY),
    "region": hostile(st.sampled_from(["East", "west", "West", " ", "'; DROP TABLE sales; --", "x" * 65]), TEXTY),
    "product": hostile(st.sampled_from(["Paper", "pens", "Paper\tclip", "紙"]), TEXTY),
    "qty": hostile(st.integers(-5, 10**10).map(str), st.sampled_from(["1.5", " 7 ", "", "٣"]), TEXTY),
    "cost": hostile(st.decimals(-10, 10**9, places=3, allow_nan=False).map(str),
                    st.sampled_from(["12.95", "NaN", "Infinity", "1e2", ",5", "-0", ""]), TEXTY),
}


def tcl_quoted(value: str) -> str:
    """A Tcl word holding ``value`` exactly, lone surrogates and all (UTF-16 units as \\u escapes)."""
    units = value.encode("utf-16-le", "surrogatepass")
    return '"' + "".join(f"\\u{int.from_bytes(units[i:i + 2], 'little'):04X}" for i in range(0, len(units), 2)) + '"'


def paste(entry, value: str) -> None:
    """Replace an entry's text as a paste would."""
    entry.delete(0, "end")
    entry.tk.eval(f"{entry} insert 0 {tcl_quoted(value)}")


def still_lone(value: str) -> bool:
    """Whether a value keeps a lone surrogate once UTF-16 pairs are joined (as Tcl joins them)."""
    joined = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return any(0xD800 <= ord(c) <= 0xDFFF for c in joined)


def sales(offices) -> list[tuple]:
    with offices.engine("bo1").connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT sale_date, region, product, qty, cost, amt, tax, total FROM sales "
                                                    "ORDER BY id"))]


@pytest.fixture
def branch_form(offices, gui, open_branch_window):
    # Free entry allowed, so that any valid product is saved (the catalogue's refusals: tests/gui/test_catalogue_form.py).
    window = open_branch_window(dataclasses.replace(offices.branch("bo1"), allow_free_products=True))
    gui.focus_window()
    return window


GOOD = {"sale_date": "2021-04-29", "region": "East", "product": "Paper", "qty": "7", "cost": "12.95"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(values=st.fixed_dictionaries(FIELDS))
@example(values={**GOOD, "qty": "9" * 40})               # digits, but far beyond any column: Amt is not computed
@example(values={**GOOD, "qty": "9" * 5000})             # beyond Python's own limit for int()
@example(values={**GOOD, "qty": "²"})                    # a digit to str.isdigit(), not to int()
@example(values={**GOOD, "cost": "1e30"})
@example(values={**GOOD, "region": "East\ud800"})       # a lone surrogate, pasted
@example(values={**GOOD, "product": "Pa\x85per", "region": "\u202eEast"})
@example(values={**GOOD, "product": "Paper \U0001F4CE"})  # four bytes in UTF-8: a valid product
def test_fuzzed_and_hostile_form_input_never_crashes_never_saves_an_invalid_sale_and_explains_every_refusal(
        offices, gui, branch_form, values):
    form = branch_form.form
    before = sales(offices)
    # Product first: choosing one fills Cost from the catalogue, and the fuzzed Cost must win.
    for name in ("product", "sale_date", "region", "qty", "cost"):
        paste(form.inputs[name], values[name])
    gui.settle()
    held = {name: form.vars[name].get() for name in FIELD_ORDER}   # what Tk holds, as Python reads it
    known = {field: list(names) for field, names in form.known.items()}
    gui.key("Return", form.inputs["qty"])
    try:
        expected = new_sale(tax_rate=RATE, **held)
    except SaleInvalid as refused:
        gui.settle(0.05)
        for field in FIELD_ORDER:
            shown = form.error_for(field)
            if field not in refused.errors:
                assert shown == "", (field, shown)
                continue
            calm = "Qty must be a whole number, like 12." if field == "qty" and qty_unreadable(held["qty"]) else None
            assert shown == (calm or sentence(refused.errors[field])), field
            assert shown.endswith(".") and not any(w in shown for w in ("Traceback", "invalid literal", "Exceeds")), shown
        for field, value in values.items():
            if still_lone(value):
                assert field in refused.errors, (field, value)    # a lone surrogate is never accepted
        assert sales(offices) == before
        return
    gui.wait_until(lambda: len(sales(offices)) == len(before) + 1, "the valid sale to be saved")
    # The commit is seen before the window hears of it; until it does, the form is
    # busy ("Saving…") and would ignore the next example's Enter.
    gui.wait_until(lambda: str(form.save_button.cget("state")) != "disabled", "the form to be ready again")
    saved = sales(offices)[-1]
    check_received(dict(zip(("sale_date", "region", "product", "qty", "cost", "amt", "tax", "total"), saved, strict=True)))
    spelled = {field: known_spelling(getattr(expected, field), known[field]) or getattr(expected, field)
               for field in ("region", "product")}
    assert saved == tuple({**expected.as_row(), **spelled}.values())

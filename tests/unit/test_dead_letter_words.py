"""The words of the dead-letter view: what a letter held, and one sentence on what to do for every kind of trouble."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from gui.dead_letters import advice, held_short, held_words, history_words
from sync.dead_letters import Attempt, DeadLetter
from sync.letter_contents import LetterContents, Trouble

NAMES = {"bo2": "West Branch"}
LETTER = DeadLetter(7, dt.datetime(2026, 11, 30, 14, 3), "bo2", "bo2", "bo2", "the engine's words", "bo2/x/1-9", "parked", 1)


def name(code: str) -> str:
    return NAMES.get(code, code)


@pytest.mark.parametrize("trouble", list(Trouble))
def test_every_kind_of_trouble_has_its_own_sentence_on_what_to_do(trouble):
    for reason in (None, "delivery_limit", "maxlen"):
        sentence = advice(LetterContents(trouble, 10, True, "changes", "bo2", broker_reason=reason), LETTER, name)
        assert sentence != "See Details." and sentence.endswith(".") and "\n" not in sentence
    others = {advice(LetterContents(t, 10, True, "changes", "bo2"), LETTER, name) for t in Trouble if t is not trouble}
    assert advice(LetterContents(trouble, 10, True, "changes", "bo2"), LETTER, name) not in others


def test_what_a_letter_held_names_the_branch_the_sales_their_total_and_their_numbers():
    contents = LetterContents(Trouble.UNKNOWN_BRANCH, 900, True, "changes", "bo2", sales=9, deletes=1,
                              total=Decimal("12345.5"), unread_totals=1, sale_numbers=(1, 2, 3, 4, 5, 6),
                              more_sale_numbers=3)
    assert held_words(contents, name) == ("West Branch (bo2) sent 9 sales totalling 12,345.50 (1 delete among them; "
                                          "the Total of 1 sale could not be read): sales 1, 2, 3, 4, 5, 6 and 3 more.")
    assert held_short(contents) == "9 sales · 12,345.50"
    one = LetterContents(Trouble.PASSES_NOW, 90, True, "changes", "bo5", sales=1, total=Decimal("2.34"), sale_numbers=(8,))
    assert held_words(one, name) == "bo5 sent 1 sale totalling 2.34: sale 8."
    assert advice(LetterContents(Trouble.UNKNOWN_BRANCH, 1, True, "changes", "bo5"), LETTER, name).startswith(
        "Add the branch bo5 to the Head Office config")


def test_a_body_that_cannot_be_read_says_so_with_its_size_and_hidden_characters_are_shown():
    unreadable = LetterContents(Trouble.MALFORMED, 1234, False)
    assert held_words(unreadable, name) == "A message from an unknown sender; what it held could not be read (1,234 bytes)."
    assert held_short(unreadable) == "unreadable, 1,234 bytes"
    odd = LetterContents(Trouble.UNKNOWN_BRANCH, 10, True, "changes", "b\u202eo9", sales=0)
    assert "\u202e" not in held_words(odd, name)


def test_the_history_counts_the_times_a_letter_was_parked():
    at = dt.datetime.now().replace(microsecond=0)
    steps = [Attempt(at, "parked", "why"), Attempt(at, "parked again", "tried again and parked again: why")]
    assert history_words(steps) == f"Parked 2 times: parked {at:%H:%M:%S} · parked again {at:%H:%M:%S}."
    assert history_words(steps[:1]) == f"Parked once: parked {at:%H:%M:%S}."

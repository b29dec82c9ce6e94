"""The resend and reconcile commands: which days they take, and how a branch-day is written."""
from __future__ import annotations

import argparse
import datetime as dt
from decimal import Decimal

import pytest

from models.day_close import BranchDay, DayState
from models.day_totals import DayTotals
from sync.cli import reconcile, resend

DAY = dt.date(2026, 11, 29)


def days_of(*argv: str) -> list[dt.date]:
    parser = argparse.ArgumentParser()
    resend.add_arguments(parser)
    return resend.chosen_days(parser.parse_args(list(argv)))


def test_resend_takes_one_date_or_a_range():
    assert days_of("--date", "2026-11-29") == [DAY]
    assert days_of("--from", "2026-11-28", "--to", "2026-11-30") == [DAY - dt.timedelta(days=1), DAY,
                                                                      DAY + dt.timedelta(days=1)]


@pytest.mark.parametrize("argv", [(), ("--date", "2026-11-29", "--from", "2026-11-29"),
                                  ("--from", "2026-11-29", "--to", "2026-11-01"), ("--from", "2020-01-01", "--to", "2026-01-01")])
def test_resend_refuses_an_unclear_or_huge_choice_of_days_with_a_sentence(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        days_of(*argv)
    assert stopped.value.code == 2 and capsys.readouterr().err.strip().endswith(".")


def test_reconcile_writes_both_sides_totals_of_a_day_that_differs():
    held = DayTotals(DAY, 2, 5, Decimal("10.00"), Decimal("0.70"), Decimal("10.70"), 42)
    theirs = DayTotals(DAY, 3, 6, Decimal("11.00"), Decimal("0.77"), Decimal("11.77"), 43)
    line = reconcile.line(BranchDay("bo1", DAY, DayState.DIFFERENT, theirs, held, dt.datetime(2026, 11, 29, 20), False))
    assert line == ("bo1 2026-11-29 different: branch 3 sale(s), qty 6, amt 11.00, tax 0.77, total 11.77, digest "
                    "000000000000002b; Head Office 2 sale(s), qty 5, amt 10.00, tax 0.70, total 10.70, digest "
                    "000000000000002a")
    certified = reconcile.line(BranchDay("bo1", DAY, DayState.CERTIFIED, held, held, dt.datetime(2026, 11, 29, 20), False))
    assert certified.startswith("bo1 2026-11-29 certified at 2026-11-29 20:00:00: 2 sale(s)")

"""reconcile: at the Head Office, each branch-day's state: its last reported totals against the rows held now."""
from __future__ import annotations

import argparse

from sqlalchemy.exc import DBAPIError

from config import HeadOfficeConfig, OfficeConfig
from models.day_close import BranchDay, DayState, day_close, sale_differences
from models.schema import make_engine
from sync.cli.resend import day
from sync.failures import ExitCode, db_words
from sync.office import fail, fits_or_exit

HELP = ("compare each branch's last reported day totals with the rows held now, one line per branch and day; "
        "exit 1 when any day is different")
ROLE = "head_office"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--branch", help="only this branch, e.g. bo1")
    parser.add_argument("--from", dest="first", type=day, help="the first day, e.g. 2026-11-01")
    parser.add_argument("--to", dest="last", type=day, help="the last day, e.g. 2026-11-29")


def line(d: BranchDay) -> str:
    """One branch-day in words: its state, and both sides' totals where they differ."""
    head = f"{d.branch} {d.day} {d.state.value}"
    if d.state is DayState.CERTIFIED:
        return f"{head} at {d.certified_at:%Y-%m-%d %H:%M:%S}: {d.held.words()}"
    if d.state is DayState.UNKNOWN:
        return f"{head}: the branch has reported nothing of this day; the Head Office holds {d.held.words()}"
    assert d.reported is not None
    return f"{head}: branch {d.reported.words()}; Head Office {d.held.words()}"


def run(cfg: OfficeConfig, args: argparse.Namespace) -> int:
    assert isinstance(cfg, HeadOfficeConfig)
    if args.branch is not None and args.branch not in cfg.branches:
        fail(ExitCode.CONFIG, f"{args.branch} is not one of this Head Office's branches ({', '.join(cfg.branches)}).")
    if args.first and args.last and args.last < args.first:
        fail(ExitCode.CONFIG, f"--to {args.last} is before --from {args.first}.")
    engine = make_engine(cfg.db_url)
    fits_or_exit(cfg)
    try:
        days = day_close(engine, [args.branch] if args.branch else list(cfg.branches), args.first, args.last)
        for d in days:
            print(line(d))
            if d.state is DayState.DIFFERENT:
                differs = sale_differences(engine, d.branch, d.day)
                if differs.any:
                    print(f"    sales missing here: {_numbers(differs.missing)}; held here only: "
                          f"{_numbers(differs.extra)}; with other values: {_numbers(differs.changed)} "
                          f"(as the branch answered at {differs.answered_at:%H:%M:%S})")
    except DBAPIError as exc:
        fail(ExitCode.DATABASE, f"The {cfg.name} database is not answering ({db_words(exc)}).")
    finally:
        engine.dispose()
    different = [d for d in days if d.state is DayState.DIFFERENT]
    if not days:
        print("No day of any branch in that range.")
    elif different:
        print(f"{len(different)} day(s) different: ask the branch to send them again (the Day close view, or "
              "`python -m sync resend --config <branch file> --date <day>` at the branch).")
    return ExitCode.NOT_HEALTHY if different else ExitCode.OK


def _numbers(ids: list[int]) -> str:
    if not ids:
        return "none"
    return ", ".join(f"#{i}" for i in ids[:30]) + (f" and {len(ids) - 30} more" if len(ids) > 30 else "")

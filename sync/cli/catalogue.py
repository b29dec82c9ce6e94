"""catalogue: the Head Office's products and prices from a shell: import a CSV file, show, export.

    python -m sync catalogue import --config config/ho.toml FILE.csv [--force]
    python -m sync catalogue show --config FILE [--date YYYY-MM-DD]
    python -m sync catalogue export --config config/ho.toml [FILE.csv]

``show`` works at every office: at a branch it prints the catalogue the branch
received, which is what its clerks sell from.  An import is checked whole before
anything changes (models/catalogue_csv.py); exit 1 when it was refused or held.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from config import OfficeConfig
from models.catalogue import read_catalogue
from models.catalogue_csv import ImportRefused, export_csv, import_csv, show_csv
from models.schema import make_engine
from models.setup import SchemaMismatch, check_fits
from sync.failures import ExitCode, db_words
from sync.office import fail, role_of

HELP = "the catalogue: import a CSV file of products and costs (Head Office), show what is on sale, export"
ROLE = None
NESTED = True  # its actions take --config themselves: `catalogue import --config FILE ...`


def add_arguments(parser: argparse.ArgumentParser, add_config: Callable[[argparse.ArgumentParser], None]) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    imports = actions.add_parser("import", help="import products and costs from a CSV file (Head Office)",
                                 description="Columns product,cost and optionally effective_from (YYYY-MM-DD) and "
                                             "active (yes/no). Nothing changes unless every row is good.")
    add_config(imports)
    imports.add_argument("file", help="the CSV file")
    imports.add_argument("--force", action="store_true",
                         help="import even when it retires more than a fifth of the products or moves many prices by "
                              "more than half")
    show = actions.add_parser("show", help="print product,cost of what is on sale here on a date (default today)")
    add_config(show)
    show.add_argument("--date", type=_day, default=None, help="YYYY-MM-DD (default: today)")
    export = actions.add_parser("export", help="write the catalogue as a CSV file that imports back unchanged")
    add_config(export)
    export.add_argument("file", nargs="?", help="where to write it (default: standard output)")


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD") from None


def run(cfg: OfficeConfig, args: argparse.Namespace, today: dt.date | None = None) -> int:
    today = today or dt.date.today()
    if args.action in ("import", "export") and cfg.is_branch:
        fail(ExitCode.CONFIG, f"The catalogue is kept at the Head Office; {cfg.source} is a branch's file "
                              "(a branch can only show what it received).")
    engine = make_engine(cfg.db_url)
    try:
        check_fits(engine, role_of(cfg))
        if args.action == "show":
            with engine.connect() as conn:
                catalogue = read_catalogue(conn, head_office=not cfg.is_branch)
            sys.stdout.write(show_csv(catalogue, args.date or today))
            return ExitCode.OK
        if args.action == "export":
            with engine.connect() as conn:
                text = export_csv(read_catalogue(conn, head_office=True), today)
            if args.file:
                Path(args.file).write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
            return ExitCode.OK
        return _import(engine, args, today)
    except SchemaMismatch as exc:
        fail(ExitCode.SCHEMA, str(exc))
    except DBAPIError as exc:
        fail(ExitCode.DATABASE, f"The {cfg.name} database is not answering ({db_words(exc)}); nothing was changed.")
    finally:
        engine.dispose()


def _import(engine: Engine, args: argparse.Namespace, today: dt.date) -> int:
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(ExitCode.CONFIG, f"Cannot read {args.file} as UTF-8 text ({exc.__class__.__name__}); nothing was changed.")
    try:
        with engine.begin() as conn:
            plan = import_csv(conn, text, today, force=args.force)
    except ImportRefused as exc:
        print(str(exc), file=sys.stderr)
        print(f"Nothing was changed: {len(exc.problems)} problem(s) in {args.file}.", file=sys.stderr)
        return ExitCode.NOT_HEALTHY
    if plan.held and not args.force:
        print(plan.held, file=sys.stderr)
        print(f"Nothing was changed ({plan.summary()} were asked for).", file=sys.stderr)
        return ExitCode.NOT_HEALTHY
    print(f"Imported {args.file}: {plan.summary()}." if plan.changes else f"{args.file} changes nothing.")
    return ExitCode.OK

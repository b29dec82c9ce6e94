"""init-db: create the office database and schema if missing, and make capture whole."""
from __future__ import annotations

import argparse

from sqlalchemy.exc import DBAPIError

from config import OfficeConfig
from models.capture import Vanished
from models.setup import SchemaMismatch
from sync.failures import ExitCode, db_words
from sync.office import fail, init_database

HELP = "create the office database, tables and change capture if missing, and repair capture (idempotent)"
ROLE = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vanished", choices=[v.value for v in Vanished],
                        help="at a branch: what to do with sales removed without capture (TRUNCATE, a table swap): "
                             "keep them at the Head Office (an archive), or delete them there too")


def run(cfg: OfficeConfig, args: argparse.Namespace) -> int:
    try:
        done = init_database(cfg, Vanished(args.vanished) if args.vanished else None)
    except SchemaMismatch as exc:
        fail(ExitCode.SCHEMA, exc.sentence(cfg.source))
    except DBAPIError as exc:
        fail(ExitCode.DATABASE, f"Cannot prepare the {cfg.name} database: {db_words(exc)}. "
                                f"Is MySQL running at the db_url in {cfg.source}?")
    for line in done.lines() if done else []:
        print(f"{cfg.code}: {line}.")
    print(f"{cfg.name} ({cfg.code}): database ready.")
    return ExitCode.OK

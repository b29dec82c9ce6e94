"""adopt: at the Head Office, take a branch's new history (after `rejoin` there)."""
from __future__ import annotations

import argparse

from sqlalchemy.exc import DBAPIError

from config import HeadOfficeConfig, OfficeConfig
from models.schema import make_engine
from sync.failures import ExitCode, db_words
from sync.histories import adopt
from sync.office import fail, fits_or_exit

HELP = "take a branch's new history: set aside the rows held from the old one, apply the new (after `rejoin`)"
ROLE = "head_office"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--branch", required=True, help="the branch's code, e.g. bo1")
    parser.add_argument("--origin", help="the new history's database id (default: that of its newest parked changes)")


def run(cfg: OfficeConfig, args: argparse.Namespace) -> int:
    assert isinstance(cfg, HeadOfficeConfig)
    if args.branch not in cfg.branches:
        fail(ExitCode.CONFIG, f"{args.branch} is not one of this Head Office's branches ({', '.join(cfg.branches)}).")
    fits_or_exit(cfg)
    engine = make_engine(cfg.db_url)
    try:
        done = adopt(engine, args.branch, args.origin)
    except ValueError as exc:
        fail(ExitCode.NOT_HEALTHY, f"Nothing was changed: {exc}.")
    except DBAPIError as exc:
        fail(ExitCode.DATABASE, f"Nothing was changed: the {cfg.name} database is not answering ({db_words(exc)}).")
    finally:
        engine.dispose()
    print(f"{done.branch}: adopted history {done.origin}; archived {done.archived} row(s) of the old history in "
          f"sync_archive; {done.queued} parked message(s) of the new history queued for the consumer"
          + (f", {done.superseded} of older histories closed" if done.superseded else "") + ".")
    return ExitCode.OK

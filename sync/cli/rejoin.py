"""rejoin: at a branch, start a new history the Head Office can adopt (after a restore or a copy)."""
from __future__ import annotations

import argparse

from sqlalchemy.exc import DBAPIError

from config import OfficeConfig
from models.schema import make_engine
from sync.failures import ExitCode, db_words
from sync.histories import rejoin
from sync.office import fail, fits_or_exit

HELP = "give this branch database a new history with every sale it holds, for the Head Office to adopt"
ROLE = "branch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """rejoin takes nothing but --config; stop the branch's agent first."""


def run(cfg: OfficeConfig, args: argparse.Namespace) -> int:
    fits_or_exit(cfg)
    engine = make_engine(cfg.db_url)
    try:
        done = rejoin(engine)
    except DBAPIError as exc:
        fail(ExitCode.DATABASE, f"Nothing was changed: the {cfg.name} database is not answering ({db_words(exc)}).")
    finally:
        engine.dispose()
    print(f"{cfg.code}: new history {done.origin}; {done.queued} sale(s) queued to send. At the Head Office, run "
          f"`python -m sync adopt --config <its file> --branch {cfg.code}` to take it.")
    return ExitCode.OK

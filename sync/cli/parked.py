"""parked: at a branch, the messages from the Head Office kept until this branch reads their version; retry them."""
from __future__ import annotations

import argparse

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from config import OfficeConfig
from models import parked
from models.schema import make_engine
from sync.failures import ExitCode, db_words
from sync.office import fail, fits_or_exit
from sync.parked_at_branch import readable_now

HELP = ("list the messages from the Head Office kept at this branch until it reads their version; --retry asks the "
        "agent to apply those this release reads (it does so by itself when it starts)")
ROLE = "branch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--retry", action="store_true", help="ask the agent to apply now those this release reads")
    action.add_argument("--discard", type=int, metavar="ID",
                        help="remove one that can never be applied (its number as listed); it is not applied")


def run(cfg: OfficeConfig, args: argparse.Namespace) -> int:
    fits_or_exit(cfg)
    engine = make_engine(cfg.db_url)
    try:
        if args.retry:
            return _retry(cfg, engine)
        if args.discard is not None:
            return _discard(cfg, engine, args.discard)
        waiting = parked.listed(engine)
        if not waiting:
            print(f"{cfg.code}: no message from the Head Office waits here.")
        for p in waiting:
            print(f"#{p.id}  received {p.received_at:%Y-%m-%d %H:%M}  version {p.version} "
                  f"{p.kind or 'of a type not read'}: {p.reason}")
        return ExitCode.OK
    except DBAPIError as exc:
        fail(ExitCode.DATABASE, f"The {cfg.name} database is not answering ({db_words(exc)}); nothing was changed.")
    finally:
        engine.dispose()


def _retry(cfg: OfficeConfig, engine: Engine) -> int:
    kept = parked.listed(engine)
    waiting, readable = len(kept), readable_now(kept)
    if not waiting:
        print(f"{cfg.code}: no message from the Head Office waits here.")
        return ExitCode.OK
    parked.ask_retry(engine)
    print(f"{cfg.code}: asked the agent to apply the {readable} of {waiting} waiting message(s) this release reads; "
          "it does so within seconds while it runs, or when it next starts.")
    if readable < waiting:
        print(f"{cfg.code}: the others are of a version this release does not read: install the release that does, "
              f"then run `python -m sync migrate --config {cfg.source}`.")
    return ExitCode.OK


def _discard(cfg: OfficeConfig, engine: Engine, parked_id: int) -> int:
    if not parked.discard(engine, parked_id):
        fail(ExitCode.CONFIG, f"No message #{parked_id} waits here; `python -m sync parked` lists those that do.")
    print(f"{cfg.code}: message #{parked_id} from the Head Office was removed without being applied.")
    return ExitCode.OK

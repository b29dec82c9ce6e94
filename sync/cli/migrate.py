"""migrate: upgrade an office database in place to this release's schema."""
from __future__ import annotations

import argparse

from sqlalchemy.exc import DBAPIError

from config import OfficeConfig
from models.migrations import schema_status, upgrade
from models.parked import listed
from models.schema import make_engine
from sync.dead_letters import queue_readable_again
from sync.failures import ExitCode, db_words
from sync.office import fail, role_of
from sync.parked_at_branch import readable_now

HELP = ("upgrade the office database in place to this release's schema (take a backup first); queue again the "
        "parked messages of a version this release reads (at a branch, its agent applies them when it starts)")
ROLE = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """migrate takes nothing but --config."""


def run(cfg: OfficeConfig, args: argparse.Namespace) -> int:
    # An upgrade builds indexes and fills tables over every row held: minutes at millions of sales, far above
    # the two minutes a single statement of a running office is given.
    engine = make_engine(cfg.db_url, connect_args={"read_timeout": 3600, "write_timeout": 3600})
    requeued = readable = 0
    try:
        before = schema_status(engine, role_of(cfg))
        applied = upgrade(engine, role_of(cfg))
        if not cfg.is_branch:  # messages a newer office wrote, which this release may now read
            requeued = queue_readable_again(engine)
        else:  # the agent applies them when it starts
            readable = readable_now(listed(engine))
    except ValueError as exc:
        fail(ExitCode.SCHEMA, str(exc))
    except DBAPIError as exc:
        fail(ExitCode.DATABASE, f"The {cfg.name} database is not answering ({db_words(exc)}); nothing was changed.")
    finally:
        engine.dispose()
    if applied:
        print(f"{cfg.code}: upgraded from schema revision {before.revision} to {applied[-1]} ({', '.join(applied)}).")
    else:
        print(f"{cfg.code}: the database is already at schema revision {before.head}.")
    if requeued:
        print(f"{cfg.code}: {requeued} parked message(s) of a protocol version this release reads are queued again; "
              "the consumer applies them as soon as it runs.")
    if readable:
        print(f"{cfg.code}: {readable} message(s) from the Head Office kept for their version are read by this release; "
              "the agent applies them when it starts.")
    return ExitCode.OK

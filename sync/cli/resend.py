"""resend: at a branch, send a day (or a range of days) again, so the Head Office holds exactly its sales."""
from __future__ import annotations

import argparse
import datetime as dt
import logging

import pika
from sqlalchemy.exc import DBAPIError

from config import BranchConfig, OfficeConfig
from models.schema import make_engine
from sync import protocol
from sync.branch_days import BranchDays, NotResent, parse_days
from sync.broker import Names, close_quietly, connect, declare_topology, login_of, session_failure
from sync.failures import ExitCode, LinkDown, db_words
from sync.office import fail, fits_or_exit
from sync.outbox import Outbox

HELP = ("send a day's sales again (its rows and every sale number): the Head Office applies them as changes and "
        "removes what this branch no longer has")
ROLE = "branch"
MAX_DAYS = 366


def day(text: str) -> dt.date:
    """An argparse type: a day written YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day written YYYY-MM-DD, like 2026-11-29") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", type=day, help="the day to send again, e.g. 2026-11-29")
    parser.add_argument("--from", dest="first", type=day, help="the first day of a range to send again")
    parser.add_argument("--to", dest="last", type=day, help="the last day of the range (default: --from)")


def chosen_days(args: argparse.Namespace) -> list[dt.date]:
    if args.date is not None and (args.first or args.last):
        fail(ExitCode.CONFIG, "Give either --date or --from/--to, not both.")
    if args.date is not None:
        return [args.date]
    if args.first is None:
        fail(ExitCode.CONFIG, "Say which day to send again: --date 2026-11-29, or --from 2026-11-01 --to 2026-11-29.")
    last = args.last or args.first
    if last < args.first:
        fail(ExitCode.CONFIG, f"--to {last} is before --from {args.first}.")
    days = parse_days(args.first, last)
    if len(days) > MAX_DAYS:
        fail(ExitCode.CONFIG, f"{len(days)} days is more than {MAX_DAYS} at once; send a shorter range.")
    return days


def run(cfg: OfficeConfig, args: argparse.Namespace) -> int:
    assert isinstance(cfg, BranchConfig)
    days = chosen_days(args)
    log = logging.getLogger(f"sync.{cfg.code}")
    engine = make_engine(cfg.db_url)
    fits_or_exit(cfg)
    connection = None
    try:
        connection, index = connect(cfg, log=log)
        channel = connection.channel()
        channel.confirm_delivery()
        names = declare_topology(channel, cfg, [cfg.code]) if cfg.declare_topology else Names(cfg.topology_prefix)
        user = login_of(cfg.amqp_urls[index])

        def send(kind: str, body: bytes, message_id: str) -> None:
            channel.basic_publish(names.branch_exchange(cfg.code), cfg.code, body,
                                  protocol.day_properties(kind, cfg.code, message_id, user), mandatory=True)

        sent = BranchDays(cfg, engine, Outbox(engine), log).resend(days, send)
    except NotResent as exc:
        fail(ExitCode.CAPTURE, str(exc))
    except LinkDown as exc:
        fail(ExitCode.BROKER, f"Nothing was sent again: the broker could not be reached ({exc}).")
    except (pika.exceptions.AMQPError, OSError) as exc:
        fail(ExitCode.BROKER, f"The broker stopped the resend ({session_failure(exc)}); run it again, it is safe.")
    except DBAPIError as exc:
        fail(ExitCode.DATABASE, f"Nothing was sent again: the {cfg.name} database is not answering ({db_words(exc)}).")
    finally:
        close_quietly(connection)
        engine.dispose()
    for each, rows in sent.items():
        print(f"{cfg.code}: sent {each} again, {rows} sale(s); the Head Office applies them and removes the sales of "
              "that day it holds and this branch no longer has.")
    return ExitCode.OK

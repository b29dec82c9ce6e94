"""What the office programs and commands do before their window, agent or work starts."""
from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import NoReturn, Protocol

from sqlalchemy.exc import DBAPIError

from config import BranchConfig, ConfigError, HeadOfficeConfig, OfficeConfig, load_office
from models.capture import CaptureRepair, Vanished
from models.migrations import Role
from models.schema import create_database, make_engine
from models.setup import SchemaMismatch, check_fits, init_branch_database, init_head_office_database
from sync.failures import ExitCode, db_words

LOG_FORMAT = "%(asctime)s [%(name)s] %(levelname)s: %(message)s"


def setup_logging(verbose: bool = False) -> None:
    """One line per event, naming the office (loggers are named ``sync.<office>``)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT, datefmt="%H:%M:%S")
    # pika logs every failed connection attempt at ERROR; the engine already says
    # it once, in words, when the link changes state.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def fail(code: ExitCode, sentence: str, tell: Callable[[str], None] | None = None) -> NoReturn:
    """Print one sentence on stderr and exit with ``code``; ``tell`` also shows it (a window's dialog) before."""
    print(sentence, file=sys.stderr, flush=True)
    if tell is not None:
        tell(sentence)
    sys.exit(int(code))


def load_or_exit(path: str, role: str | None = None) -> OfficeConfig:
    """Load a config, or print one sentence and exit 2."""
    try:
        cfg = load_office(path)
    except ConfigError as exc:
        fail(ExitCode.CONFIG, f"Configuration problem: {exc}")
    if role and cfg.role != role:
        fail(ExitCode.CONFIG, f"Configuration problem: {path} is for a {cfg.role.replace('_', ' ')}, "
                              f"not a {role.replace('_', ' ')}.")
    return cfg


def role_of(cfg: OfficeConfig) -> Role:
    return Role.BRANCH if cfg.is_branch else Role.HEAD_OFFICE


def init_database(cfg: OfficeConfig, vanished: Vanished | None = None) -> CaptureRepair | None:
    """Create the office database if missing, its schema if empty; mend capture or register branches.

    Raises SchemaMismatch when the schema is older or newer than this code.
    """
    create_database(cfg.db_url)
    engine = make_engine(cfg.db_url)
    try:
        if isinstance(cfg, BranchConfig):
            return init_branch_database(engine, vanished)
        assert isinstance(cfg, HeadOfficeConfig)
        init_head_office_database(engine, cfg.branches)
        return None
    finally:
        engine.dispose()


def prepare_or_exit(cfg: OfficeConfig, tell: Callable[[str], None] | None = None) -> None:
    """Before a program starts: a new database is created; an existing one must fit this code.

    A program never repairs capture by itself (``init-db`` does, and says what it did);
    it only refuses a schema it does not know, in one sentence, touching nothing.
    ``tell`` also shows a refusal's sentence to a person (a program with a window:
    ``gui.refusal``), before the exit.
    """
    try:
        create_database(cfg.db_url)
        engine = make_engine(cfg.db_url)
        try:
            check_fits(engine, role_of(cfg))
        finally:
            engine.dispose()
        if isinstance(cfg, HeadOfficeConfig) or _empty(cfg):
            init_database(cfg)
    except SchemaMismatch as exc:
        fail(ExitCode.SCHEMA, exc.sentence(cfg.source), tell)
    except DBAPIError as exc:
        fail(ExitCode.DATABASE, f"Cannot prepare the {cfg.name} database: {db_words(exc)}. "
                                f"Is MySQL running at the db_url in {cfg.source}?", tell)


def fits_or_exit(cfg: OfficeConfig, down_is_theirs: bool = False) -> None:
    """Before a command reads or writes an existing office database: it must be at this code's schema.

    An older or newer one is refused in one sentence (exit 6) naming both revisions
    and what to run; an empty one is left for the command to report as it would.
    A database that does not answer is exit 4, or, with ``down_is_theirs``, left
    for the command to report in its own words.
    """
    try:
        engine = make_engine(cfg.db_url)
        try:
            check_fits(engine, role_of(cfg))
        finally:
            engine.dispose()
    except SchemaMismatch as exc:
        fail(ExitCode.SCHEMA, exc.sentence(cfg.source))
    except DBAPIError as exc:
        if not down_is_theirs:
            fail(ExitCode.DATABASE, f"The {cfg.name} database is not answering ({db_words(exc)}); nothing was changed.")


def _empty(cfg: OfficeConfig) -> bool:
    from models.migrations import Standing, schema_status

    engine = make_engine(cfg.db_url)
    try:
        return schema_status(engine, role_of(cfg)).standing is Standing.EMPTY
    finally:
        engine.dispose()


class Stoppable(Protocol):
    def is_alive(self) -> bool: ...

    def stop(self, timeout: float | None = 10) -> None: ...


def run_until_signalled(worker: Stoppable, stop_seconds: float = 10) -> int:
    """Run a started worker thread until SIGINT or SIGTERM (``systemctl stop``), then stop it cleanly.

    Returns 0 once the worker has finished what it was doing and stopped, 1 if it
    had not within ``stop_seconds`` (the process then ends anyway: what was in
    flight is sent or applied again by the next start, never lost).
    """
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set() and worker.is_alive():
        stop.wait(0.5)
    worker.stop(stop_seconds)
    if worker.is_alive():
        logging.getLogger("sync").error("The work in hand did not finish within %.0f s, so the program ends now; "
                                        "the next start sends or applies it again.", stop_seconds)
        return int(ExitCode.NOT_HEALTHY)
    return int(ExitCode.OK)

"""What both office programs do before their window or agent starts, and the
headless run loop they share."""
from __future__ import annotations

import logging
import signal
import sys
import threading

from sqlalchemy.exc import DBAPIError

from config import ConfigError, OfficeConfig, load_office
from models.schema import create_database, describe_db, init_branch_schema, init_head_office_schema, make_engine

LOG_FORMAT = "%(asctime)s [%(name)s] %(levelname)s: %(message)s"


def setup_logging(verbose: bool = False) -> None:
    """One line per event, naming the office (loggers are named ``sync.<office>``)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT, datefmt="%H:%M:%S")
    # pika logs every failed connection attempt at ERROR; the engine already says
    # it once, in words, when the link changes state.
    logging.getLogger("pika").setLevel(logging.CRITICAL)


def load_or_exit(path: str, role: str | None = None) -> OfficeConfig:
    """Load a config, or print one sentence and exit 2."""
    try:
        cfg = load_office(path)
    except ConfigError as exc:
        _exit(2, f"Configuration problem: {exc}")
    if role and cfg.role != role:
        _exit(2, f"Configuration problem: {path} is for a {cfg.role.replace('_', ' ')}, not a {role.replace('_', ' ')}.")
    return cfg


def _exit(code: int, sentence: str):
    print(sentence, file=sys.stderr)
    sys.exit(code)


def init_database(cfg: OfficeConfig) -> dict:
    """Create the office database, tables and capture if missing (idempotent)."""
    create_database(cfg.db_url)
    engine = make_engine(cfg.db_url)
    try:
        if cfg.is_branch:
            return init_branch_schema(engine)
        init_head_office_schema(engine, cfg.branches)
        return {}
    finally:
        engine.dispose()


def init_or_exit(cfg: OfficeConfig) -> None:
    try:
        done = init_database(cfg)
    except DBAPIError as exc:
        _exit(4, f"Cannot prepare the {cfg.name} database: {describe_db(exc)}. Is MySQL running at the db_url in {cfg.source}?")
    log = logging.getLogger(f"sync.{cfg.code}")
    if done.get("triggers_created"):
        log.info("installed change capture (%s)", ", ".join(done["triggers_created"]))
    if done.get("initial_load"):
        log.info("queued %d existing sale(s) for the initial load", done["initial_load"])


def run_until_signalled(worker: threading.Thread, stop_seconds: float = 10) -> int:
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
        return 1
    return 0

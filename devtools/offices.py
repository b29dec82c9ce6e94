"""A private set of offices: config files, databases and broker names, shared by the tests
(tests/harness.py) and the benchmarks (bench/offices.py).

Every set gets a random tag, so its databases are ``bs_<tag>_*`` and its broker
objects ``bs_<tag>.*``; ``cleanup`` drops all of them, whatever happened (quorum
queues left behind would slow the broker down for everyone).
"""
from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pika
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine

from config import BranchConfig, HeadOfficeConfig, load_office
from config.offices import BRANCH_KEYS, HEAD_OFFICE_KEYS
from models.schema import make_engine
from sync.broker import Names
from sync.office import init_database

log = logging.getLogger("devtools.offices")


def toml_value(value: Any) -> str:
    """``value`` written as a TOML value (text, number, bool, list or inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {toml_value(v)}" for key, v in value.items()) + " }"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def broker_objects(prefix: str, branches: Iterable[str]) -> tuple[list[str], list[str]]:
    """Every queue and exchange of a topology: (queues, exchanges)."""
    names = Names(prefix)
    queues = [names.intake_queue, names.dead_queue]
    exchanges = [names.intake_exchange, names.receipts_exchange, names.dead_exchange, names.held_exchange]
    for b in branches:
        queues += [names.receipts_queue(b), names.branch_queue(b), names.held_queue(b)]
        exchanges.append(names.branch_exchange(b))
    return queues, exchanges


class OfficeSet:
    """One Head Office and some branches with private databases and broker names.

    ``branches`` maps each code to (name, region); ``settings`` go to the files of the
    offices that take them (config.offices says which), the rest to every file.
    """

    def __init__(self, directory: Path, branches: dict[str, tuple[str, str]], db_root: str, amqp_url: str,
                 tag: str, **settings: Any):
        self.tag, self.db_root, self.amqp_url = tag, db_root, amqp_url
        self.prefix = f"bs_{tag}"
        self.dir = Path(directory) / f"config-{tag}"
        self.dir.mkdir(parents=True)
        settings = {"amqp_urls": [amqp_url], "topology_prefix": self.prefix, **settings}
        common = {k: v for k, v in settings.items() if k not in HEAD_OFFICE_KEYS and k not in BRANCH_KEYS}
        self.paths: dict[str, Path] = {}
        self._write("ho", {"role": "head_office", "code": "ho", "name": "Head Office", "db_url": f"{db_root}/{self.prefix}_ho",
                           "branches": {c: name for c, (name, _region) in branches.items()}, **common,
                           **{k: v for k, v in settings.items() if k in HEAD_OFFICE_KEYS}})
        for code, (name, region) in branches.items():
            self._write(code, {"role": "branch", "code": code, "name": name, "region": region, "tax_rate": "0.07",
                               "db_url": f"{db_root}/{self.prefix}_{code}", **common,
                               **{k: v for k, v in settings.items() if k in BRANCH_KEYS}})
        ho = load_office(self.paths["ho"], environ={})
        assert isinstance(ho, HeadOfficeConfig)
        self.ho: HeadOfficeConfig = ho
        self.branches: list[BranchConfig] = [b for b in (load_office(self.paths[c], environ={}) for c in branches)
                                             if isinstance(b, BranchConfig)]
        self.extra_queues: list[str] = []
        self._engines: dict[str, Engine] = {}

    @staticmethod
    def new_tag(prefix: str) -> str:
        return prefix + secrets.token_hex(4)

    def _write(self, code: str, values: dict[str, Any]) -> None:
        path = self.dir / f"{code}.toml"
        path.write_text("".join(f"{k} = {toml_value(v)}\n" for k, v in values.items()), encoding="utf-8")
        self.paths[code] = path

    @property
    def codes(self) -> list[str]:
        return [b.code for b in self.branches]

    def branch(self, code: str) -> BranchConfig:
        return next(b for b in self.branches if b.code == code)

    def init(self):
        """Create every database with its tables and capture triggers, one after the other.

        (Side by side, threads once aborted the interpreter in a garbage collection inside
        SQLAlchemy 2.1's compiled extensions while Alembic stamped another database.)
        """
        for cfg in [self.ho, *self.branches]:
            init_database(cfg)
        return self

    def engine(self, code: str, **kw: Any) -> Engine:
        """A (cached) engine for the office ``code`` ("ho" or a branch code)."""
        if code not in self._engines:
            cfg = self.ho if code == "ho" else self.branch(code)
            self._engines[code] = make_engine(cfg.db_url, **kw)
        return self._engines[code]

    def broker_objects(self) -> tuple[list[str], list[str]]:
        queues, exchanges = broker_objects(self.prefix, self.codes)
        return queues + self.extra_queues, exchanges

    def cleanup(self) -> dict[str, list[str]]:
        """Drop every database and broker object of this set; returns what it dropped."""
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        databases = [cfg.db_url.rsplit("/", 1)[1] for cfg in [self.ho, *self.branches]]
        server = make_engine(self.db_root + "/")
        try:
            with server.begin() as conn:
                # A connection left open by a stuck thread (a test cut its link mid-transaction)
                # would hold a metadata lock that DROP DATABASE, and then the whole server's
                # trigger lookups, wait behind: end such connections first, and never wait long.
                conn.execute(text("SET SESSION lock_wait_timeout = 30"))
                for (pid,) in conn.execute(
                    text("SELECT ID FROM information_schema.PROCESSLIST WHERE DB IN :names AND ID <> CONNECTION_ID()")
                    .bindparams(bindparam("names", expanding=True)), {"names": databases},
                ):
                    with contextlib.suppress(Exception):
                        conn.execute(text(f"KILL {int(pid)}"))
                for name in databases:
                    conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        finally:
            server.dispose()
        queues, exchanges = self.broker_objects()
        self.each_on_broker(queues, "queue_delete")
        self.each_on_broker(exchanges, "exchange_delete")
        return {"databases": databases, "queues": queues, "exchanges": exchanges}

    def each_on_broker(self, names: list[str], method: str, patience: float = 60.0) -> None:
        """Call ``channel.<method>(name)`` for each name; a name never declared is skipped.

        A broker that is restarting is waited for (up to ``patience`` seconds), so
        that a cleanup during a restart still removes everything.
        """
        deadline = time.monotonic() + patience
        pending = list(names)
        while pending:
            try:
                connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
            except pika.exceptions.AMQPError:
                if time.monotonic() > deadline:
                    log.warning("the broker did not answer; left behind: %s", ", ".join(pending))
                    return
                time.sleep(1)
                continue
            try:
                while pending:
                    channel = connection.channel()
                    with contextlib.suppress(pika.exceptions.ChannelClosedByBroker):  # never declared
                        getattr(channel, method)(pending[0])
                    pending.pop(0)
                    if channel.is_open:
                        channel.close()
            except (pika.exceptions.AMQPError, OSError):
                if time.monotonic() > deadline:
                    log.warning("the broker went away; left behind: %s", ", ".join(pending))
                    return
                time.sleep(1)
            finally:
                with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                    connection.close()

"""Private offices for one benchmark figure: config files, databases and broker names.

Every set gets a random tag, so its databases are ``bs_<tag>_*`` and its broker
objects ``bs_<tag>.*``; ``cleanup`` drops all of them, whatever happened.  The
configs keep the product's defaults (batch size, prefetch, poll interval), so a
figure measures what an office would really do.
"""
from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pika
from sqlalchemy import text

from config import OfficeConfig, load_office
from models.schema import make_engine
from sync.broker import Names
from sync.office import init_database

DB_ROOT = os.environ.get("SYNC_BENCH_DB_ROOT", "mysql+pymysql://root:@127.0.0.1:3306")
AMQP_URL = os.environ.get("SYNC_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672/%2F")
REGIONS = ("East", "West", "North", "South", "Central")
log = logging.getLogger("bench")


def toml_value(value) -> str:
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


def branch_code(index: int) -> str:
    """The code of the ``index``-th simulated branch (b01, b02, ...)."""
    return f"b{index + 1:02d}"


class BenchOffices:
    """One Head Office and ``branches`` branches, private to one figure.

    ``BenchOffices.removed`` lists, for every set cleaned up in this process, the
    databases and queues it dropped, so a test can check that none is left.
    """

    removed: list[dict] = []

    def __init__(self, workdir: Path, branches: int, **overrides):
        self.tag = "bn" + secrets.token_hex(3)
        self.prefix = f"bs_{self.tag}"
        self.dir = Path(workdir) / self.tag
        self.dir.mkdir(parents=True)
        codes = [branch_code(i) for i in range(branches)]
        common = {"amqp_urls": [AMQP_URL], "topology_prefix": self.prefix, **overrides}
        self.paths: dict[str, Path] = {}
        self._write("ho", {
            "role": "head_office", "code": "ho", "name": "Head Office", "db_url": f"{DB_ROOT}/{self.prefix}_ho",
            "branches": {c: f"Branch {c}" for c in codes}, **common,
        })
        for i, code in enumerate(codes):
            self._write(code, {
                "role": "branch", "code": code, "name": f"Branch {code}", "region": REGIONS[i % len(REGIONS)],
                "tax_rate": "0.07", "db_url": f"{DB_ROOT}/{self.prefix}_{code}", **common,
            })
        self.ho: OfficeConfig = load_office(self.paths["ho"], environ={})
        self.branches: list[OfficeConfig] = [load_office(self.paths[c], environ={}) for c in codes]
        self.extra_queues: list[str] = []
        self._engines: dict[str, object] = {}

    def _write(self, code: str, values: dict) -> None:
        path = self.dir / f"{code}.toml"
        path.write_text("".join(f"{k} = {toml_value(v)}\n" for k, v in values.items()), encoding="utf-8")
        self.paths[code] = path

    @property
    def codes(self) -> list[str]:
        return [b.code for b in self.branches]

    def init(self) -> BenchOffices:
        """Create every database with its tables and capture triggers."""
        init_database(self.ho)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(init_database, self.branches))
        return self

    def engine(self, code: str):
        """A (cached) engine for the office ``code`` ("ho" or a branch code)."""
        if code not in self._engines:
            cfg = self.ho if code == "ho" else next(b for b in self.branches if b.code == code)
            self._engines[code] = make_engine(cfg.db_url, pool_size=2)
        return self._engines[code]

    def reset(self) -> None:
        """Make every branch's backlog pending again and the Head Office empty.

        Run only while no agent or consumer is working; the broker queues are
        purged too, so the next drain starts from the state a fresh backlog has.
        """
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(self._reset_branch, self.codes))
        self._empty_head_office()

    def empty(self) -> None:
        """Remove every sale and change everywhere (TRUNCATE fires no capture trigger)."""
        for code in self.codes:
            with self.engine(code).begin() as conn:
                conn.execute(text("TRUNCATE TABLE sales"))
                conn.execute(text("TRUNCATE TABLE sync_outbox"))
        self._empty_head_office()

    def _empty_head_office(self) -> None:
        with self.engine("ho").begin() as conn:
            conn.execute(text("TRUNCATE TABLE sales"))
            conn.execute(text("TRUNCATE TABLE sync_tombstones"))
            conn.execute(text("UPDATE sync_branches SET last_seq = 0, changes_applied = 0, last_applied_at = NULL"))
        names = Names(self.prefix)
        self._each_queue([names.intake_queue, *[names.receipts_queue(c) for c in self.codes]], "queue_purge")

    def _reset_branch(self, code: str) -> None:
        with self.engine(code).begin() as conn:
            conn.execute(text("UPDATE sync_outbox SET state = 0, sent_at = NULL, applied_at = NULL, note = NULL"))

    def _each_queue(self, names: list[str], method: str, patience: float = 60.0) -> None:
        """Call ``channel.<method>(name)`` for each name; a name never declared is skipped.

        A broker that is restarting is waited for (up to ``patience`` seconds), so
        that a cleanup during a restart still removes everything.
        """
        deadline = time.monotonic() + patience
        pending = list(names)
        while pending:
            try:
                connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
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

    def cleanup(self) -> None:
        """Drop every database and broker object this set created."""
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        databases = [cfg.db_url.rsplit("/", 1)[1] for cfg in [self.ho, *self.branches]]
        server = make_engine(DB_ROOT + "/")
        try:
            with server.begin() as conn:
                for name in databases:
                    conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        finally:
            server.dispose()
        names = Names(self.prefix)
        queues = [names.intake_queue, names.dead_queue, *[names.receipts_queue(c) for c in self.codes], *self.extra_queues]
        self._each_queue(queues, "queue_delete")
        exchanges = [names.intake_exchange, names.receipts_exchange, names.dead_exchange]
        self._each_queue(exchanges, "exchange_delete")
        BenchOffices.removed.append({"databases": databases, "queues": queues, "exchanges": exchanges})

    def __enter__(self) -> BenchOffices:
        try:
            return self.init()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc) -> None:
        self.cleanup()

"""Test harness: a private set of offices per test (own databases, own broker names),
helpers to write sales, run the agents, and compare the Head Office with the branches.

Everything here talks to the real MariaDB/MySQL and RabbitMQ named by
SYNC_TEST_DB_ROOT and SYNC_TEST_AMQP (defaults: root@127.0.0.1:3306, guest@127.0.0.1:5672);
the tests that restart that broker run SYNC_TEST_RABBITMQCTL (default: rabbitmqctl).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pika
from sqlalchemy import text

from config import OfficeConfig
from devtools.offices import OfficeSet
from models.money import compute_line
from sync.broker import Names

ROOT = Path(__file__).resolve().parent.parent
DB_ROOT = os.environ.get("SYNC_TEST_DB_ROOT", "mysql+pymysql://root:@127.0.0.1:3306")
AMQP_URL = os.environ.get("SYNC_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/%2F")
# Where the broker listens, for link proxies and TLS terminators put in front of it.
BROKER = (urlsplit(AMQP_URL).hostname, urlsplit(AMQP_URL).port or 5672)
# rabbitmqctl aimed at that broker, as a command line (make compat aims it at its own node).
RABBITMQCTL = shlex.split(os.environ.get("SYNC_TEST_RABBITMQCTL", "rabbitmqctl"))
RATE = Decimal("0.07")
FAST = {  # quick retries so that tests do not wait on production-sized backoffs
    "backoff_initial_seconds": 0.05, "backoff_max_seconds": 1.0, "heartbeat_seconds": 10, "poll_seconds": 0.05,
}
BRANCHES = {"bo1": ("East Branch", "East"), "bo2": ("West Branch", "West"), "bo3": ("North Branch", "North")}


class Offices(OfficeSet):
    """One Head Office and some branches with private databases and broker names (devtools/offices.py)."""

    def __init__(self, directory: Path, branches: int = 3, amqp_url: str = AMQP_URL, **overrides):
        codes = list(BRANCHES)[:branches]
        super().__init__(directory, {c: BRANCHES[c] for c in codes}, DB_ROOT, amqp_url, self.new_tag("t"),
                         # Every test office logs in as guest unless a test provisions real logins.
                         **{"require_branch_login": False, **FAST, **overrides})


def with_amqp(cfg: OfficeConfig, url: str) -> OfficeConfig:
    return dataclasses.replace(cfg, amqp_urls=(url,))


def via_port(url: str, port: int) -> str:
    """``url`` reaching 127.0.0.1:``port`` instead (a proxy or terminator in front of its broker)."""
    parts = urlsplit(url)
    login = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return parts._replace(netloc=f"{login}127.0.0.1:{port}").geturl()


# ---------------------------------------------------------------- data
def sale_values(i: int = 1, region: str = "East", product: str = "Paper", qty: int | None = None,
                cost: str | None = None, day: dt.date | None = None) -> dict:
    qty = qty if qty is not None else 1 + i % 97
    cost = Decimal(cost) if cost is not None else Decimal("12.95") if product == "Paper" else Decimal("2.19")
    line = compute_line(qty, cost, RATE)
    return {
        "sale_date": day or dt.date(2021, 4, 29) + dt.timedelta(days=i % 30), "region": region, "product": product,
        "qty": qty, "cost": cost, "amt": line.amt, "tax": line.tax, "total": line.total,
    }


INSERT = text(
    "INSERT INTO sales (sale_date, region, product, qty, cost, amt, tax, total) "
    "VALUES (:sale_date, :region, :product, :qty, :cost, :amt, :tax, :total)"
)


def insert_sales(engine, count: int, start: int = 0, **kw) -> list[int]:
    """Insert ``count`` sales in one transaction; returns their ids."""
    if count == 0:
        return []
    with engine.begin() as conn:
        rows = [sale_values(start + i, **kw) for i in range(count)]
        conn.execute(INSERT, rows)
        first = conn.execute(text("SELECT LAST_INSERT_ID()")).scalar_one()
    # InnoDB hands a multi-row insert consecutive ids (innodb_autoinc_lock_mode 1 or 2 with one writer)
    return list(range(first, first + count))


def change_qty(engine, sale_id: int, qty: int, cost: str = "12.95") -> None:
    """Set a sale's qty (and cost) with plain SQL, amounts recomputed, as a script at the branch would."""
    line = compute_line(qty, Decimal(cost), RATE)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE sales SET qty=:q, cost=:c, amt=:a, tax=:t, total=:tot WHERE id=:id"),
            {"q": qty, "c": Decimal(cost), "a": line.amt, "t": line.tax, "tot": line.total, "id": sale_id},
        )


def delete_sale(engine, sale_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM sales WHERE id=:id"), {"id": sale_id})


COLUMNS = "sale_date, region, product, qty, cost, amt, tax, total"


def branch_rows(engine, code: str) -> set[tuple]:
    with engine.connect() as conn:
        return {(code, *r) for r in conn.execute(text(f"SELECT id, {COLUMNS} FROM sales"))}


def head_office_rows(engine) -> set[tuple]:
    with engine.connect() as conn:
        return set(map(tuple, conn.execute(text(f"SELECT branch, branch_sale_id, {COLUMNS} FROM sales"))))


def union_of_branches(offices: Offices) -> set[tuple]:
    rows: set[tuple] = set()
    for b in offices.branches:
        rows |= branch_rows(offices.engine(b.code), b.code)
    return rows


def outbox_states(engine) -> dict[int, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT state, COUNT(*) FROM sync_outbox GROUP BY state")).all())


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    """Poll until ``predicate()`` is truthy; fail with ``what`` if it never is."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {what}")
        time.sleep(interval)


def converged(offices: Offices) -> bool:
    """The HO holds exactly the union of the branches and every change is applied."""
    if head_office_rows(offices.engine("ho")) != union_of_branches(offices):
        return False
    return all(set(outbox_states(offices.engine(b.code))) <= {2} for b in offices.branches)


def assert_converged(offices: Offices, timeout: float = 60) -> None:
    try:
        wait_for(lambda: converged(offices), timeout, "the Head Office to equal the union of the branches")
    except AssertionError:
        ho, union = head_office_rows(offices.engine("ho")), union_of_branches(offices)
        states = {b.code: outbox_states(offices.engine(b.code)) for b in offices.branches}
        raise AssertionError(
            f"not converged: {len(union - ho)} row(s) missing at HO, {len(ho - union)} extra or different; "
            f"outbox states {states}; e.g. missing {sorted(union - ho)[:3]}, extra {sorted(ho - union)[:3]}"
        ) from None


@contextlib.contextmanager
def running(*threads):
    """Start engine threads (relays, consumers) and stop them at the end."""
    for t in threads:
        t.start()
    try:
        yield threads
    finally:
        for t in threads:
            t.stop()


# ---------------------------------------------------------------- processes
def spawn(program: str, config: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """Run bo_app.py or ho_app.py as its own process (for kill -9 tests).

    Output goes to a file (``process.log_path``), never to a pipe that nobody
    reads and that would stall a chatty process once full.
    """
    log = tempfile.NamedTemporaryFile("w+", prefix=f"{Path(program).stem}-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / program), "--config", str(config), *args],
        cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    process.log_path = log.name
    log.close()
    return process


def output(process: subprocess.Popen) -> str:
    """What a spawned process has printed so far."""
    return Path(process.log_path).read_text(encoding="utf-8", errors="replace")


def finish(process: subprocess.Popen, timeout: float = 120) -> str:
    """Wait for a spawned process to exit on its own; returns its output."""
    process.wait(timeout=timeout)
    return output(process)


def kill9(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    return output(process)


def stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return output(process)


# ---------------------------------------------------------------- raw messages
def publish_raw(offices: Offices, body: bytes, content_encoding: str | None = "zlib", *, branch: str | None = None,
                url: str | None = None, **props) -> None:
    """Put bytes on an intake exchange as any client could, with a broker confirm.

    With ``branch``, on that branch's own intake exchange (where its agent publishes);
    without, on the shared intake exchange that branches of the previous release use.
    ``url`` logs in as someone else than guest (a provisioned login, say).
    """
    from sync import protocol
    from sync.broker import INTAKE_KEY

    if url is None:  # as guest, who may declare: the queues exist even before the consumer first starts
        declare_head_office_topology(offices)
    connection = pika.BlockingConnection(pika.URLParameters(url or offices.amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        names = Names(offices.ho.topology_prefix)
        exchange, key = (names.branch_exchange(branch), branch) if branch else (names.intake_exchange, INTAKE_KEY)
        channel.basic_publish(
            exchange, key, body,
            pika.BasicProperties(content_encoding=content_encoding, content_type=protocol.CONTENT_TYPE,
                                 delivery_mode=2, **props),
            mandatory=True,
        )
    finally:
        connection.close()


def declare_head_office_topology(offices: Offices) -> None:
    """Declare the Head Office's exchanges and queues without running its consumer."""
    from sync.broker import declare_topology

    connection = pika.BlockingConnection(pika.URLParameters(offices.amqp_url))
    try:
        declare_topology(connection.channel(), offices.ho, list(offices.ho.branches))
    finally:
        connection.close()


def changes_body(branch: str, origin: str, changes: list, version: int = 1,
                 high_water: int | None = None, built_at_ms: int | None = None) -> bytes:
    import json
    import zlib

    seqs = [c[0] for c in changes if isinstance(c, list) and c and isinstance(c[0], int)]
    return zlib.compress(json.dumps({
        "v": version, "type": "changes", "branch": branch, "origin": origin,
        "hw": high_water or max(seqs, default=1), "at": built_at_ms or int(time.time() * 1000), "changes": changes,
    }).encode())


def upsert(seq: int, sale_id: int, qty: int, cost: str = "2.19") -> list:
    line = compute_line(qty, Decimal(cost), RATE)
    return [seq, sale_id, "u", "2021-04-30", "East", "Pens", qty, cost, str(line.amt), str(line.tax), str(line.total)]


def dead_letters(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(text("SELECT id, branch, reason, state FROM sync_dead_letters ORDER BY id")).all()


def dead_letter_records(engine) -> list:
    """Every column the Head Office keeps of each dead letter, oldest first."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT * FROM sync_dead_letters ORDER BY id")).all()


# ---------------------------------------------------------------- backups
def _client_args(url: str) -> list[str]:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    args = ["-h", u.host or "127.0.0.1", "-P", str(u.port or 3306), "-u", u.username or "root"]
    return args + ([f"-p{u.password}"] if u.password else [])


def dump_database(url: str, path: Path) -> None:
    """mysqldump the database of ``url`` (data, schema and triggers) into ``path``."""
    from sqlalchemy.engine import make_url

    with path.open("w") as out:
        subprocess.run(["mysqldump", *_client_args(url), "--single-transaction", "--triggers", make_url(url).database],
                       stdout=out, check=True, timeout=120)


def restore_database(url: str, path: Path, database: str | None = None) -> None:
    """Load a dump into the database of ``url`` (or into ``database``, created if missing)."""
    from sqlalchemy.engine import make_url

    name = database or make_url(url).database
    subprocess.run(["mysql", *_client_args(url), "-e", f"CREATE DATABASE IF NOT EXISTS `{name}`"], check=True, timeout=60)
    with path.open() as dump:
        subprocess.run(["mysql", *_client_args(url), name], stdin=dump, check=True, timeout=120)

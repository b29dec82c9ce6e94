"""Figure 2: what the services alone can do with the same rows and the same bytes.

- upsert ceiling: the Head Office's own upsert statement (``sync.apply.UPSERT``),
  executemany in batches of ``batch_rows``, one transaction per batch, into the
  empty ``sales`` table of the figure's Head Office database;
- publish ceiling: the very message bodies the branch agent would send (encoded
  beforehand), published persistent with publisher confirms to a private queue
  of the product's queue type.

Neither decodes, checks, reads the outbox or writes receipts: they are the
floor under what any pipeline over these services could cost.
"""
from __future__ import annotations

import contextlib
import time

import pika
from sqlalchemy import text

from bench.data import encode
from bench.offices import AMQP_URL, BenchOffices
from sync import protocol
from sync.apply import UPSERT
from sync.outbox import Outbox


def outbox_batches(offices: BenchOffices, code: str) -> list[list]:
    """A branch's pending changes, read as the relay reads them, in ``batch_rows`` batches."""
    outbox, size = Outbox(offices.engine(code)), offices.branch(code).batch_rows
    batches, after = [], 0
    while rows := outbox.pending_batch(size, after):
        batches.append(rows)
        after = rows[-1].seq
    return batches


def upsert_rows(code: str, origin: str, batches: list[list]) -> list[list[dict]]:
    """The upsert parameters the Head Office would build from these batches."""
    prepared = []
    for rows in batches:
        body = encode(code, origin, rows)
        decoded = protocol.decode_changes(body, protocol.CONTENT_ENCODING, [code])
        prepared.append([
            {"branch": code, "branch_sale_id": c.sale_id, "version": c.seq, **(c.values or {})} for c in decoded.changes
        ])
    return prepared


def upsert_ceiling(ho_engine, prepared: list[list[dict]]) -> float:
    """Rows per second of the bare executemany upsert into an empty ``sales``."""
    with ho_engine.begin() as conn:
        conn.execute(text("TRUNCATE TABLE sales"))
    rows = sum(len(batch) for batch in prepared)
    started = time.perf_counter()
    for batch in prepared:
        with ho_engine.begin() as conn:
            conn.execute(UPSERT, batch)
    elapsed = time.perf_counter() - started
    with ho_engine.begin() as conn:
        conn.execute(text("TRUNCATE TABLE sales"))
    return rows / elapsed


def publish_ceiling(offices: BenchOffices, bodies: list[tuple[bytes, int]]) -> float:
    """Rows per second of publishing these (body, rows) messages with a confirm each."""
    queue = f"{offices.prefix}.ceiling"
    if queue not in offices.extra_queues:
        offices.extra_queues.append(queue)
    arguments = {"x-queue-type": "quorum"} if offices.ho.queue_type == "quorum" else {}
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, arguments=arguments)
        channel.queue_purge(queue)
        channel.confirm_delivery()
        props = pika.BasicProperties(
            content_type=protocol.CONTENT_TYPE, content_encoding=protocol.CONTENT_ENCODING,
            delivery_mode=pika.DeliveryMode.Persistent,
        )
        started = time.perf_counter()
        for body, _rows in bodies:
            channel.basic_publish("", queue, body, props, mandatory=True)
        elapsed = time.perf_counter() - started
        channel.queue_purge(queue)
    finally:
        connection.close()
    return sum(rows for _body, rows in bodies) / elapsed


def encoded_bodies(offices: BenchOffices, code: str, origin: str, batches: list[list]) -> list[tuple[bytes, int]]:
    """The message bodies the relay would publish for these batches, with their row counts."""
    return [(encode(code, origin, rows), len(rows)) for rows in batches]


def _plain_upsert(columns: list[str], values: str) -> str:
    return (
        f"INSERT INTO sales ({', '.join(columns)}) VALUES {values} ON DUPLICATE KEY UPDATE "
        + ", ".join(f"{c} = VALUES({c})" for c in columns if c not in ("branch", "branch_sale_id"))
        + ", applied_at = CURRENT_TIMESTAMP(6)"
    )


@contextlib.contextmanager
def _empty_sales(ho_engine):
    """A bare driver connection and cursor on an emptied ``sales``, emptied again after."""
    raw = ho_engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("TRUNCATE TABLE sales")
        yield raw, cursor
        cursor.execute("TRUNCATE TABLE sales")
        cursor.close()
    finally:
        raw.close()


def driver_upsert_ceiling(ho_engine, prepared: list[list[dict]]) -> float:
    """Rows per second of the same upsert through the bare driver (``cursor.executemany``).

    No SQLAlchemy: the statement is plain SQL and the rows plain tuples, so only
    the driver's escaping and the server's work are left.
    """
    columns = list(prepared[0][0])
    sql = _plain_upsert(columns, f"({', '.join(['%s'] * len(columns))})")
    tuples = [[tuple(row[c] for c in columns) for row in batch] for batch in prepared]
    with _empty_sales(ho_engine) as (raw, cursor):
        started = time.perf_counter()
        for batch in tuples:
            cursor.executemany(sql, batch)
            raw.commit()
        elapsed = time.perf_counter() - started
    return sum(len(batch) for batch in tuples) / elapsed


def server_upsert_ceiling(ho_engine, prepared: list[list[dict]]) -> float:
    """Rows per second the database server itself takes: the same multi-row upserts, escaped
    beforehand, so that no client work is timed (what limits any client of one server)."""
    columns = list(prepared[0][0])
    row_sql = f"({', '.join(['%s'] * len(columns))})"
    with _empty_sales(ho_engine) as (raw, cursor):
        statements = [
            _plain_upsert(columns, ", ".join(cursor.mogrify(row_sql, tuple(row[c] for c in columns)) for row in batch))
            for batch in prepared
        ]
        started = time.perf_counter()
        for statement in statements:
            cursor.execute(statement)
            raw.commit()
        elapsed = time.perf_counter() - started
    return sum(len(batch) for batch in prepared) / elapsed

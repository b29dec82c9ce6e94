"""Figure 9: the catalogue on the wire, Head Office -> branch.

A branch agent and the Head Office consumer run in this process; the branch
reaches the broker through a ``LinkProxy`` that counts the bytes each way.  With
the agent connected and idle, the counts are reset, then (1) the consumer starts
and sends the branch its first catalogue, a snapshot of ``PRODUCTS`` products
with a price each, and (2) one price is changed.  Each time the bytes crossing
the link until the branch holds the Head Office's version are read: AMQP framing,
the message, its ack and the branch's ``catalogue-state`` answer included (and a
heartbeat, if one falls in the interval).  The bodies' own sizes, and the
snapshot's JSON before compression, are quoted beside them.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import zlib
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from bench.measure import metric
from bench.offices import BenchOffices
from bench.sizes import Size
from devtools.linkproxy import LinkProxy
from models.catalogue import held_version, items_since, set_price
from sync import protocol
from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay
from sync.states import LinkState

log = logging.getLogger("bench")
PRODUCTS = 10_000


def _add_products(engine, count: int) -> None:
    with engine.begin() as conn:
        start = conn.execute(text("SELECT version FROM catalogue_counter WHERE id = 1 FOR UPDATE")).scalar_one()
        first = conn.execute(text("SELECT COALESCE(MAX(id), 0) + 1 FROM catalogue_products")).scalar_one()
        conn.execute(text("INSERT INTO catalogue_products (id, name, name_key, active, version) VALUES (:i, :n, :k, 1, :v)"),
                     [{"i": first + i, "n": f"Product {i:05d}", "k": f"product {i:05d}", "v": start + 1 + i}
                      for i in range(count)])
        conn.execute(text("INSERT INTO catalogue_prices (product_id, effective_from, cost, version) "
                          "VALUES (:i, '2024-01-01', :c, :v)"),
                     [{"i": first + i, "c": f"{1 + i % 700}.{(i * 37) % 100:02d}", "v": start + 1 + count + i}
                      for i in range(count)])
        conn.execute(text("UPDATE catalogue_counter SET version = :v WHERE id = 1"), {"v": start + 2 * count})


def _wait_held(offices: BenchOffices, code: str, timeout: float = 120) -> float:
    with offices.engine("ho").connect() as conn:
        wanted = held_version(conn, head_office=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with offices.engine(code).connect() as conn:
            if held_version(conn, head_office=False) == wanted:
                return time.monotonic()
        time.sleep(0.05)
    raise TimeoutError(f"branch {code} did not reach catalogue version {wanted} within {timeout:.0f} s")


def run(size: Size, workdir: Path) -> dict:
    with BenchOffices(workdir, branches=1) as offices:
        code = offices.codes[0]
        ho = offices.engine("ho")
        _add_products(ho, PRODUCTS)
        with ho.connect() as conn:
            snapshot_items = items_since(conn, 0)
        bodies = protocol.encode_catalogue(code, snapshot_items, full=True)
        inflated = sum(len(zlib.decompress(b)) for b in bodies)
        with LinkProxy(("127.0.0.1", 5672)) as proxy:
            branch = offices.branch(code)
            relay = OutboxRelay(dataclasses.replace(
                branch, amqp_urls=(f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F",)))
            consumer = IntakeConsumer(offices.ho)
            relay.start()
            try:
                deadline = time.monotonic() + 30
                while relay.state is not LinkState.ONLINE and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(0.5)
                proxy.reset_counts()
                began = time.monotonic()
                consumer.start()
                snapshot_seconds = _wait_held(offices, code) - began
                snapshot_down, snapshot_up = proxy.bytes_down, proxy.bytes_up
                time.sleep(0.5)
                proxy.reset_counts()
                with ho.begin() as conn:
                    set_price(conn, 1, Decimal("2.29"), dt.date.today())
                began = time.monotonic()
                change_seconds = _wait_held(offices, code) - began
                change_down, change_up = proxy.bytes_down, proxy.bytes_up
            finally:
                relay.stop()
                consumer.stop()
        with ho.connect() as conn:
            one_change = items_since(conn, held_version(conn, True) - 1)
        change_body = protocol.encode_catalogue(code, one_change, False)
    log.info("catalogue: snapshot %d B down for %d products (%d B of JSON), one price change %d B down",
             snapshot_down, PRODUCTS, inflated, change_down)
    return {"catalogue": {
        "title": f"9. The catalogue on the wire: a {PRODUCTS:,}-product snapshot and one price change",
        "metrics": {
            "snapshot_wire_bytes": metric(f"snapshot of {PRODUCTS:,} products, bytes down the link", "B", [snapshot_down]),
            "snapshot_up_bytes": metric("snapshot: bytes up (ack and the branch's answer)", "B", [snapshot_up]),
            "snapshot_body_bytes": metric("snapshot message body (zlib)", "B", [sum(len(b) for b in bodies)]),
            "snapshot_json_bytes": metric("snapshot JSON before compression", "B", [inflated]),
            "snapshot_seconds": metric("snapshot: from the consumer's start to the branch's commit", "s",
                                       [round(snapshot_seconds, 2)]),
            "change_wire_bytes": metric("one price change, bytes down the link", "B", [change_down]),
            "change_up_bytes": metric("one price change: bytes up (ack and the branch's answer)", "B", [change_up]),
            "change_body_bytes": metric("one price change message body (zlib)", "B", [len(change_body[0])]),
            "change_seconds": metric("one price change: from the commit to the branch's commit", "s",
                                     [round(change_seconds, 2)]),
        },
        "detail": {"products": PRODUCTS, "snapshot_messages": len(bodies)},
    }}

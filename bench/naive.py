"""The naive baseline (figure 3): how the public implementations of this assignment sync.

One row per message, as JSON with field names, no compression; the sender waits
for the broker's confirm of each message and commits "sent" for that one row;
the receiver takes one message at a time (prefetch 1), upserts it, commits and
acks it.  The queue is a plain durable queue, as in those implementations.

    python -m bench.naive send CONFIG.toml SECONDS     waits for "go", sends for SECONDS
    python -m bench.naive receive CONFIG.toml          until SIGTERM

Both read the same private office configs as the product does, so they run
against the same databases, through the same link proxy when one is set
(SYNC_AMQP_URL).
"""
from __future__ import annotations

import json
import signal
import sys
import threading
import time

import pika
from sqlalchemy import text

from bench.measure import POLL_SECONDS
from bench.processes import Child
from config import load_office
from models.schema import make_engine

PENDING = text(
    "SELECT seq, sale_id, sale_date, region, product, qty, cost, amt, tax, total "
    "FROM sync_outbox WHERE state = 0 AND op = 'u' ORDER BY seq LIMIT 100"
)
MARK_SENT = text("UPDATE sync_outbox SET state = 1, sent_at = NOW(6) WHERE seq = :seq")
UPSERT = text(
    "INSERT INTO sales (branch, branch_sale_id, sale_date, region, product, qty, cost, amt, tax, total, version) "
    "VALUES (:branch, :id, :date, :region, :product, :qty, :cost, :amt, :tax, :total, 0) "
    "ON DUPLICATE KEY UPDATE sale_date = VALUES(sale_date), region = VALUES(region), product = VALUES(product), "
    "qty = VALUES(qty), cost = VALUES(cost), amt = VALUES(amt), tax = VALUES(tax), total = VALUES(total), "
    "applied_at = CURRENT_TIMESTAMP(6)"
)


def queue_name(prefix: str) -> str:
    """The naive baseline's queue for a set of offices."""
    return f"{prefix}.naive"


def _channel(cfg):
    connection = pika.BlockingConnection(pika.URLParameters(cfg.amqp_urls[0]))
    channel = connection.channel()
    channel.queue_declare(queue_name(cfg.topology_prefix), durable=True)
    return connection, channel


def send(config: str, seconds: float) -> int:
    """Send pending rows one by one for ``seconds`` after "go"; prints how many were sent."""
    cfg = load_office(config)
    engine = make_engine(cfg.db_url)
    connection, channel = _channel(cfg)
    channel.confirm_delivery()
    props = pika.BasicProperties(content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent)
    print("naive ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 0
    deadline, sent = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            rows = conn.execute(PENDING).all()
        if not rows:
            break
        for row in rows:
            body = json.dumps({
                "branch": cfg.code, "id": row.sale_id, "date": row.sale_date.isoformat(), "region": row.region,
                "product": row.product, "qty": row.qty, "cost": str(row.cost), "amt": str(row.amt),
                "tax": str(row.tax), "total": str(row.total),
            })
            channel.basic_publish("", queue_name(cfg.topology_prefix), body, props, mandatory=True)
            with engine.begin() as conn:
                conn.execute(MARK_SENT, {"seq": row.seq})
            sent += 1
            if time.monotonic() >= deadline:
                break
    connection.close()
    print(f"naive sent {sent}", flush=True)
    return 0


def receive(config: str) -> int:
    """Apply naive messages one at a time until SIGTERM."""
    cfg = load_office(config)
    engine = make_engine(cfg.db_url)
    connection, channel = _channel(cfg)
    channel.basic_qos(prefetch_count=1)

    def on_message(ch, method, _properties, body):
        with engine.begin() as conn:
            conn.execute(UPSERT, json.loads(body))
        ch.basic_ack(method.delivery_tag)

    channel.basic_consume(queue_name(cfg.topology_prefix), on_message)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("naive receiver online", flush=True)
    while not stop.is_set():
        connection.process_data_events(time_limit=0.2)
    connection.close()
    return 0


def measure_naive(offices, code: str, seconds: float, amqp_url: str | None = None) -> dict:
    """Run the naive sender (branch ``code``) and receiver for ``seconds``; rows per second applied.

    The Head Office ``sales`` table is emptied first; the caller resets the outbox after.
    """
    ho = offices.engine("ho")
    with ho.begin() as conn:
        conn.execute(text("TRUNCATE TABLE sales"))
    if queue_name(offices.prefix) not in offices.extra_queues:
        offices.extra_queues.append(queue_name(offices.prefix))
    receiver = Child(["-m", "bench.naive", "receive", str(offices.paths["ho"])], "naive receiver")
    sender = None
    try:
        receiver.wait_for_line("naive receiver online")
        sender = Child(["-m", "bench.naive", "send", str(offices.paths[code]), str(seconds)], "naive sender", amqp_url, stdin=True)
        sender.wait_for_line("naive ready")
        started = time.time()
        sender.send("go")
        sender.wait_for_line("naive sent", timeout=seconds + 120)
        sent = int(next(line for line in sender.lines if line.startswith("naive sent")).split()[-1])
        deadline = time.monotonic() + 120
        while True:
            with ho.connect() as conn:
                count, last = conn.execute(text("SELECT COUNT(*), UNIX_TIMESTAMP(MAX(applied_at)) FROM sales")).one()
            if count >= sent:
                break
            if time.monotonic() > deadline or not receiver.alive():
                raise RuntimeError(f"the naive receiver applied {count} of {sent} rows:\n{receiver.tail()}")
            time.sleep(POLL_SECONDS)
    finally:
        for child in (sender, receiver):
            if child is not None:
                child.stop()
    elapsed = float(last) - started if sent else seconds
    return {"rows": sent, "seconds": elapsed, "rows_per_s": sent / elapsed if elapsed > 0 else 0.0}


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "send":
        return send(argv[1], float(argv[2]))
    if len(argv) == 2 and argv[0] == "receive":
        return receive(argv[1])
    print("usage: python -m bench.naive send CONFIG SECONDS | receive CONFIG", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

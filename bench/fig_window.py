"""Figure 8: the Head Office window's event-loop lag while its consumer applies a steady load.

The window process (``bench.tkprobe``) runs on a private Xvfb display with the
consumer inside it, as ``ho_app.py`` runs them.  This process plays the
branches: it publishes change messages straight onto the intake exchange, with
the product's encoding, on a fixed schedule worth ``window_rows_per_second`` rows
per second (four messages a second, as relays with a 0.25 s poll would send a
steady stream), and reads the achieved apply rate back from the Head Office.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

import pika

from bench import measure
from bench.data import encode, new_origin, outbox_rows
from bench.measure import metric, percentile
from bench.offices import AMQP_URL, REGIONS, BenchOffices
from bench.processes import Child
from bench.sizes import Size
from sync import protocol
from sync.broker import Names

log = logging.getLogger("bench")
MESSAGES_PER_SECOND = 4


@contextlib.contextmanager
def virtual_display():
    """A private Xvfb display for the window, or the current one when there is no Xvfb."""
    if not shutil.which("Xvfb"):
        if not os.environ.get("DISPLAY"):
            raise RuntimeError("figure 8 needs Xvfb (apt-get install xvfb) or a DISPLAY")
        yield os.environ["DISPLAY"]
        return
    number = next(n for n in range(140, 400) if not Path(f"/tmp/.X{n}-lock").exists())
    server = subprocess.Popen(["Xvfb", f":{number}", "-nolisten", "tcp", "-screen", "0", "1024x768x24"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def _messages(offices: BenchOffices, origins: dict[str, str], rows: int, per_message: int) -> list[tuple[str, bytes]]:
    """Bodies worth ``rows`` changes, round-robin over the branches, seqs rising per branch."""
    next_seq = dict.fromkeys(offices.codes, 1)
    bodies = []
    for i, first in enumerate(range(0, rows, per_message)):
        code = offices.codes[i % len(offices.codes)]
        count = min(per_message, rows - first)
        batch = outbox_rows(next_seq[code], count, REGIONS[i % len(REGIONS)])
        bodies.append((code, encode(code, origins[code], batch)))
        next_seq[code] += count
    return bodies


def _publish_steadily(prefix: str, bodies: list[tuple[str, bytes]]) -> float:
    """Publish on schedule, MESSAGES_PER_SECOND a second; returns the wall-clock start."""
    names = Names(prefix)
    params = pika.URLParameters(AMQP_URL)
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        started, clock = time.time(), time.monotonic()
        for k, (code, body) in enumerate(bodies):
            delay = clock + k / MESSAGES_PER_SECOND - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            channel.basic_publish(names.branch_exchange(code), code, body, pika.BasicProperties(
                content_type=protocol.CONTENT_TYPE, content_encoding=protocol.CONTENT_ENCODING,
                delivery_mode=pika.DeliveryMode.Persistent, type=protocol.CHANGES, app_id=protocol.APP_ID,
                user_id=params.credentials.username,  # the broker vouches for it; the Head Office checks it
                headers={"x-sync-version": protocol.VERSION, "x-sync-branch": code},
            ), mandatory=True)
    finally:
        connection.close()
    return started


def _one_round(offices: BenchOffices, display: str, bodies: list[tuple[str, bytes]], rows: int) -> tuple[list[float], float, str]:
    probe = Child(["-m", "bench.tkprobe", str(offices.paths["ho"])], "Head Office window probe", stdin=True,
                  env={"DISPLAY": display})
    try:
        probe.wait_for_line("probe ready")
        probe.send("go")
        started = _publish_steadily(offices.prefix, bodies)
        finished = measure.wait_applied(offices.engine("ho"), rows, 300, [probe])
        probe.send("stop")
        probe.wait_for_line('"lags_ms"')
        report = json.loads(next(line for line in probe.lines if '"lags_ms"' in line))
    finally:
        probe.stop()
    return report["lags_ms"], rows / (finished - started), report["window"]


def run(size: Size, workdir: Path) -> dict:
    """Figure 8, keyed ``window_lag``."""
    rate = size.window_rows_per_second
    rows = int(rate * size.window_seconds)
    per_message = max(1, rate // MESSAGES_PER_SECOND)
    p50s, p99s, maxes, rates, window = [], [], [], [], ""
    with BenchOffices(workdir, 3) as offices, virtual_display() as display:
        # The same simulated branch databases every round: one origin each.
        bodies = _messages(offices, {code: new_origin() for code in offices.codes}, rows, per_message)
        for round_no in range(1, size.rounds + 1):
            log.info("figure 8: round %d of %d, %d rows/s for %.0fs into the window's consumer", round_no, size.rounds,
                     rate, size.window_seconds)
            offices.empty()
            lags, achieved, window = _one_round(offices, display, bodies, rows)
            p50s.append(percentile(lags, 50))
            p99s.append(percentile(lags, 99))
            maxes.append(max(lags))
            rates.append(achieved)
            log.info("  lag p50 %.1f ms, p99 %.1f ms, max %.0f ms; applied %.0f rows/s (%s)", p50s[-1], p99s[-1], maxes[-1],
                     achieved, window)
    return {"window_lag": {
        "title": f"8. Head Office window event-loop lag at {rate:,} rows/s",
        "metrics": {
            "p50_ms": metric("event-loop lag p50", "ms", p50s),
            "p99_ms": metric("event-loop lag p99", "ms", p99s),
            "max_ms": metric("event-loop lag max", "ms", maxes),
            "applied_rows_per_s": metric("rows applied per second meanwhile", "rows/s", rates),
        },
        "window": window,
    }}

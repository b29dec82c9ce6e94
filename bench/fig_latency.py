"""Figure 5: online latency, from a sale's commit at a branch to its commit at the Head Office.

Three branch agents and the Head Office consumer run with the product's settings
(poll interval included) while each branch saves ``sales_per_second`` sales,
one transaction each, on a fixed schedule.  The latency of a sale is its Head
Office ``sales.applied_at`` minus its branch ``sync_outbox.captured_at``: both
are taken by the same database server's clock, inside the committing statements.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from sqlalchemy import text

from bench import measure, processes
from bench.data import INSERT_SALES, sale
from bench.measure import metric, percentile
from bench.offices import BenchOffices
from bench.sizes import Size

log = logging.getLogger("bench")
BRANCHES = 3


def _sell(engine, region: str, rate: float, count: int, start: float) -> None:
    """Save ``count`` sales at ``rate`` per second from ``start``, one transaction each."""
    for k in range(count):
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        with engine.begin() as conn:
            conn.execute(INSERT_SALES, sale(k, region))


def latencies(offices: BenchOffices) -> list[float]:
    """Seconds from branch capture to Head Office apply, for every sale at the Head Office."""
    with offices.engine("ho").connect() as conn:
        applied = {
            (branch, sale_id): float(at) for branch, sale_id, at in
            conn.execute(text("SELECT branch, branch_sale_id, UNIX_TIMESTAMP(applied_at) FROM sales"))
        }
    found = []
    for code in offices.codes:
        with offices.engine(code).connect() as conn:
            for sale_id, at in conn.execute(text("SELECT sale_id, UNIX_TIMESTAMP(captured_at) FROM sync_outbox")):
                if (code, sale_id) in applied:
                    found.append(applied[(code, sale_id)] - float(at))
    return found


def run(size: Size, workdir: Path) -> dict:
    """Figure 5, keyed ``latency``."""
    per_branch = int(size.sales_per_second * size.latency_seconds)
    p50s, p99s, maxes, everything = [], [], [], []
    with BenchOffices(workdir, BRANCHES) as offices:
        ho = processes.head_office(offices.paths["ho"])
        try:
            for round_no in range(1, size.rounds + 1):
                log.info("figure 5: round %d of %d, %d branches x %.0f sales/s for %.0fs", round_no, size.rounds,
                         BRANCHES, size.sales_per_second, size.latency_seconds)
                offices.empty()
                configs = [offices.paths[c] for c in offices.codes]
                with processes.AgentGroup(configs, BRANCHES) as agents:
                    agents.go()
                    agents.wait_online(BRANCHES)  # sales start once every link is up
                    start = time.monotonic()
                    sellers = [
                        threading.Thread(target=_sell, args=(offices.engine(b.code), b.region, size.sales_per_second,
                                                             per_branch, start))
                        for b in offices.branches
                    ]
                    for seller in sellers:
                        seller.start()
                    for seller in sellers:
                        seller.join()
                    measure.wait_applied(offices.engine("ho"), BRANCHES * per_branch, 120, [ho, *agents.children])
                found = latencies(offices)
                everything += found
                p50s.append(percentile(found, 50))
                p99s.append(percentile(found, 99))
                maxes.append(max(found))
                log.info("  p50 %.0f ms, p99 %.0f ms over %d sales", p50s[-1] * 1000, p99s[-1] * 1000, len(found))
        finally:
            ho.stop()
    return {"latency": {
        "title": f"5. Online latency, {BRANCHES} branches x {size.sales_per_second:.0f} sales/s",
        "metrics": {
            "p50_ms": metric("branch commit to Head Office commit, p50", "ms", [v * 1000 for v in p50s]),
            "p99_ms": metric("branch commit to Head Office commit, p99", "ms", [v * 1000 for v in p99s]),
            "max_ms": metric("branch commit to Head Office commit, max", "ms", [v * 1000 for v in maxes]),
        },
        "samples": len(everything),
        "histogram_ms": _histogram([v * 1000 for v in everything]),
    }}


def _histogram(values_ms: list[float], width: float = 20.0) -> dict:
    """Counts of latencies per ``width`` ms bucket, for the plot (keys are bucket starts)."""
    counts: dict[int, int] = {}
    for value in values_ms:
        bucket = int(value // width * width)
        counts[bucket] = counts.get(bucket, 0) + 1
    return {str(k): counts[k] for k in sorted(counts)}

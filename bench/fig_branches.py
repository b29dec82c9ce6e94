"""Figure 7: many branches draining together into one Head Office, with one and two consumers.

``many_branches`` simulated branches, each with its own database and ``many_rows``
pending changes, run as relay threads in two agent processes (a 2-core machine
cannot host 50 Python processes without measuring their start-up instead).
The Head Office runs one, then two ``ho_app.py --headless`` processes on the
same queue.  After each drain the Head Office must hold exactly one row per
change and no dead letter: more consumers may not break the guarantees.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy import text

from bench import processes
from bench.data import load_backlog
from bench.fig_backlog import drain
from bench.measure import metric
from bench.offices import REGIONS, BenchOffices
from bench.sizes import Size

log = logging.getLogger("bench")
AGENT_PROCESSES = 2


def _held(offices: BenchOffices) -> tuple[int, int]:
    with offices.engine("ho").connect() as conn:
        rows = conn.execute(text("SELECT COUNT(*) FROM sales")).scalar_one()
        dead = conn.execute(text("SELECT COUNT(*) FROM sync_dead_letters")).scalar_one()
    return rows, dead


def run(size: Size, workdir: Path) -> dict:
    """Figure 7, keyed ``many_branches``."""
    total = size.many_branches * size.many_rows
    runs: dict[int, list[float]] = {1: [], 2: []}
    consistent = True
    began = time.monotonic()
    with BenchOffices(workdir, size.many_branches) as offices:
        created = time.monotonic() - began
        log.info("figure 7: %d branch databases created in %.1fs; loading %d changes each", size.many_branches, created,
                 size.many_rows)
        for i, code in enumerate(offices.codes):
            load_backlog(offices.engine(code), size.many_rows, REGIONS[i % len(REGIONS)])
        for round_no in range(1, size.rounds + 1):
            for consumers in (1, 2):
                log.info("figure 7: round %d of %d, %d consumer(s)", round_no, size.rounds, consumers)
                offices.reset()
                heads = processes.head_offices(offices.paths["ho"], consumers)
                try:
                    rate = drain(offices, heads, offices.codes, total, agent_processes=AGENT_PROCESSES).rows_per_s
                finally:
                    for head in heads:
                        head.stop()
                rows, dead = _held(offices)
                consistent = consistent and rows == total and dead == 0
                runs[consumers].append(rate)
                log.info("  %.0f rows/s; Head Office holds %d rows, %d dead letters", rate, rows, dead)
        offices.reset()
    return {"many_branches": {
        "title": f"7. {size.many_branches} branches x {size.many_rows:,} changes into one Head Office",
        "metrics": {
            "one_consumer": metric(f"{size.many_branches} branches, 1 consumer process", "rows/s", runs[1]),
            "two_consumers": metric(f"{size.many_branches} branches, 2 consumer processes", "rows/s", runs[2]),
            "two_vs_one": metric("2 consumers / 1 consumer", "ratio", [b / a for a, b in zip(runs[1], runs[2], strict=True)]),
        },
        "consistent": consistent,
        "branch_databases_created_seconds": round(created, 1),
    }}

"""Figure 6: peak memory of the real programs while they drain a large backlog.

For each backlog size a fresh branch is loaded, then ``ho_app.py --headless`` and
``bo_app.py --headless`` run until every change is applied and receipted; the
peak resident set size of each (``VmHWM`` in /proc) is read before they stop.
Two sizes show whether memory grows with the backlog.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from bench import measure, processes
from bench.data import load_backlog
from bench.measure import metric
from bench.offices import BenchOffices
from bench.sizes import Size

log = logging.getLogger("bench")


def _one_size(workdir: Path, rows: int) -> dict:
    with BenchOffices(workdir, 1) as offices:
        log.info("figure 6: loading %d changes", rows)
        load_backlog(offices.engine("b01"), rows, "East")
        ho = processes.head_office(offices.paths["ho"])
        bo = None
        try:
            started = time.time()
            bo = processes.branch_program(offices.paths["b01"])
            finished = measure.wait_applied(offices.engine("ho"), rows, 1800, [ho, bo])
            measure.wait_receipted([offices.engine("b01")], timeout=300)
            result = {"bo_rss_mb": bo.peak_rss_mb(), "ho_rss_mb": ho.peak_rss_mb(), "rows_per_s": rows / (finished - started)}
        finally:
            for child in (bo, ho):
                if child is not None:
                    child.stop()
    log.info("  %d changes: branch agent %.0f MB, Head Office consumer %.0f MB", rows, result["bo_rss_mb"], result["ho_rss_mb"])
    return result


def run(size: Size, workdir: Path) -> dict:
    """Figure 6, keyed ``memory``."""
    by_size = {rows: _one_size(workdir, rows) for rows in size.memory_rows}
    small, large = min(by_size), max(by_size)
    metrics = {}
    for rows, result in by_size.items():
        metrics[f"bo_rss_{rows}"] = metric(f"branch agent peak RSS, {rows:,} backlog", "MB", [result["bo_rss_mb"]])
        metrics[f"ho_rss_{rows}"] = metric(f"Head Office consumer peak RSS, {rows:,} backlog", "MB", [result["ho_rss_mb"]])
        metrics[f"rows_per_s_{rows}"] = metric(f"drain incl. program start-up, {rows:,} backlog", "rows/s", [result["rows_per_s"]])
    metrics["bo_growth"] = metric(f"branch agent RSS {large:,} / {small:,}", "ratio",
                                  [by_size[large]["bo_rss_mb"] / by_size[small]["bo_rss_mb"]])
    metrics["ho_growth"] = metric(f"Head Office RSS {large:,} / {small:,}", "ratio",
                                  [by_size[large]["ho_rss_mb"] / by_size[small]["ho_rss_mb"]])
    return {"memory": {
        "title": "6. Peak RSS of the programs draining a backlog",
        "metrics": metrics,
        "sizes": sorted(by_size),
        "by_size": {str(rows): by_size[rows] for rows in sorted(by_size)},
    }}

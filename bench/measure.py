"""Knowing when a drain is over, and the statistics quoted from several runs.

The Head Office keeps, per branch, how many changes it applied and when it last
applied one (``sync_branches``), so the end of a drain is read from the database
itself: one cheap query per poll, and the end time is the commit-side timestamp,
not the moment the benchmark happened to look.
"""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterable

from sqlalchemy import text

POLL_SECONDS = 0.05


def applied_so_far(ho_engine) -> tuple[int, float | None]:
    """Changes applied at the Head Office so far, and the Unix time of the last apply."""
    with ho_engine.connect() as conn:
        count, last = conn.execute(text(
            "SELECT COALESCE(SUM(changes_applied), 0), UNIX_TIMESTAMP(MAX(last_applied_at)) FROM sync_branches"
        )).one()
    return int(count), float(last) if last is not None else None


def wait_applied(ho_engine, expected: int, timeout: float, children: Iterable = ()) -> float:
    """Wait until ``expected`` changes are applied; returns the Unix time of the last apply.

    Fails with the output of any child that died, or of all of them at the timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        count, last = applied_so_far(ho_engine)
        if count >= expected:
            return last
        dead = [c for c in children if not c.alive()]
        if dead or time.monotonic() > deadline:
            why = "a process ended" if dead else f"timed out after {timeout:.0f}s"
            tails = "\n".join(f"--- {c.what}:\n{c.tail()}" for c in (dead or children))
            raise RuntimeError(f"{why} with {count} of {expected} changes applied at the Head Office\n{tails}")
        time.sleep(POLL_SECONDS)


def unreceipted(engines: Iterable) -> int:
    """Changes at these branches still waiting for their Head Office receipt."""
    total = 0
    for engine in engines:
        with engine.connect() as conn:
            total += conn.execute(text("SELECT COUNT(*) FROM sync_outbox WHERE state < 2")).scalar_one()
    return total


def wait_receipted(engines: list, timeout: float) -> None:
    """Wait until every change at these branches has its receipt recorded."""
    deadline = time.monotonic() + timeout
    while unreceipted(engines):
        if time.monotonic() > deadline:
            raise RuntimeError(f"receipts still missing after {timeout:.0f}s")
        time.sleep(0.2)


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def metric(label: str, unit: str, runs: list[float]) -> dict:
    """One quoted number: its median over the runs, and every run, as the JSON keeps it."""
    return {"label": label, "unit": unit, "median": statistics.median(runs) if runs else math.nan, "runs": list(runs)}

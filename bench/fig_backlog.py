"""Figures 1-3: backlog drain, the services' ceilings and the naive baseline, side by side.

Three branches each hold ``backlog_rows`` pending changes.  Every round measures,
one after the other on the same databases and broker:

  - the bare upsert ceilings (driver executemany; the engine's SQLAlchemy statement;
    the server alone) and the bare publish-with-confirms ceiling, with the same rows and bytes;
  - one branch agent draining its backlog into a running Head Office consumer;
  - three branch agents (three processes) draining at once;
  - the naive baseline for ``naive_seconds``.

Between measurements every backlog is made pending again and the Head Office
emptied, so each starts from the same state.  Ratios are taken within a round.
"""
from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from pathlib import Path

from bench import ceilings, measure, processes
from bench.data import load_backlog
from bench.measure import metric
from bench.naive import measure_naive
from bench.offices import BenchOffices
from bench.sizes import Size
from sync.outbox import Outbox

log = logging.getLogger("bench")


@dataclass(frozen=True)
class Drain:
    """One timed drain: changes applied, seconds from start to the last apply, and of those
    the seconds until every agent had its link up (connect and topology)."""

    rows: int
    seconds: float
    connect_seconds: float
    agent_cpu_seconds: float = 0.0  # CPU the branch agent processes used, in all
    head_office_cpu_seconds: float = 0.0  # CPU the Head Office consumer processes used meanwhile
    started_at: float = 0.0  # Unix time the agents were told to go

    @property
    def cpu_us_per_row(self) -> tuple[float, float]:
        """Microseconds of CPU per change: (branch agents, Head Office consumers)."""
        return self.agent_cpu_seconds / self.rows * 1e6, self.head_office_cpu_seconds / self.rows * 1e6

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def rows_per_s_connected(self) -> float:
        """The rate once connected: what the link and the pipeline sustain."""
        return self.rows / (self.seconds - self.connect_seconds)


def drain(offices: BenchOffices, ho_children: list, codes: list[str], rows: int, amqp_url: str | None = None,
          agent_processes: int | None = None, timeout: float = 900) -> Drain:
    """Start agents for ``codes`` and time them until ``rows`` changes are applied at the Head Office.

    Returns once every receipt is back too, so the next run finds a quiet system.
    """
    configs = [offices.paths[c] for c in codes]
    with processes.AgentGroup(configs, agent_processes or len(codes), amqp_url) as agents:
        cpu_before = [sum(c.cpu_seconds() for c in group) for group in (agents.children, ho_children)]
        started = agents.go()
        finished = measure.wait_applied(offices.engine("ho"), rows, timeout, [*ho_children, *agents.children])
        measure.wait_receipted([offices.engine(c) for c in codes], timeout=120)
        cpu_after = [sum(c.cpu_seconds() for c in group) for group in (agents.children, ho_children)]
        online = agents.online_times()
    connect = max(online) - started if len(online) == len(codes) else 0.0
    agent_cpu, head_cpu = (after - before for before, after in zip(cpu_before, cpu_after, strict=True))
    return Drain(rows, finished - started, min(connect, finished - started), agent_cpu, head_cpu, started)


def run(size: Size, workdir: Path) -> dict:
    """Figures 1, 2 and 3 as one dict each, keyed ``drain``, ``ceilings``, ``naive``."""
    n = size.backlog_rows
    runs: dict[str, list[float]] = {k: [] for k in (
        "drain_1", "drain_3", "upsert_driver", "upsert_engine", "upsert_server", "publish", "naive",
        "drain_vs_upsert", "drain_vs_publish", "drain_vs_naive", "agent_cpu", "head_office_cpu",
    )}
    with BenchOffices(workdir, 3) as offices:
        log.info("figures 1-3: loading %d changes at each of 3 branches", n)
        for code in offices.codes:
            load_backlog(offices.engine(code), n, "East")
        batches = ceilings.outbox_batches(offices, "b01")
        origin = Outbox(offices.engine("b01")).origin()
        prepared = ceilings.upsert_rows("b01", origin, batches)
        bodies = ceilings.encoded_bodies(offices, "b01", origin, batches)
        ho = processes.head_office(offices.paths["ho"])
        try:
            for round_no in range(1, size.rounds + 1):
                log.info("figures 1-3: round %d of %d", round_no, size.rounds)
                upsert = ceilings.driver_upsert_ceiling(offices.engine("ho"), prepared)
                runs["upsert_driver"].append(upsert)
                runs["upsert_engine"].append(ceilings.upsert_ceiling(offices.engine("ho"), prepared))
                runs["upsert_server"].append(ceilings.server_upsert_ceiling(offices.engine("ho"), prepared))
                publish = ceilings.publish_ceiling(offices, bodies)
                runs["publish"].append(publish)
                result = drain(offices, [ho], ["b01"], n)
                one = result.rows_per_s
                runs["drain_1"].append(one)
                runs["agent_cpu"].append(result.cpu_us_per_row[0])
                runs["head_office_cpu"].append(result.cpu_us_per_row[1])
                offices.reset()
                runs["drain_3"].append(drain(offices, [ho], offices.codes, 3 * n).rows_per_s)
                offices.reset()
                naive = measure_naive(offices, "b01", size.naive_seconds)["rows_per_s"]
                runs["naive"].append(naive)
                offices.reset()
                runs["drain_vs_upsert"].append(one / upsert)
                runs["drain_vs_publish"].append(one / publish)
                runs["drain_vs_naive"].append(one / naive)
                log.info("  drain %.0f rows/s, upsert ceiling %.0f, publish ceiling %.0f, naive %.1f", one, upsert, publish, naive)
        finally:
            ho.stop()
    return {
        "drain": {
            "title": f"1. Backlog drain of {n:,} changes per branch",
            "metrics": {
                "one_branch": metric(f"1 branch, {n:,} changes", "rows/s", runs["drain_1"]),
                "three_branches": metric(f"3 branches at once, {3 * n:,} changes", "rows/s", runs["drain_3"]),
                "agent_cpu": metric("1 branch: branch agent CPU per change", "us/row", runs["agent_cpu"]),
                "head_office_cpu": metric("1 branch: Head Office consumer CPU per change", "us/row", runs["head_office_cpu"]),
            },
        },
        "ceilings": {
            "title": "2. Ceilings of the services, same rows and bytes",
            "metrics": {
                "upsert_driver": metric("bare executemany upsert (driver)", "rows/s", runs["upsert_driver"]),
                "upsert_engine": metric("bare executemany upsert (engine's SQLAlchemy statement)", "rows/s", runs["upsert_engine"]),
                "upsert_server": metric("server alone: the same upserts escaped beforehand", "rows/s", runs["upsert_server"]),
                "publish": metric("bare publish with confirms", "rows/s", runs["publish"]),
                "drain_vs_upsert": metric("drain / upsert ceiling", "ratio", runs["drain_vs_upsert"]),
                "drain_vs_publish": metric("drain / publish ceiling", "ratio", runs["drain_vs_publish"]),
            },
            "bytes_per_row_body": statistics.mean(len(body) / rows for body, rows in bodies),
        },
        "naive": {
            "title": "3. Naive baseline: a message, a confirm, a commit and an ack per row",
            "metrics": {
                "naive": metric("naive, 1 branch", "rows/s", runs["naive"]),
                "drain_vs_naive": metric("drain / naive", "ratio", runs["drain_vs_naive"]),
            },
        },
    }

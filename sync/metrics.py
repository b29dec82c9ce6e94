"""Prometheus metrics of an office, read from its database when scraped.

Each office has one collector on a registry of its own (no global gauges set from
all over the code): on each scrape it reads what it reports, with reads that stay
cheap however large the office grows: the Head Office's one row per branch
(``sync_branches``, which holds each branch's rows held as the apply keeps them), the
parked dead letters and open alerts through their indexes; a branch's outbox by the state index (pending, sent) and
its primary key (the highest seq).  A database that does not answer is said by
``branch_sync_database_up 0``; the thread states are still reported.

Head Office (``metrics_port`` in its file), each ``{branch="bo1"}``:
  branch_sync_branch_rows_held, branch_sync_branch_changes_applied_total,
  branch_sync_branch_last_applied_timestamp_seconds, branch_sync_branch_applied_seq,
  branch_sync_branch_high_water_seq, branch_sync_branch_lag_changes,
  branch_sync_branch_pending_reported, branch_sync_branch_capture_ok,
  branch_sync_branch_dead_letters, branch_sync_branch_alerts_active,
  branch_sync_branch_days_different (1 while the alert monitor finds a day of the branch
  different, 0 otherwise: the day-close state, as `reconcile` and the Day close tab show it);
  and branch_sync_head_office_alerts_active, branch_sync_consumer_state{branch_sync_consumer_state=...},
  branch_sync_database_up.
Branch agent (``metrics_port`` in its file):
  branch_sync_outbox_pending, branch_sync_outbox_sent, branch_sync_outbox_high_water_seq,
  branch_sync_applied_seq (the highest seq the Head Office says it holds),
  branch_sync_last_sync_timestamp_seconds, branch_sync_drain_per_minute,
  branch_sync_capture_ok, branch_sync_link_state{branch_sync_link_state=...}, branch_sync_database_up.
"""
from __future__ import annotations

import datetime as dt
import enum
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, StateSetMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from config import BranchConfig, HeadOfficeConfig
from models.alerts import DAY_DIFFERENT, active_per_branch, open_of_kind
from models.rows import tuples
from models.schema import LetterState, OutboxState, ho_branches, ho_dead_letters
from sync.outbox import Outbox
from sync.states import ConsumerState, LinkState

log = logging.getLogger("sync.metrics")


def _per_branch(name: str, documentation: str, values: dict[str, float | None],
                family: type[GaugeMetricFamily] | type[CounterMetricFamily] = GaugeMetricFamily) -> Metric:
    metric = family(name, documentation, labels=["branch"])
    for branch, value in values.items():
        if value is not None:
            metric.add_metric([branch], value)
    return metric


def _states(name: str, documentation: str, states: type[enum.StrEnum], now: enum.StrEnum | None) -> Metric:
    return StateSetMetricFamily(name, documentation, value={s.value: s is now for s in states})


def _seconds(moment: dt.datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


class HeadOfficeMetrics(Collector):
    """Per branch: rows held, changes applied, last applied, high-water mark and lag, dead letters, alerts."""

    def __init__(self, cfg: HeadOfficeConfig, engine: Engine, consumer_state: Callable[[], ConsumerState | None]):
        self.cfg, self.engine, self.consumer_state = cfg, engine, consumer_state
        self._lock = threading.Lock()  # scrapes may come on several threads

    def collect(self) -> Iterator[Metric]:
        yield _states("branch_sync_consumer_state", "The Head Office consumer's state", ConsumerState,
                      self.consumer_state())
        try:
            with self._lock, self.engine.connect() as conn:
                metrics = self._read(conn)
        except DBAPIError as exc:
            log.debug("metrics could not read the database: %s", exc)
            metrics = []
        yield GaugeMetricFamily("branch_sync_database_up", "1 when the office database answered this scrape",
                                value=1 if metrics else 0)
        yield from metrics

    def _read(self, conn: Connection) -> list[Metric]:
        b = ho_branches.c
        rows = list(tuples(conn.execute(select(b.code, b.changes_applied, b.last_applied_at, b.last_seq, b.high_water,
                                               b.pending_reported, b.capture_ok, b.sales_held).order_by(b.code))))
        codes = [r[0] for r in rows]
        different = {branch for branch, _sentence in tuples(conn.execute(open_of_kind(DAY_DIFFERENT)))}
        d = ho_dead_letters.c
        parked: dict[str | None, int] = dict(tuples(conn.execute(select(d.branch, func.count()).where(d.state == LetterState.PARKED)
                                          .group_by(d.branch))))
        alerts = active_per_branch(conn)

        def each(column: int, convert: Callable[[Any], float | None] = float) -> dict[str, float | None]:
            return {r[0]: None if r[column] is None else convert(r[column]) for r in rows}

        return [
            _per_branch("branch_sync_branch_rows_held", "Sales the Head Office holds from the branch", each(7)),
            _per_branch("branch_sync_branch_changes_applied", "Changes from the branch applied by the Head Office",
                        each(1), CounterMetricFamily),
            _per_branch("branch_sync_branch_last_applied_timestamp_seconds",
                        "When the Head Office last applied a change from the branch", each(2, _seconds)),
            _per_branch("branch_sync_branch_applied_seq", "The highest change number applied from the branch", each(3)),
            _per_branch("branch_sync_branch_high_water_seq", "The highest change number the branch has reported",
                        each(4)),
            _per_branch("branch_sync_branch_lag_changes", "Change numbers the branch has reported beyond those applied",
                        {r[0]: float(max(r[4] - r[3], 0)) for r in rows}),
            _per_branch("branch_sync_branch_pending_reported", "Changes waiting at the branch, as it last reported",
                        each(5)),
            _per_branch("branch_sync_branch_capture_ok", "1 when the branch last reported its capture working",
                        each(6, lambda ok: 1.0 if ok else 0.0)),
            _per_branch("branch_sync_branch_dead_letters", "Parked messages attributed to the branch",
                        {code: float(parked.get(code, 0)) for code in codes}),
            _per_branch("branch_sync_branch_alerts_active", "Alerts active for the branch",
                        {code: float(alerts.get(code, 0)) for code in codes}),
            _per_branch("branch_sync_branch_days_different", "1 while a day of the branch does not match the Head Office",
                        {code: float(code in different) for code in codes}),
            GaugeMetricFamily("branch_sync_head_office_alerts_active", "Alerts active about the Head Office itself",
                              value=alerts.get("", 0)),
        ]


class BranchMetrics(Collector):
    """A branch agent: pending, sent, applied, the last sync, capture health, its link."""

    def __init__(self, cfg: BranchConfig, outbox: Outbox, capture_ok: Callable[[], bool | None],
                 link_state: Callable[[], LinkState | None]):
        self.cfg, self.outbox, self.capture_ok, self.link_state = cfg, outbox, capture_ok, link_state

    def collect(self) -> Iterator[Metric]:
        yield _states("branch_sync_link_state", "The branch agent's link to the broker", LinkState, self.link_state())
        ok = self.capture_ok()
        if ok is not None:
            yield GaugeMetricFamily("branch_sync_capture_ok", "1 when the last capture self-check found it working",
                                    value=1 if ok else 0)
        try:
            facts = (self.outbox.count_state(OutboxState.PENDING), self.outbox.count_state(OutboxState.SENT),
                     self.outbox.high_water(), self.outbox.fact("ho_held"), self.outbox.fact("last_sync_at"),
                     self.outbox.drain_rate())
        except DBAPIError as exc:
            log.debug("metrics could not read the database: %s", exc)
            yield GaugeMetricFamily("branch_sync_database_up", "1 when the office database answered this scrape", value=0)
            return
        pending, sent, high_water, held, last_sync, rate = facts
        yield GaugeMetricFamily("branch_sync_database_up", "1 when the office database answered this scrape", value=1)
        yield GaugeMetricFamily("branch_sync_outbox_pending", "Changes captured and not yet sent", value=pending)
        yield GaugeMetricFamily("branch_sync_outbox_sent", "Changes sent and not yet receipted", value=sent)
        yield GaugeMetricFamily("branch_sync_outbox_high_water_seq", "The highest change number captured",
                                value=high_water)
        yield GaugeMetricFamily("branch_sync_applied_seq", "The highest change number the Head Office holds",
                                value=int(held) if held else 0)
        if last_sync:
            yield GaugeMetricFamily("branch_sync_last_sync_timestamp_seconds", "When the branch last synced",
                                    value=dt.datetime.fromisoformat(last_sync).timestamp())
        if rate is not None:
            yield GaugeMetricFamily("branch_sync_drain_per_minute", "Changes a minute the branch measured sending",
                                    value=rate)


class MetricsServer:
    """An HTTP server for one collector's metrics, on its own thread; ``port`` is the one it listens on."""

    def __init__(self, collector: Collector, port: int, address: str = "0.0.0.0"):
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self._server, self._thread = start_http_server(port, addr=address, registry=self.registry)
        self.port: int = self._server.server_port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

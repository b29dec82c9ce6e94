"""The Head Office's running parts together: the consumer, the alert monitor and the metrics page.

``ho_app.py`` runs a ``HeadOfficeService`` headless or beside the window; it starts
and stops like the consumer alone (``start``, ``stop``, ``is_alive``) and takes the
window's requests (``request_sync``, ``retry_dead_letter``).  The consumer's events
go to the alert monitor (its own state is an alert condition) and to ``on_event``.
"""
from __future__ import annotations

import logging

from config import HeadOfficeConfig
from sync import events
from sync.alerts import AlertMonitor
from sync.intake import IntakeConsumer
from sync.metrics import HeadOfficeMetrics, MetricsServer


class HeadOfficeService:
    """The consumer, the alert monitor with its couriers, and the metrics page when ``metrics_port`` is set."""

    def __init__(self, cfg: HeadOfficeConfig, on_event: events.OnEvent | None = None):
        self.cfg = cfg
        self._emit = on_event or events.ignore
        self.monitor = AlertMonitor(cfg)
        self.consumer = IntakeConsumer(cfg, on_event=self._event)
        self.metrics: MetricsServer | None = None
        self.log = logging.getLogger(f"sync.{cfg.code}")

    def _event(self, event: events.Event) -> None:
        self.monitor.on_event(event)
        self._emit(event)

    def start(self) -> None:
        """Start everything; a metrics port that cannot be had is said in the log, never fatal."""
        if self.cfg.metrics_port:
            try:
                self.metrics = MetricsServer(HeadOfficeMetrics(self.cfg, self.monitor.engine,
                                                               lambda: self.consumer.state), self.cfg.metrics_port)
                self.log.info("metrics served on port %d", self.metrics.port)
            except OSError as exc:
                self.log.error("cannot serve metrics on port %d (%s); the Head Office runs without them",
                               self.cfg.metrics_port, exc.strerror or exc)
        self.consumer.start()
        self.monitor.start()

    def is_alive(self) -> bool:
        return self.consumer.is_alive()

    def stop(self, timeout: float | None = 10) -> None:
        """Stop the consumer (waiting up to ``timeout`` for its work in hand), then the monitor and the page."""
        self.consumer.stop(timeout)
        self.monitor.stop(min(timeout or 10, 5))
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None

    def request_sync(self) -> None:
        self.consumer.request_sync()

    def retry_dead_letter(self, dead_letter_id: int) -> None:
        self.consumer.retry_dead_letter(dead_letter_id)

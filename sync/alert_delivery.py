"""Sending each raised or cleared alert to the people who act: a webhook and e-mail.

Each channel is a ``Courier`` thread with its own queue: ``put`` returns at once, so
neither the alert monitor nor the consumer ever waits for a slow or failing
receiver.  A notice that fails is tried again with capped exponential backoff, in
order (a "cleared" never overtakes its "raised"), until it goes or the program
stops; at most ``QUEUE_LIMIT`` wait, the oldest given up first with a log line.
Each notice is also kept in the database until sent (sync/alerts.py writes it with
the alert and marks it sent through ``on_sent``), so one that a stopped or killed
Head Office still owed is sent when it runs again: at least once, with its ``id``
the same each time it is tried, for a receiver that wants to tell a repeat.

The webhook gets a JSON POST::

    {"id": 41, "kind": "capture_broken", "branch": "bo1", "state": "raised",
     "sentence": "Branch bo1: Change capture is broken: ...", "at": "2026-11-30T06:01:02+00:00"}

(``branch`` is null for an alert about the Head Office itself; ``id`` is null for a
notice made while the database did not answer, which is kept in memory only.)  E-mail goes through
the standard library's ``smtplib``, with STARTTLS and a login when configured.
"""
from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import smtplib
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from config import HeadOfficeConfig
from config.fields import redact_url
from sync.backoff import Backoff

QUEUE_LIMIT = 10_000
SEND_TIMEOUT_SECONDS = 15.0
RAISED, CLEARED = "raised", "cleared"


@dataclass(frozen=True)
class Notice:
    """An alert that was raised or cleared, as it is sent."""

    kind: str
    branch: str  # '' for the Head Office itself
    state: str  # RAISED or CLEARED
    sentence: str
    at: dt.datetime
    id: int | None = None  # its row in sync_alert_notices, once written
    channel: str = ""  # the courier that sends it

    def as_json(self) -> dict[str, str | int | None]:
        return {"id": self.id, "kind": self.kind, "branch": self.branch or None, "state": self.state, "sentence": self.sentence,
                "at": self.at.astimezone().isoformat(timespec="seconds")}

    @property
    def subject(self) -> str:
        where = f"branch {self.branch}" if self.branch else "the Head Office"
        return f"[Branch Sync] {self.state}: {self.kind.replace('_', ' ')} at {where}"


Send = Callable[[Notice], None]


class Courier(threading.Thread):
    """Delivers notices on one channel, in order, retrying each with backoff until it goes."""

    def __init__(self, channel: str, send: Send, backoff: Backoff):
        super().__init__(name=f"alerts-{channel}", daemon=True)
        self.channel, self._send, self._backoff = channel, send, backoff
        self.log = logging.getLogger(f"sync.alerts.{channel}")
        self._queue: collections.deque[Notice] = collections.deque()
        self._lock = threading.Condition()
        self._stopping = False
        self.delivered = 0
        self.on_sent: Callable[[Notice], None] | None = None  # told of each notice the receiver took

    def put(self, notice: Notice) -> None:
        """Queue ``notice`` for sending; returns at once."""
        with self._lock:
            if len(self._queue) >= QUEUE_LIMIT:
                dropped = self._queue.popleft()
                self.log.error("gave up %s alert %s of %s: %d notices wait already", self.channel, dropped.state,
                               dropped.kind, QUEUE_LIMIT)
            self._queue.append(notice)
            self._lock.notify()

    def waiting(self) -> int:
        with self._lock:
            return len(self._queue)

    def stop(self, timeout: float | None = 10) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def run(self) -> None:
        failing = False
        while True:
            with self._lock:
                while not self._queue and not self._stopping:
                    self._lock.wait()
                if self._stopping:
                    return
                notice = self._queue[0]
            try:
                self._send(notice)
            except Exception as exc:  # noqa: BLE001 - whatever the receiver does, try again later
                delay = self._backoff.next_delay()
                if not failing:
                    self.log.warning("could not send the %s alert by %s (%s); trying again with backoff",
                                     notice.kind, self.channel, str(exc)[:300])
                failing = True
                with self._lock:
                    if not self._stopping:
                        self._lock.wait(delay)
                continue
            if failing:
                self.log.info("%s delivery works again", self.channel)
            failing = False
            self._backoff.reset()
            with self._lock:
                if self._queue and self._queue[0] is notice:
                    self._queue.popleft()
                self.delivered += 1
            if self.on_sent is not None:
                try:
                    self.on_sent(notice)
                except Exception:  # noqa: BLE001 - it was sent; a failure to note it must not end the courier
                    self.log.exception("could not note the %s alert as sent", notice.kind)


def webhook(url: str) -> Send:
    """POST each notice as JSON to ``url``; any answer but 2xx is a failure to try again."""
    def send(notice: Notice) -> None:
        request = urllib.request.Request(url, data=json.dumps(notice.as_json()).encode("utf-8"), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "branch-sync-alerts"})
        try:
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS) as answer:  # noqa: S310 - http(s) only, checked by config
                status = answer.status
        except OSError as exc:  # URLError and HTTPError (a 4xx or 5xx answer) are OSErrors
            raise OSError(f"{redact_url(url)}: {exc}") from None
        if not 200 <= status < 300:
            raise OSError(f"{redact_url(url)} answered {status}")
    return send


def mail(cfg: HeadOfficeConfig) -> Send:
    """Send each notice as an e-mail through ``cfg.smtp_host``."""
    password = Path(cfg.smtp_password_file).read_text(encoding="utf-8").strip() if cfg.smtp_password_file else ""

    def send(notice: Notice) -> None:
        message = EmailMessage()
        message["Subject"] = notice.subject
        message["From"] = cfg.alert_mail_from
        message["To"] = ", ".join(cfg.alert_mail_to)
        message.set_content(f"{notice.sentence}\n\n{notice.state.capitalize()} at "
                            f"{notice.at.astimezone():%Y-%m-%d %H:%M:%S %Z} by {cfg.name} ({cfg.code}).\n")
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=SEND_TIMEOUT_SECONDS) as smtp:
            if cfg.smtp_starttls:
                smtp.starttls()
            if cfg.smtp_user:
                smtp.login(cfg.smtp_user, password)
            smtp.send_message(message)
    return send


def couriers_for(cfg: HeadOfficeConfig) -> list[Courier]:
    """One courier per channel the Head Office's file configures (none when neither is set)."""
    couriers = []
    if cfg.alert_webhook_url:
        couriers.append(Courier("webhook", webhook(cfg.alert_webhook_url), _backoff(cfg)))
    if cfg.smtp_host:
        couriers.append(Courier("mail", mail(cfg), _backoff(cfg)))
    return couriers


def _backoff(cfg: HeadOfficeConfig) -> Backoff:
    return Backoff(max(cfg.backoff_initial_seconds, 0.05), max(cfg.backoff_max_seconds, 1.0))

"""What each office knows about itself: a branch's settings and a Head Office's, each with
only its own keys (see config/*.toml for examples).  Every field has a default here
except those a file must give; ``config.loader`` reads the files."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from config import fields as f
from config.fields import SyncWindow, redact_url


@dataclass(frozen=True)
class OfficeConfig:
    """What every office has: who it is, its database, its broker, and how it retries."""

    role: str
    code: str
    name: str
    db_url: str = field(repr=False)  # may hold a password: never printed
    amqp_urls: tuple[str, ...] = field(repr=False)
    topology_prefix: str = "branch_sync"
    queue_type: str = "quorum"
    heartbeat_seconds: int = 30
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 60.0
    # TLS for amqps:// URLs: the CA that signed the broker's certificate (empty: the
    # system's CAs), and an optional client certificate and key.
    amqp_ca_file: str = ""
    amqp_client_cert: str = ""
    amqp_client_key: str = ""
    # Secrets live outside the repository: a file holding only the password, put
    # into every URL that has none (the URLs in the file then name no password).
    amqp_password_file: str = ""
    db_password_file: str = ""
    # Serve Prometheus metrics on this port (0: do not serve); sync/metrics.py says what.
    metrics_port: int = 0
    source: str = "<defaults>"

    @property
    def is_branch(self) -> bool:
        return self.role == "branch"

    def redacted_amqp_urls(self) -> list[str]:
        return [redact_url(u) for u in self.amqp_urls]


@dataclass(frozen=True)
class BranchConfig(OfficeConfig):
    """A branch office: its sales, its tax rate, and how it sends."""

    region: str = ""
    tax_rate: Decimal = Decimal("0.07")
    declare_topology: bool = True
    batch_rows: int = 5000
    # Messages kept in flight while draining a backlog (each on its own connection),
    # so a slow link never idles while a confirm makes its round trip.
    publish_window: int = 2
    poll_seconds: float = 0.1
    resend_after_seconds: float = 6 * 3600.0
    sync_windows: tuple[SyncWindow, ...] = ()
    # How often the agent checks that every change of the sales table is captured
    # (and sends the totals of the last ``day_totals_days`` days, see sync/branch_days.py).
    capture_check_minutes: float = 5.0
    day_totals_days: int = 3
    # Whether a clerk may type another cost than the catalogue's (the Head Office marks such sales "off-price"),
    # and sell a product the catalogue does not have (asked about once, as before the catalogue).
    allow_cost_override: bool = True
    allow_free_products: bool = False

    def in_sync_window(self, now: dt.datetime | None = None) -> bool:
        """True when no windows are set, or ``now`` (local time) falls in one."""
        if not self.sync_windows:
            return True
        moment = (now or dt.datetime.now()).time()
        return any(w.contains(moment) for w in self.sync_windows)

    def next_window_seconds(self, now: dt.datetime | None = None) -> int | None:
        """Seconds of link the next sync window gives: what is left of the one ``now`` is in, else
        the whole of the next to open; None when no windows are set (always connected)."""
        if not self.sync_windows:
            return None
        now = now or dt.datetime.now()
        best: tuple[float, int] | None = None  # (seconds until it opens, seconds it lasts from then)
        for w in self.sync_windows:
            start = dt.datetime.combine(now.date(), w.start)
            for day in (-1, 0, 1):
                opens = start + dt.timedelta(days=day)
                closes = dt.datetime.combine(opens.date(), w.end)
                if closes <= opens:
                    closes += dt.timedelta(days=1)
                if closes <= now:
                    continue
                wait = max((opens - now).total_seconds(), 0.0)
                left = int((closes - max(opens, now)).total_seconds())
                if best is None or wait < best[0]:
                    best = (wait, left)
        assert best is not None  # a window opens within a day of any moment
        return best[1]


@dataclass(frozen=True)
class HeadOfficeConfig(OfficeConfig):
    """The Head Office: which branches it accepts, and what each may cost it."""

    branches: dict[str, str] = field(default_factory=dict)  # code -> display name
    prefetch: int = 4  # unacked messages per branch queue
    silent_after_minutes: int = 120
    # Accept a branch's changes only from the broker login named like the branch
    # (RabbitMQ vouches for user_id).  Off only where every office shares one login.
    require_branch_login: bool = True
    # Each branch's share of the broker and of the dead letters: its queues hold at
    # most this much (further publishes are refused by the broker, which the branch
    # retries later), and this many parked dead letters before the Head Office stops
    # reading its queue until a person has looked.
    branch_queue_max_mb: int = 256
    dead_letter_quota: int = 1000
    # Connections one branch login may hold: its agent's, and one per publishing lane.
    branch_max_connections: int = 4
    # Alerts (sync/alerts.py): how often the conditions are evaluated, and where a raised or
    # cleared alert is sent besides the window: a JSON POST to a URL, and e-mail by SMTP.
    alert_check_seconds: float = 30.0
    # The "day different" alert: every check judges the days that can have moved (the last three,
    # those reported since, a branch's days that differ); all the last 62 days, whose hashing costs
    # about 2.4 s of database time at a year of fifty branches (bench/day_alert.py), this often.
    day_sweep_seconds: float = 600.0
    alert_webhook_url: str = ""
    smtp_host: str = ""  # empty: no e-mail
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password_file: str = ""  # the SMTP password, never written in the office file
    alert_mail_from: str = ""
    alert_mail_to: tuple[str, ...] = ()


COMMON: dict[str, f.Parser] = {
    "role": f.as_choice("branch", "head_office"),
    "code": f.as_code(),
    "name": f.as_str,
    "db_url": f.as_db_url,
    "amqp_urls": f.as_amqp_urls,
    "topology_prefix": f.as_code(re.compile(r"[A-Za-z0-9_.-]{1,64}")),
    "queue_type": f.as_choice("quorum", "classic"),
    "heartbeat_seconds": f.as_int(0, 600),
    "backoff_initial_seconds": f.as_float(0.01, 60),
    "backoff_max_seconds": f.as_float(0.1, 3600),
    "amqp_ca_file": f.as_file,
    "amqp_client_cert": f.as_file,
    "amqp_client_key": f.as_file,
    "amqp_password_file": f.as_file,
    "db_password_file": f.as_file,
    "metrics_port": f.as_int(0, 65535),
}
BRANCH_KEYS: dict[str, f.Parser] = {
    "region": f.as_str,
    "tax_rate": f.as_rate,
    "declare_topology": f.as_bool,
    "batch_rows": f.as_int(1, 10_000),  # sync.protocol.limits.MAX_CHANGES
    "publish_window": f.as_int(1, 16),
    "poll_seconds": f.as_float(0.01, 60),
    "resend_after_seconds": f.as_float(1, 30 * 86400),
    "sync_windows": f.as_windows,
    "capture_check_minutes": f.as_float(0.01, 24 * 60),
    "day_totals_days": f.as_int(0, 366),
    "allow_cost_override": f.as_bool,
    "allow_free_products": f.as_bool,
}
HEAD_OFFICE_KEYS: dict[str, f.Parser] = {
    "branches": f.as_branches,
    "prefetch": f.as_int(1, 100),
    "silent_after_minutes": f.as_int(1, 365 * 24 * 60),
    "require_branch_login": f.as_bool,
    "branch_queue_max_mb": f.as_int(1, 1_000_000),
    "dead_letter_quota": f.as_int(1, 1_000_000),
    "branch_max_connections": f.as_int(1, 64),
    "alert_check_seconds": f.as_float(0.05, 60),  # at least every minute
    "day_sweep_seconds": f.as_float(0.05, 86_400),
    "alert_webhook_url": f.as_http_url,
    "smtp_host": f.as_str,
    "smtp_port": f.as_int(1, 65535),
    "smtp_starttls": f.as_bool,
    "smtp_user": f.as_str,
    "smtp_password_file": f.as_file,
    "alert_mail_from": f.as_mail_address,
    "alert_mail_to": f.as_mail_addresses,
}
REQUIRED = {"branch": ("region", "tax_rate"), "head_office": ()}

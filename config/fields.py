"""Load and validate an office's settings: defaults in code, a TOML file over them,
``SYNC_<KEY>`` environment variables over both.

Every mistake is reported as one sentence naming the file, the key and what is
wrong (``ConfigError``); nothing half-loaded is ever returned.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import quote, urlsplit

ROLES = ("branch", "head_office")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
_WINDOW = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class ConfigError(ValueError):
    """A configuration problem, said in one sentence a person can act on."""


@dataclass(frozen=True)
class SyncWindow:
    """A daily period when the link is expected; may run past midnight."""

    start: dt.time
    end: dt.time

    def contains(self, moment: dt.time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class OfficeConfig:
    """Everything one office process needs to know; see config/*.toml for examples."""

    role: str
    code: str
    name: str
    db_url: str = field(repr=False)  # may hold a password: never printed
    amqp_urls: tuple[str, ...] = field(repr=False)
    region: str = ""
    tax_rate: Decimal = Decimal("0.07")
    topology_prefix: str = "branch_sync"
    queue_type: str = "quorum"
    declare_topology: bool = True
    batch_rows: int = 5000
    # Messages a branch keeps in flight while draining a backlog (each on its own
    # connection), so a slow link never idles while a confirm makes its round trip.
    publish_window: int = 2
    prefetch: int = 8
    poll_seconds: float = 0.1
    heartbeat_seconds: int = 30
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 60.0
    resend_after_seconds: float = 6 * 3600.0
    sync_windows: tuple[SyncWindow, ...] = ()
    branches: dict = field(default_factory=dict)  # head office: code -> display name
    silent_after_minutes: int = 120
    # Head office: accept a branch's changes only from the broker login named like the
    # branch (RabbitMQ vouches for user_id).  Off only where every office shares one login.
    require_branch_login: bool = True
    # How far a branch clock may step back before the head office reads a message
    # built later, with a lower high-water mark, as a database restored from backup.
    clock_slack_seconds: float = 120.0
    # TLS for amqps:// URLs: the CA that signed the broker's certificate (empty: the
    # system's CAs), and an optional client certificate and key.
    amqp_ca_file: str = ""
    amqp_client_cert: str = ""
    amqp_client_key: str = ""
    # Secrets live outside the repository: a file holding only the password, put
    # into every URL that has none (the URLs in the file then name no password).
    amqp_password_file: str = ""
    db_password_file: str = ""
    source: str = "<defaults>"

    @property
    def is_branch(self) -> bool:
        return self.role == "branch"

    def in_sync_window(self, now: dt.datetime | None = None) -> bool:
        """True when no windows are set, or ``now`` (local time) falls in one."""
        if not self.sync_windows:
            return True
        moment = (now or dt.datetime.now()).time()
        return any(w.contains(moment) for w in self.sync_windows)

    def redacted_amqp_urls(self) -> list[str]:
        return [redact_url(u) for u in self.amqp_urls]


def redact_url(url: str) -> str:
    """The URL with its password replaced by ***, for logs and status."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


# ---------------------------------------------------------------- parsing
def _fail(source: str, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{source}: '{key}' {problem}.")


def _as_str(source, key, value):
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, key, f"must be non-empty text, got {value!r}")
    return value.strip()


def _as_int(source, key, value, low, high):
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(source, key, f"must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise _fail(source, key, f"must be between {low} and {high}, got {value}")
    return value


def _as_float(source, key, value, low, high):
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise _fail(source, key, f"must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(source, key, f"must be a number, got {value!r}")
    if not low <= value <= high:
        raise _fail(source, key, f"must be between {low} and {high}, got {value}")
    return float(value)


def _as_bool(source, key, value):
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if not isinstance(value, bool):
        raise _fail(source, key, f"must be true or false, got {value!r}")
    return value


def _as_rate(source, key, value):
    if isinstance(value, float):
        # TOML floats are binary; say how to write it exactly instead of guessing.
        raise _fail(source, key, f"must be written as text, like \"0.07\", so that it is exact (got {value!r})")
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation:
        raise _fail(source, key, f"must be a decimal number like \"0.07\", got {value!r}") from None
    if not rate.is_finite() or not Decimal(0) <= rate < Decimal(1):
        raise _fail(source, key, f"must be at least 0 and below 1, got {value!r}")
    return rate


def _as_list(source, key, value):
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(source, key, f"must be a list of text values, got {value!r}")
    return value


def _as_windows(source, key, value):
    windows = []
    for item in _as_list(source, key, value):
        match = _WINDOW.match(item.strip())
        if not match:
            raise _fail(source, key, f"has {item!r}; write each window as \"HH:MM-HH:MM\", like \"02:00-03:30\"")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise _fail(source, key, f"has {item!r}, which is not a time of day")
        if (h1, m1) == (h2, m2):
            raise _fail(source, key, f"has {item!r}, which starts and ends at the same minute")
        windows.append(SyncWindow(dt.time(h1, m1), dt.time(h2, m2)))
    return tuple(windows)


_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}")


def _expand(source, key, value: str, environ) -> str:
    """Replace ``${NAME}`` (or ``${NAME:-default}``) with the environment's value.

    This is how a file names a secret without holding it:
    ``amqp://bo1:${SYNC_AMQP_PASSWORD}@broker/branch_sync``.
    """
    def substitute(match):
        name, default = match.group(1), match.group(2)
        if name in environ:
            return quote(environ[name], safe="")
        if default is not None:
            return default
        raise _fail(source, key, f"needs the environment variable {name}, which is not set")
    return _PLACEHOLDER.sub(substitute, value)


def _as_db_url(source, key, value):
    url = _as_str(source, key, value)
    if not url.startswith(("mysql+pymysql://", "mariadb+pymysql://")):
        raise _fail(source, key, "must start with mysql+pymysql://, like mysql+pymysql://user:password@127.0.0.1:3306/branch_sync_bo1")
    path = urlsplit(url).path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", path):
        raise _fail(source, key, f"must name a database of letters, digits and underscores, got {path!r}")
    return url


def _as_amqp_urls(source, key, value):
    urls = _as_list(source, key, value)
    if not urls:
        raise _fail(source, key, "must list at least one amqp:// or amqps:// URL")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
            raise _fail(source, key, f"has {redact_url(url)!r}, which is not an amqp:// or amqps:// URL with a host")
    return tuple(urls)


def _as_branches(source, key, value):
    if isinstance(value, str):
        value = {c.strip(): c.strip() for c in value.split(",") if c.strip()}
    if isinstance(value, list):
        value = {c: c for c in value}
    if not isinstance(value, dict):
        raise _fail(source, key, f"must map branch codes to names, got {value!r}")
    for code, name in value.items():
        if not isinstance(code, str) or not _CODE.match(code):
            raise _fail(source, key, f"has branch code {code!r}; codes are lower-case letters, digits and _")
        if not isinstance(name, str):
            raise _fail(source, key, f"gives branch {code} the name {name!r}, which is not text")
    return dict(value)


_KEYS = {
    "role": lambda s, k, v: _as_choice(s, k, v, ROLES),
    "code": lambda s, k, v: _as_code(s, k, v),
    "name": _as_str,
    "db_url": _as_db_url,
    "amqp_urls": _as_amqp_urls,
    "region": _as_str,
    "tax_rate": _as_rate,
    "topology_prefix": lambda s, k, v: _as_code(s, k, v, pattern=r"^[A-Za-z0-9_.-]{1,64}$"),
    "queue_type": lambda s, k, v: _as_choice(s, k, v, ("quorum", "classic")),
    "declare_topology": _as_bool,
    "batch_rows": lambda s, k, v: _as_int(s, k, v, 1, 100_000),
    "publish_window": lambda s, k, v: _as_int(s, k, v, 1, 16),
    "prefetch": lambda s, k, v: _as_int(s, k, v, 1, 1000),
    "poll_seconds": lambda s, k, v: _as_float(s, k, v, 0.01, 60),
    "heartbeat_seconds": lambda s, k, v: _as_int(s, k, v, 0, 600),
    "backoff_initial_seconds": lambda s, k, v: _as_float(s, k, v, 0.01, 60),
    "backoff_max_seconds": lambda s, k, v: _as_float(s, k, v, 0.1, 3600),
    "resend_after_seconds": lambda s, k, v: _as_float(s, k, v, 1, 30 * 86400),
    "sync_windows": _as_windows,
    "branches": _as_branches,
    "silent_after_minutes": lambda s, k, v: _as_int(s, k, v, 1, 365 * 24 * 60),
    "require_branch_login": _as_bool,
    "clock_slack_seconds": lambda s, k, v: _as_float(s, k, v, 0, 86400),
    "amqp_ca_file": lambda s, k, v: _as_file(s, k, v),
    "amqp_client_cert": lambda s, k, v: _as_file(s, k, v),
    "amqp_client_key": lambda s, k, v: _as_file(s, k, v),
    "amqp_password_file": lambda s, k, v: _as_file(s, k, v),
    "db_password_file": lambda s, k, v: _as_file(s, k, v),
}


def _as_file(source, key, value):
    path = _as_str(source, key, value)
    if not Path(path).expanduser().is_file():
        raise _fail(source, key, f"names {path!r}, which is not a readable file")
    return str(Path(path).expanduser())


def _with_password(url: str, password_file: str, source: str, key: str) -> str:
    """``url`` with the password read from ``password_file`` when the URL has none."""
    parts = urlsplit(url)
    if parts.password is not None or not password_file:
        return url
    if parts.username is None:
        raise _fail(source, key, f"is set but {redact_url(url)!r} names no user to give the password to")
    try:
        secret = Path(password_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise _fail(source, key, f"names a file that cannot be read ({exc.strerror})") from None
    host = parts.netloc.rsplit("@", 1)[-1]  # as written: keeps an IPv6 address's brackets and the port
    netloc = f"{parts.username}:{quote(secret, safe='')}@{host}"
    return parts._replace(netloc=netloc).geturl()
_ALIASES = {"amqp_url": "amqp_urls"}  # SYNC_AMQP_URL, or amqp_url = "..." in a file


def _as_choice(source, key, value, choices):
    if value not in choices:
        raise _fail(source, key, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _as_code(source, key, value, pattern=_CODE.pattern):
    if not isinstance(value, str) or not re.match(pattern, value):
        raise _fail(source, key, f"must be a short code of lower-case letters, digits and _, got {value!r}")
    return value


def _discover_branches(directory: Path, own: Path) -> dict[str, str]:
    """Branch codes and names from the other office files beside the Head Office's."""
    found = {}
    for path in sorted(directory.glob("*.toml")):
        if path.resolve() == own.resolve():
            continue
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue  # that file's own office reports it; it is not ours to judge
        if raw.get("role") == "branch" and isinstance(raw.get("code"), str):
            found[raw["code"]] = str(raw.get("name", raw["code"]))
    return found


def load_office(path: str | os.PathLike, environ: dict | None = None) -> OfficeConfig:
    """Read one office's TOML file, apply ``SYNC_<KEY>`` overrides and validate.

    Raises ConfigError with one sentence when anything is missing or wrong.
    """
    environ = os.environ if environ is None else environ
    path = Path(path)
    source = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such configuration file; pass --config with the path of an office's .toml file.") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot be read ({exc.strerror}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: is not valid TOML ({exc}).") from None
    values: dict = {}
    for key, value in raw.items():
        key = _ALIASES.get(key, key)
        if key not in _KEYS:
            raise ConfigError(f"{source}: unknown key '{key}'; known keys are {', '.join(sorted(_KEYS))}.")
        values[key] = (source, value)
    for env_key, value in environ.items():
        if env_key.startswith("SYNC_"):
            key = _ALIASES.get(env_key[5:].lower(), env_key[5:].lower())
            if key in _KEYS:
                values[key] = (f"environment variable {env_key}", value)
    parsed = {}
    for key, (where, value) in values.items():
        if key in ("db_url", "amqp_urls"):
            if isinstance(value, str):
                value = _expand(where, key, value, environ)
            elif isinstance(value, list):
                value = [_expand(where, key, v, environ) if isinstance(v, str) else v for v in value]
        parsed[key] = _KEYS[key](where, key, value)
    for key in ("role", "code", "name", "db_url", "amqp_urls"):
        if key not in parsed:
            raise ConfigError(f"{source}: '{key}' is missing; every office file needs role, code, name, db_url and amqp_urls.")
    if parsed["role"] == "branch":
        for key in ("region", "tax_rate"):
            if key not in parsed:
                raise ConfigError(f"{source}: '{key}' is missing; a branch needs its default region and its tax rate.")
    elif "branches" not in parsed:
        parsed["branches"] = _discover_branches(path.parent, path)
    if parsed.get("backoff_initial_seconds", 0.5) > parsed.get("backoff_max_seconds", 60.0):
        raise ConfigError(f"{source}: 'backoff_initial_seconds' must not exceed 'backoff_max_seconds'.")
    if parsed.get("amqp_password_file"):
        parsed["amqp_urls"] = tuple(
            _with_password(u, parsed["amqp_password_file"], source, "amqp_password_file") for u in parsed["amqp_urls"]
        )
    if parsed.get("db_password_file"):
        parsed["db_url"] = _with_password(parsed["db_url"], parsed["db_password_file"], source, "db_password_file")
    known = {f.name for f in fields(OfficeConfig)}
    return OfficeConfig(source=source, **{k: v for k, v in parsed.items() if k in known})

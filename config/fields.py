"""How each kind of setting is read and checked: one function per kind, each raising
``ConfigError`` with one sentence naming the file (or variable) and the key.

A value that may hold a password (a database or broker URL) is never repeated in a
sentence as written: it is shown with the password replaced by ***.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

CODE = re.compile(r"[a-z][a-z0-9_]{0,15}")
_WINDOW = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}")
URL_KEYS = ("db_url", "amqp_urls")


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


def redact_url(url: str) -> str:
    """The URL with its password replaced by ***, for logs, status and error sentences."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not even a URL: hide whatever sits between ':' and '@'
        return re.sub(r":[^:@/]*@", ":***@", url)
    if password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{password}@", ":***@", 1)).geturl()


def shown(value: Any) -> str:
    """A value as a sentence may repeat it: any URL in it with its password hidden."""
    if isinstance(value, str):
        return repr(redact_url(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    return repr(value)


def fail(source: str, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{source}: '{key}' {problem}.")


Parser = Callable[[str, str, Any], Any]


def as_str(source: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(source, key, f"must be non-empty text, got {shown(value)}")
    return value.strip()


def as_int(low: int, high: int) -> Parser:
    def parse(source: str, key: str, value: Any) -> int:
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,18}\s*", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(source, key, f"must be a whole number, got {value!r}")
        if not low <= value <= high:
            raise fail(source, key, f"must be between {low} and {high}, got {value}")
        return int(value)
    return parse


def as_float(low: float, high: float) -> Parser:
    def parse(source: str, key: str, value: Any) -> float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise fail(source, key, f"must be a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(source, key, f"must be a number, got {value!r}")
        if not low <= value <= high:
            raise fail(source, key, f"must be between {low} and {high}, got {value}")
        return float(value)
    return parse


def as_bool(source: str, key: str, value: Any) -> bool:
    words = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
    if isinstance(value, str) and value.strip().lower() in words:
        return words[value.strip().lower()]
    if not isinstance(value, bool):
        raise fail(source, key, f"must be true or false, got {value!r}")
    return value


def as_choice(*choices: str) -> Parser:
    def parse(source: str, key: str, value: Any) -> str:
        if value not in choices:
            raise fail(source, key, f"must be one of {', '.join(choices)}, got {value!r}")
        return str(value)
    return parse


def as_code(pattern: re.Pattern[str] = CODE) -> Parser:
    def parse(source: str, key: str, value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise fail(source, key, f"must be a short code of lower-case letters, digits and _, got {value!r}")
        return value
    return parse


def as_rate(source: str, key: str, value: Any) -> Decimal:
    if isinstance(value, float):
        # TOML floats are binary; say how to write it exactly instead of guessing.
        raise fail(source, key, f"must be written as text, like \"0.07\", so that it is exact (got {value!r})")
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation:
        raise fail(source, key, f"must be a decimal number like \"0.07\", got {value!r}") from None
    if not rate.is_finite() or not Decimal(0) <= rate < Decimal(1):
        raise fail(source, key, f"must be at least 0 and below 1, got {value!r}")
    return rate


def as_list(source: str, key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(source, key, f"must be a list of text values, got {shown(value)}")
    return value


def as_windows(source: str, key: str, value: Any) -> tuple[SyncWindow, ...]:
    windows = []
    for item in as_list(source, key, value):
        match = _WINDOW.fullmatch(item.strip())
        if not match:
            raise fail(source, key, f"has {item!r}; write each window as \"HH:MM-HH:MM\", like \"02:00-03:30\"")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise fail(source, key, f"has {item!r}, which is not a time of day")
        if (h1, m1) == (h2, m2):
            raise fail(source, key, f"has {item!r}, which starts and ends at the same minute")
        windows.append(SyncWindow(dt.time(h1, m1), dt.time(h2, m2)))
    return tuple(windows)


def as_db_url(source: str, key: str, value: Any) -> str:
    url = as_str(source, key, value)
    if not url.startswith(("mysql+pymysql://", "mariadb+pymysql://")):
        raise fail(source, key, "must start with mysql+pymysql://, like "
                                "mysql+pymysql://user:password@127.0.0.1:3306/branch_sync_bo1")
    parts = _split(source, key, url)
    path = parts.path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", path):
        raise fail(source, key, f"must name a database of letters, digits and underscores, got {path!r}")
    return url


def as_amqp_urls(source: str, key: str, value: Any) -> tuple[str, ...]:
    urls = as_list(source, key, value)
    if not urls:
        raise fail(source, key, "must list at least one amqp:// or amqps:// URL")
    for url in urls:
        parts = _split(source, key, url)
        if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
            raise fail(source, key, f"has {redact_url(url)!r}, which is not an amqp:// or amqps:// URL with a host")
    return tuple(urls)


def _split(source: str, key: str, url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it is the check: a port that is not a number raises
        return parts
    except ValueError as exc:
        raise fail(source, key, f"has {redact_url(url)!r}, which is not a URL that can be read ({exc})") from None


def as_http_url(source: str, key: str, value: Any) -> str:
    url = as_str(source, key, value)
    parts = _split(source, key, url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(source, key, f"has {redact_url(url)!r}, which is not an http:// or https:// URL with a host, "
                                "like \"https://alerts.example.com/branch-sync\"")
    return url


_MAIL = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")


def as_mail_address(source: str, key: str, value: Any) -> str:
    address = as_str(source, key, value)
    if not _MAIL.fullmatch(address):
        raise fail(source, key, f"has {address!r}, which is not an e-mail address like \"ops@example.com\"")
    return address


def as_mail_addresses(source: str, key: str, value: Any) -> tuple[str, ...]:
    return tuple(as_mail_address(source, key, v) for v in as_list(source, key, value))


def as_branches(source: str, key: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = {c.strip(): c.strip() for c in value.split(",") if c.strip()}
    if isinstance(value, list):
        value = {c: c for c in value}
    if not isinstance(value, dict):
        raise fail(source, key, f"must map branch codes to names, got {value!r}")
    for code, name in value.items():
        if not isinstance(code, str) or not CODE.fullmatch(code):
            raise fail(source, key, f"has branch code {code!r}; codes are lower-case letters, digits and _")
        if not isinstance(name, str):
            raise fail(source, key, f"gives branch {code} the name {name!r}, which is not text")
    return dict(value)


def as_file(source: str, key: str, value: Any) -> str:
    path = as_str(source, key, value)
    if not Path(path).expanduser().is_file():
        raise fail(source, key, f"names {path!r}, which is not a readable file")
    return str(Path(path).expanduser())


def expand(source: str, key: str, value: str, environ: Mapping[str, str]) -> str:
    """Replace ``${NAME}`` (or ``${NAME:-default}``) with the environment's value.

    This is how a file names a secret without holding it:
    ``amqp://bo1:${SYNC_AMQP_PASSWORD}@broker/branch_sync``.
    """
    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return quote(environ[name], safe="")
        if default is not None:
            return default
        raise fail(source, key, f"needs the environment variable {name}, which is not set")
    return _PLACEHOLDER.sub(substitute, value)


def with_password(url: str, password_file: str, source: str, key: str) -> str:
    """``url`` with the password read from ``password_file`` when the URL has none."""
    parts = urlsplit(url)
    if parts.password is not None or not password_file:
        return url
    if parts.username is None:
        raise fail(source, key, f"is set but {redact_url(url)!r} names no user to give the password to")
    try:
        secret = Path(password_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise fail(source, key, f"names a file that cannot be read ({exc.strerror})") from None
    host = parts.netloc.rsplit("@", 1)[-1]  # as written: keeps an IPv6 address's brackets and the port
    return parts._replace(netloc=f"{parts.username}:{quote(secret, safe='')}@{host}").geturl()

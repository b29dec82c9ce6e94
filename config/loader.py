"""Load and validate an office's settings: defaults in code, a TOML file over them,
``SYNC_<KEY>`` environment variables over both.

Every mistake is reported as one sentence naming the file, the key and what is
wrong (``ConfigError``); nothing half-loaded is ever returned.
"""
from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from config import fields as f
from config.fields import ConfigError
from config.offices import BRANCH_KEYS, COMMON, HEAD_OFFICE_KEYS, REQUIRED, BranchConfig, HeadOfficeConfig, OfficeConfig

ALIASES = {"amqp_url": "amqp_urls"}  # SYNC_AMQP_URL, or amqp_url = "..." in a file
ROLE_KEYS = {"branch": BRANCH_KEYS, "head_office": HEAD_OFFICE_KEYS}
CLASSES: dict[str, type[OfficeConfig]] = {"branch": BranchConfig, "head_office": HeadOfficeConfig}


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file; pass --config with the path of an office's .toml file.") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: is not valid TOML ({exc}).") from None


def load_office(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> OfficeConfig:
    """Read one office's TOML file, apply ``SYNC_<KEY>`` overrides and validate.

    Returns a BranchConfig or a HeadOfficeConfig.  Raises ConfigError with one
    sentence when anything is missing or wrong.
    """
    environ = os.environ if environ is None else environ
    path = Path(path)
    source = str(path)
    raw = _read(path)
    if "role" not in raw:
        raise ConfigError(f"{source}: 'role' is missing; every office file needs role, code, name, db_url and amqp_urls.")
    role = f.as_choice("branch", "head_office")(source, "role", raw["role"])
    keys = {**COMMON, **ROLE_KEYS[role]}
    values = {**_from_file(source, raw, role, keys), **_from_environment(environ, keys)}
    parsed = {key: keys[key](where, key, _expanded(where, key, value, environ)) for key, (where, value) in values.items()}
    _check_complete(source, role, parsed)
    if role == "head_office" and "branches" not in parsed:
        parsed["branches"] = discover_branches(path.parent, path)
    _fill_passwords(source, parsed)
    return CLASSES[role](source=source, **parsed)


def _from_file(source: str, raw: dict[str, Any], role: str, keys: dict[str, f.Parser]) -> dict[str, tuple[str, Any]]:
    other = "head_office" if role == "branch" else "branch"
    values = {}
    for key, value in raw.items():
        key = ALIASES.get(key, key)
        if key in ROLE_KEYS[other]:
            raise ConfigError(f"{source}: '{key}' is a {other.replace('_', ' ')} setting; a {role.replace('_', ' ')} "
                              "file does not take it.")
        if key not in keys:
            raise ConfigError(f"{source}: unknown key '{key}'; known keys are {', '.join(sorted(keys))}.")
        values[key] = (source, value)
    return values


def _from_environment(environ: Mapping[str, str], keys: dict[str, f.Parser]) -> dict[str, tuple[str, Any]]:
    """SYNC_<KEY> variables of this office's keys (one meant for the other kind of office is not its business)."""
    values = {}
    for env_key, value in environ.items():
        key = ALIASES.get(env_key[5:].lower(), env_key[5:].lower()) if env_key.startswith("SYNC_") else ""
        if key in keys:
            values[key] = (f"environment variable {env_key}", value)
    return values


def _check_complete(source: str, role: str, parsed: dict[str, Any]) -> None:
    for key in ("code", "name", "db_url", "amqp_urls", *REQUIRED[role]):
        if key not in parsed:
            what = "every office file needs role, code, name, db_url and amqp_urls" if key in COMMON else \
                "a branch needs its default region and its tax rate"
            raise ConfigError(f"{source}: '{key}' is missing; {what}.")
    if parsed.get("smtp_host") and not (parsed.get("alert_mail_to") and parsed.get("alert_mail_from")):
        raise ConfigError(f"{source}: 'smtp_host' is set, so 'alert_mail_from' and 'alert_mail_to' must say who "
                          "sends the alerts and who receives them.")
    if parsed.get("backoff_initial_seconds", 0.5) > parsed.get("backoff_max_seconds", 60.0):
        raise ConfigError(f"{source}: 'backoff_initial_seconds' must not exceed 'backoff_max_seconds'.")


def _fill_passwords(source: str, parsed: dict[str, Any]) -> None:
    if parsed.get("amqp_password_file"):
        parsed["amqp_urls"] = tuple(f.with_password(u, parsed["amqp_password_file"], source, "amqp_password_file")
                                    for u in parsed["amqp_urls"])
    if parsed.get("db_password_file"):
        parsed["db_url"] = f.with_password(parsed["db_url"], parsed["db_password_file"], source, "db_password_file")


def _expanded(where: str, key: str, value: Any, environ: Mapping[str, str]) -> Any:
    if key not in f.URL_KEYS:
        return value
    if isinstance(value, str):
        return f.expand(where, key, value, environ)
    if isinstance(value, list):
        return [f.expand(where, key, v, environ) if isinstance(v, str) else v for v in value]
    return value


def discover_branches(directory: Path, own: Path) -> dict[str, str]:
    """Branch codes and names from the other office files beside the Head Office's."""
    found = {}
    for path in sorted(directory.glob("*.toml")):
        if path.resolve() == own.resolve():
            continue
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue  # that file's own office reports it; it is not ours to judge
        if raw.get("role") != "branch":
            continue
        code = f.as_code()(str(path), "code", raw.get("code"))
        found[code] = str(raw.get("name", code))
    return found

"""Where an installed office looks for its configuration file when ``--config`` is not given.

    Linux and other Unix   /etc/branch-sync/head-office.toml   or   /etc/branch-sync/branch.toml
    Windows                %PROGRAMDATA%\\Branch Sync\\...

``BRANCH_SYNC_CONFIG_DIR`` names another folder.  A checkout (``python bo_app.py``)
keeps its own defaults in ``config/``.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

CONFIG_DIR_VARIABLE = "BRANCH_SYNC_CONFIG_DIR"
BRANCH_FILE = "branch.toml"
HEAD_OFFICE_FILE = "head-office.toml"


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder an installed office reads its configuration from."""
    environ = os.environ if environ is None else environ  # noqa: PLW0127
    if environ.get(CONFIG_DIR_VARIABLE):
        return Path(environ[CONFIG_DIR_VARIABLE])
    if sys.platform == "win32":
        return Path(environ.get("PROGRAMDATA", r"C:\ProgramData")) / "Branch Sync"
    return Path("/etc/branch-sync")


def office_file(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The default path of ``name`` (``branch.toml`` or ``head-office.toml``)."""
    return str(config_dir(environ) / name)


def this_office_file(environ: Mapping[str, str] | None = None) -> str:
    """The office file of this machine for ``branch-sync``: the Head Office's if there is one, else the branch's."""
    head_office = config_dir(environ) / HEAD_OFFICE_FILE
    return str(head_office if head_office.exists() else config_dir(environ) / BRANCH_FILE)

"""status: what is pending, sent and applied, whether capture works, whether the broker answers."""
from __future__ import annotations

import argparse

from config import OfficeConfig
from sync.office import fits_or_exit
from sync.status import report

HELP = "show what is pending, sent and applied, whether capture works and whether the broker answers"
ROLE = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """status takes nothing but --config."""


def run(cfg: OfficeConfig, args: argparse.Namespace) -> int:
    fits_or_exit(cfg, down_is_theirs=True)
    text, code = report(cfg)
    print(text)
    return code

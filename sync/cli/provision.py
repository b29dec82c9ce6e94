"""provision: the broker's vhost, one least-privilege login per office, and each branch's share."""
from __future__ import annotations

import argparse

from config import OfficeConfig
from sync import provision

HELP = "create the broker's vhost and one least-privilege login per office (run at the Head Office)"
ROLE = "head_office"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    provision.add_arguments(parser)


def run(cfg: OfficeConfig, args: argparse.Namespace) -> int:
    return provision.run(cfg, args)

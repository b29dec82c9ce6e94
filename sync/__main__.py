"""Command line: ``python -m sync <command> --config config/<office>.toml``; one module per command in sync/cli/."""
from __future__ import annotations

import argparse
import sys

from sync.cli import adopt, init_db, migrate, provision, rejoin, status
from sync.office import load_or_exit, setup_logging

COMMANDS = {"init-db": init_db, "status": status, "migrate": migrate, "provision": provision, "adopt": adopt,
            "rejoin": rejoin}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync", description="Branch Sync administration.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.HELP, description=command.HELP)
        p.add_argument("--config", required=True, help="the office's .toml file, e.g. config/bo1.toml")
        command.add_arguments(p)
    args = parser.parse_args(argv)
    setup_logging()
    command = COMMANDS[args.command]
    cfg = load_or_exit(args.config, role=command.ROLE)
    return int(command.run(cfg, args))


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``python -m sync <command> --config config/<office>.toml``; one module per command in sync/cli/.

Installed, the same command is ``branch-sync``; without ``--config`` it reads this
machine's office file (``sync.locations.this_office_file``).
"""
from __future__ import annotations

import argparse
import sys

from sync.cli import adopt, catalogue, init_db, migrate, parked, provision, reconcile, rejoin, resend, status
from sync.locations import this_office_file
from sync.office import load_or_exit, setup_logging
from sync.version import __version__

COMMANDS = {"init-db": init_db, "status": status, "migrate": migrate, "provision": provision, "adopt": adopt,
            "rejoin": rejoin, "resend": resend, "reconcile": reconcile,
            "catalogue": catalogue, "parked": parked}


def main(argv: list[str] | None = None, prog: str = "python -m sync", default_config: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Branch Sync administration.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.HELP, description=command.HELP)

        def add_config(parser: argparse.ArgumentParser) -> None:
            if default_config:
                parser.add_argument("--config", default=default_config,
                                    help=f"the office's .toml file (default: {default_config})")
            else:
                parser.add_argument("--config", required=True, help="the office's .toml file, e.g. config/bo1.toml")

        if getattr(command, "NESTED", False):  # its actions take --config after their own name
            command.add_arguments(p, add_config)
        else:
            add_config(p)
            command.add_arguments(p)
    args = parser.parse_args(argv)
    setup_logging()
    command = COMMANDS[args.command]
    cfg = load_or_exit(args.config, role=command.ROLE)
    return int(command.run(cfg, args))


def installed_main() -> int:
    """The ``branch-sync`` command: as ``python -m sync``, reading this machine's office file by default."""
    return main(prog="branch-sync", default_config=this_office_file())


if __name__ == "__main__":
    sys.exit(main())

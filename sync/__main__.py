"""Command line: ``python -m sync {init-db,status,provision} --config config/<office>.toml``.

Installed, the same command is ``branch-sync``; without ``--config`` it reads this
machine's office file (``sync.locations.this_office_file``).
"""
from __future__ import annotations

import argparse
import sys

from sync import provision
from sync.locations import this_office_file
from sync.office import init_or_exit, load_or_exit, setup_logging
from sync.version import __version__


def main(argv: list[str] | None = None, prog: str = "python -m sync", default_config: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Branch Sync administration.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("init-db", "create the office database, tables and change capture if missing"),
        ("status", "show what is pending, sent and applied, and whether the broker answers"),
        ("provision", "create the broker's vhost and one least-privilege login per office (run at the Head Office)"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        if default_config:
            p.add_argument("--config", default=default_config, help=f"the office's .toml file (default: {default_config})")
        else:
            p.add_argument("--config", required=True, help="the office's .toml file, e.g. config/bo1.toml")
        if name == "provision":
            provision.add_arguments(p)
    args = parser.parse_args(argv)
    setup_logging()
    cfg = load_or_exit(args.config, role="head_office" if args.command == "provision" else None)
    if args.command == "provision":
        return provision.run(cfg, args)
    if args.command == "init-db":
        init_or_exit(cfg)
        print(f"{cfg.name} ({cfg.code}): database ready.")
        return 0
    from sync.status import report

    text, healthy = report(cfg)
    print(text)
    return 0 if healthy else 1


def installed_main() -> int:
    """The ``branch-sync`` command: as ``python -m sync``, reading this machine's office file by default."""
    return main(prog="branch-sync", default_config=this_office_file())


if __name__ == "__main__":
    sys.exit(main())

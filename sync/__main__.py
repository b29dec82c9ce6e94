"""Command line: ``python -m sync {init-db,status,provision} --config config/<office>.toml``."""
from __future__ import annotations

import argparse
import sys

from sync import provision
from sync.office import init_or_exit, load_or_exit, setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync", description="Branch Sync administration.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("init-db", "create the office database, tables and change capture if missing"),
        ("status", "show what is pending, sent and applied, and whether the broker answers"),
        ("provision", "create the broker's vhost and one least-privilege login per office (run at the Head Office)"),
    ):
        p = sub.add_parser(name, help=text, description=text)
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


if __name__ == "__main__":
    sys.exit(main())

"""Branch Office program: the sales window with its sync agent, or the agent alone.

    python bo_app.py --config config/bo1.toml              the window
    python bo_app.py --config config/bo1.toml --headless   the agent, until Ctrl-C
    python bo_app.py --config config/bo1.toml --once       send what is pending, take the catalogue, then exit

Installed, the same program is ``branch-sync-branch``, whose configuration file is
``/etc/branch-sync/branch.toml`` unless ``--config`` names another (see ``sync.locations``).
"""
from __future__ import annotations

import argparse
import logging
import sys

from sync.locations import BRANCH_FILE, office_file
from sync.office import load_or_exit, prepare_or_exit, run_until_signalled, setup_logging
from sync.version import __version__


def main(argv: list[str] | None = None, default_config: str = "config/bo1.toml") -> int:
    parser = argparse.ArgumentParser(description="Branch Sync: a branch office.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", default=default_config, help=f"the branch's .toml file (default: {default_config})")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--headless", action="store_true", help="run the sync agent without a window")
    mode.add_argument("--once", action="store_true",
                      help="send everything pending, wait for the confirms and the Head Office's catalogue, exit")
    parser.add_argument("--verbose", action="store_true", help="log debugging detail")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    cfg = load_or_exit(args.config, role="branch")
    tell = None
    if not (args.headless or args.once):  # started from an icon, nobody reads stderr: a refusal is shown too
        from gui.refusal import tell_in_a_window

        tell = tell_in_a_window(cfg.name)
    prepare_or_exit(cfg, tell)

    from sync.relay import OutboxRelay

    if args.once:
        return send_once(OutboxRelay(cfg))
    if args.headless:
        relay = OutboxRelay(cfg)
        relay.start()
        logging.getLogger(f"sync.{cfg.code}").info("agent running headless; Ctrl-C stops it")
        return run_until_signalled(relay)
    from gui.branch_window import run_branch_window

    return run_branch_window(cfg)


def send_once(relay) -> int:
    """--once: send, wait for confirms, say what happened in one line; the exit code says how it ended."""
    from sqlalchemy.exc import DBAPIError

    from sync.failures import ExitCode, LinkDown, db_words

    code = relay.cfg.code
    try:
        result = relay.run_once()
    except LinkDown as exc:
        # Changes confirmed before this stay marked sent; the rest go next time.
        print(f"{code}: {exc}; nothing more was sent, try again later.", file=sys.stderr)
        return ExitCode.BROKER
    except DBAPIError as exc:
        print(f"{code}: the branch database is not answering ({db_words(exc)}).", file=sys.stderr)
        return ExitCode.DATABASE
    counts = relay.outbox.counts()
    print(f"{code}: sent {result.sent} change(s); pending {counts.pending}, sent {counts.sent}, applied {counts.applied}; "
          f"{catalogue_words(result.catalogue_held, result.catalogue_behind)}.")
    if relay.health is not None and not relay.health.ok:
        print(f"{code}: {relay.health.sentence()}", file=sys.stderr)
        return ExitCode.CAPTURE
    problem = relay.outbox.history_problem()
    if problem:
        print(f"{code}: {problem}", file=sys.stderr)
        return ExitCode.NOT_HEALTHY
    return ExitCode.OK


def catalogue_words(held: int, behind: int) -> str:
    """What --once says of the catalogue it leaves with."""
    if behind:
        return f"catalogue still {behind} change{'s' if behind != 1 else ''} behind the Head Office (at version {held})"
    return f"catalogue at version {held}"


def installed_main() -> int:
    """The ``branch-sync-branch`` command: as ``python bo_app.py``, with the installed configuration's default."""
    return main(default_config=office_file(BRANCH_FILE))


if __name__ == "__main__":
    sys.exit(main())

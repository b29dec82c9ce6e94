r"""Broker identities for the offices: ``python -m sync provision --config config/ho.toml``.

One virtual host, one RabbitMQ user per branch (login = branch code) and one for the
Head Office (login = its code), each allowed the least it needs:

    login       configure   write                                read
    ho          .*          .*                                   .*
    <branch>    (nothing)   ^<p>\.(in\.<branch>|intake)$          ^<p>\.receipts\.<branch>$

So a branch can publish to its own intake exchange (and to the shared one that the
first release used, while branches are upgraded one by one) and read its own receipt
queue, and nothing else: it cannot declare, delete, bind, purge or read any other
queue.  RabbitMQ checks each message's user_id against the login, and the Head
Office (``require_branch_login``) accepts a branch's changes only from that login.

Each branch also gets a bounded share of the broker: at most
``branch_max_connections`` connections, and queues of at most
``branch_queue_max_mb`` (policies; the broker refuses that branch's publishes
beyond it, nobody else's).  Provision caps a message's size at MAX_MESSAGE_BYTES
on the running broker (put ``max_message_size`` in rabbitmq.conf too, see
docs/DEPLOY.md), which bounds what any branch can make the Head Office hold.

Provision only ever touches users it created (they carry the tag ``branch-sync``):
a user of the same name that someone else made is left alone unless ``--adopt``.

A login's password is, in this order: ``SYNC_PASSWORD_<LOGIN>`` from the environment,
the one kept in the secrets directory by an earlier run (unless rotating), or a new
random one.  It is stored in ``<secrets dir>/amqp-<login>`` (mode 0600, outside the
repository) for the office's ``amqp_password_file``, and never printed or logged.
Running provision again leaves every password as it was.

The broker is administered with rabbitmqctl on its own machine; passwords reach it
on standard input, never on a command line that ``ps`` would show.  The Head Office
login then declares the topology, so the branches need not (``declare_topology = false``).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import secrets
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import pika

from config import HeadOfficeConfig, OfficeConfig, redact_url
from sync.broker import Names, close_quietly, connect, declare_topology, describe, queue_policies
from sync.failures import ExitCode, LinkDown
from sync.rabbitmqctl import Grant, ProvisionError, Rabbitmqctl

DEFAULT_VHOST = "branch_sync"
DEFAULT_SECRETS_DIR = Path("~/.config/branch-sync/secrets")
REPOSITORY = Path(__file__).resolve().parent.parent
OUR_TAG = "branch-sync"  # marks the users provision created, the only ones it changes
MAX_MESSAGE_BYTES = 8 * 1024 * 1024  # above the largest real message (sync.protocol.limits.MAX_WIRE_BYTES)


def grants(cfg: HeadOfficeConfig) -> dict[str, Grant]:
    """What each login may do, for the Head Office config ``cfg`` (login -> Grant)."""
    names = Names(cfg.topology_prefix)
    result = {cfg.code: Grant(".*", ".*", ".*")}
    for branch in cfg.branches:
        result[branch] = Grant(
            configure="^$",  # matches no resource name, so no declare or delete at all
            write=f"^({re.escape(names.branch_exchange(branch))}|{re.escape(names.intake_exchange)})$",
            read=f"^{re.escape(names.receipts_queue(branch))}$",
        )
    return result


def password_variable(login: str) -> str:
    """The environment variable that may hold ``login``'s password, e.g. SYNC_PASSWORD_BO1."""
    return f"SYNC_PASSWORD_{login.upper()}"


def secret_file(secrets_dir: str | os.PathLike[str], login: str) -> Path:
    """Where ``login``'s password is kept, for that office's ``amqp_password_file``."""
    return Path(secrets_dir).expanduser() / f"amqp-{login}"


def office_url(url: str, login: str, password: str | None, vhost: str) -> str:
    """``url`` (scheme, host, port kept) logging in as ``login`` on ``vhost``; no password if None."""
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    credentials = quote(login, safe="") + (f":{quote(password, safe='')}" if password is not None else "")
    netloc = f"{credentials}@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc, path="/" + quote(vhost, safe=""), query="", fragment="").geturl()


@dataclass(frozen=True)
class LoginOutcome:
    login: str
    password_from: str  # "kept", "from the environment", "new" or "rotated"
    created: bool
    secret_file: Path


@dataclass(frozen=True)
class ProvisionResult:
    """What provision did; safe to print (it holds no password)."""

    vhost: str
    broker: str  # the first URL with login and vhost, password hidden
    logins: tuple[LoginOutcome, ...]
    strangers: tuple[str, ...]  # other users allowed on the vhost
    declared: bool

    def report(self) -> str:
        lines = [f"Broker identities on virtual host '{self.vhost}':"]
        for o in self.logins:
            what = "created" if o.created else "already there"
            lines.append(f"  {o.login:<8} {what}; password {o.password_from}, in {o.secret_file}")
        if self.declared:
            lines.append(f"Topology declared by '{self.logins[0].login}' at {self.broker}.")
        for stranger in self.strangers:
            lines.append(f"Note: user '{stranger}' also has permissions on '{self.vhost}'; "
                         f"remove them with `rabbitmqctl clear_permissions -p {self.vhost} {stranger}` if not needed.")
        example = self.logins[-1]
        lines.append(f"In each office's file name its own login in amqp_urls without a password and point "
                     f"amqp_password_file at its file, e.g. for {example.login}: "
                     f"amqp_urls = [\"{office_url(self.broker, example.login, None, self.vhost)}\"] and "
                     f"amqp_password_file = \"{example.secret_file}\"; in the Head Office's, require_branch_login = true.")
        return "\n".join(lines)


def provision(cfg: OfficeConfig, secrets_dir: str | os.PathLike[str] = DEFAULT_SECRETS_DIR, *, vhost: str = DEFAULT_VHOST,
              rotate: bool = False, ctl: Rabbitmqctl | None = None, environ: Mapping[str, str] | None = None,
              declare: bool = True, adopt: bool = False) -> ProvisionResult:
    """Create or update the vhost, the logins, their permissions and shares for the Head Office ``cfg``;
    then, unless ``declare`` is false, declare the topology as the Head Office.

    Idempotent.  A user that provision did not create is refused unless ``adopt``.
    Raises ProvisionError with one sentence when anything stops it.
    """
    environ = os.environ if environ is None else environ
    ctl = ctl or Rabbitmqctl()
    if not isinstance(cfg, HeadOfficeConfig):
        raise ProvisionError(f"{cfg.source} is a branch's file; run provision with the Head Office's, "
                             "e.g. --config config/ho.toml.", ExitCode.CONFIG)
    wanted = grants(cfg)
    _check(cfg, wanted, vhost)
    store = _secrets_directory(secrets_dir)
    # Each rabbitmqctl call starts a VM (about a second), so independent calls run side by side.
    with ThreadPoolExecutor(len(wanted) + 1) as pool:
        vhost_added = pool.submit(ctl.add_vhost, vhost)  # a no-op when it exists
        users = ctl.users()
        vhost_added.result()
    strange = sorted(login for login in wanted if login in users and OUR_TAG not in users[login])
    if strange and not adopt:
        login = strange[0]
        raise ProvisionError(f"the broker user '{login}' already exists and was not created by provision (its tags: "
                             f"{', '.join(users[login]) or 'none'}); nothing was changed. Choose another office code, or "
                             "pass --adopt to take that user over (its password and tags are replaced).", ExitCode.CONFIG)
    chosen = {login: _choose_password(login, store, rotate, environ) for login in wanted}

    def set_up(login: str) -> LoginOutcome:
        password, source = chosen[login]
        _keep_secret(secret_file(store, login), password)  # first: a failure below is mended by running again
        if login in users:
            ctl.set_password(login, password)
        else:
            ctl.add_user(login, password)
        if users.get(login) != [OUR_TAG]:
            ctl.set_tags(login, OUR_TAG)  # ours, and no management or admin rights for an office login
        ctl.set_permissions(vhost, login, wanted[login])
        if login != cfg.code:
            ctl.set_connection_limit(login, cfg.branch_max_connections)
        return LoginOutcome(login, source, login not in users, secret_file(store, login))

    with ThreadPoolExecutor(len(wanted) + 3) as pool:
        allowed = pool.submit(ctl.permissions, vhost)  # ours are being set; any others were there before
        shares = [pool.submit(ctl.set_policy, vhost, name, pattern, definition)
                  for name, (pattern, definition) in queue_policies(cfg).items()]
        sized = pool.submit(_cap_message_size, ctl)
        outcomes = tuple(pool.map(set_up, wanted))
        strangers = tuple(sorted(set(allowed.result()) - set(wanted)))
        for done in [*shares, sized]:
            done.result()
    urls = tuple(office_url(u, cfg.code, chosen[cfg.code][0], vhost) for u in cfg.amqp_urls)
    if declare:
        _declare_as_head_office(dataclasses.replace(cfg, amqp_urls=urls))
    return ProvisionResult(vhost, redact_url(urls[0]), outcomes, strangers, declare)


def _cap_message_size(ctl: Rabbitmqctl) -> None:
    """Lower the running broker's largest message to MAX_MESSAGE_BYTES if it takes larger ones."""
    current = ctl.max_message_size()
    if current is None or current > MAX_MESSAGE_BYTES:
        ctl.set_max_message_size(MAX_MESSAGE_BYTES)


def deprovision(cfg: HeadOfficeConfig, vhost: str = DEFAULT_VHOST, ctl: Rabbitmqctl | None = None) -> None:
    """Delete the vhost (and everything in it) and the offices' logins; the secret files stay."""
    ctl = ctl or Rabbitmqctl()
    with ThreadPoolExecutor(len(cfg.branches) + 2) as pool:
        vhosts = pool.submit(ctl.vhosts)
        users = ctl.users()
        doomed = [pool.submit(ctl.delete_user, login) for login in grants(cfg) if login in users]
        if vhost in vhosts.result():
            doomed.append(pool.submit(ctl.delete_vhost, vhost))
        for done in doomed:
            done.result()


def _check(cfg: HeadOfficeConfig, wanted: dict[str, Grant], vhost: str) -> None:
    if cfg.is_branch:
        raise ProvisionError(f"{cfg.source} is a branch's file; run provision with the Head Office's, "
                             "e.g. --config config/ho.toml.", ExitCode.CONFIG)
    if not cfg.branches:
        raise ProvisionError(f"{cfg.source} names no branches; add branch files beside it or a 'branches' key.", ExitCode.CONFIG)
    if len(wanted) != len(cfg.branches) + 1:
        raise ProvisionError(f"{cfg.source}: the Head Office's code '{cfg.code}' is also a branch code; "
                             "each login must be distinct.", ExitCode.CONFIG)
    if not vhost or vhost != vhost.strip():
        raise ProvisionError(f"the virtual host name {vhost!r} is empty or has spaces at its ends.", ExitCode.CONFIG)


def _secrets_directory(secrets_dir: str | os.PathLike[str]) -> Path:
    path = Path(secrets_dir).expanduser().resolve()
    if path == REPOSITORY or REPOSITORY in path.parents:
        raise ProvisionError(f"the secrets directory {path} is inside the repository, where a password could be "
                             "committed; pass --secrets-dir outside it.", ExitCode.CONFIG)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)
    except OSError as exc:
        raise ProvisionError(f"cannot use the secrets directory {path} ({exc.strerror}); pass another with --secrets-dir.",
                             ExitCode.CONFIG) from None
    return path


def _choose_password(login: str, store: Path, rotate: bool, environ: Mapping[str, str]) -> tuple[str, str]:
    from_env = environ.get(password_variable(login))
    if from_env:
        if from_env != from_env.strip() or "\n" in from_env:
            raise ProvisionError(f"{password_variable(login)} has spaces or a line break at its ends or inside; "
                                 "set it to the password alone.", ExitCode.CONFIG)
        return from_env, "from the environment"
    path = secret_file(store, login)
    if path.exists() and not rotate:
        kept = path.read_text(encoding="utf-8").strip()
        if kept:
            return kept, "kept"
    return secrets.token_urlsafe(24), "rotated" if rotate else "new"


def _keep_secret(path: Path, password: str) -> None:
    """Write the password to ``path`` with mode 0600, atomically (never half a password)."""
    if path.exists() and path.read_text(encoding="utf-8").strip() == password:
        path.chmod(0o600)
        return
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(password + "\n")
    os.replace(temporary, path)


def _declare_as_head_office(cfg: HeadOfficeConfig) -> None:
    try:
        connection, _ = connect(cfg)
    except LinkDown as exc:
        raise ProvisionError(f"the logins are ready but the topology was not declared: {exc}; start the Head Office "
                             "(it declares it too) or run provision again.") from None
    try:
        declare_topology(connection.channel(), cfg, list(cfg.branches))
    except pika.exceptions.AMQPError as exc:
        # Typically queues left by an earlier setup with other arguments (classic, not quorum).
        raise ProvisionError(f"the logins are ready but the broker refused the topology ({describe(exc)}); "
                             f"compare queue_type in {cfg.source} with the queues already on the vhost.") from None
    finally:
        close_quietly(connection)


# ---------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m sync provision`` (besides --config)."""
    parser.add_argument("--vhost", default=DEFAULT_VHOST, help=f"the virtual host to create and use (default {DEFAULT_VHOST})")
    parser.add_argument("--secrets-dir", default=str(DEFAULT_SECRETS_DIR),
                        help=f"where the passwords are kept, outside the repository (default {DEFAULT_SECRETS_DIR})")
    parser.add_argument("--rotate", action="store_true",
                        help="give every login without SYNC_PASSWORD_<LOGIN> a new password (offices need the new files)")
    parser.add_argument("--rabbitmqctl", default="rabbitmqctl", help="the rabbitmqctl program (default: the one on PATH)")
    parser.add_argument("--node", help="the RabbitMQ node to administer, e.g. rabbit@broker (default: rabbitmqctl's own)")
    parser.add_argument("--adopt", action="store_true",
                        help="take over broker users of the offices' names that provision did not create")


def run(cfg: OfficeConfig, args: argparse.Namespace) -> int:
    """Provision for ``cfg`` as the command line asked; prints the report or one sentence.  Returns the exit code."""
    command = (args.rabbitmqctl, *(("-n", args.node) if args.node else ()))
    try:
        result = provision(cfg, args.secrets_dir, vhost=args.vhost, rotate=args.rotate, ctl=Rabbitmqctl(command),
                           adopt=args.adopt)
    except ProvisionError as exc:
        print(f"Provisioning failed: {exc}", file=sys.stderr)
        return exc.exit_code
    print(result.report())
    return 0

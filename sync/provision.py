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
import json
import os
import re
import secrets
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import pika

from config import HeadOfficeConfig, OfficeConfig, redact_url
from sync.broker import Names, close_quietly, connect, declare_topology, describe, queue_policies
from sync.failures import LinkDown

DEFAULT_VHOST = "branch_sync"
DEFAULT_SECRETS_DIR = Path("~/.config/branch-sync/secrets")
REPOSITORY = Path(__file__).resolve().parent.parent
EXIT_CONFIG, EXIT_BROKER = 2, 3  # as bo_app.py: a configuration problem, a broker that cannot be reached
OUR_TAG = "branch-sync"  # marks the users provision created, the only ones it changes
MAX_MESSAGE_BYTES = 8 * 1024 * 1024  # above the largest real message (sync.protocol.limits.MAX_WIRE_BYTES)


class ProvisionError(Exception):
    """Provisioning stopped; the message is one sentence saying why and what to do."""

    def __init__(self, message: str, exit_code: int = EXIT_BROKER):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Grant:
    """RabbitMQ permissions on one virtual host: three regular expressions over resource names."""

    configure: str
    write: str
    read: str


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


def secret_file(secrets_dir: str | os.PathLike, login: str) -> Path:
    """Where ``login``'s password is kept, for that office's ``amqp_password_file``."""
    return Path(secrets_dir).expanduser() / f"amqp-{login}"


def office_url(url: str, login: str, password: str | None, vhost: str) -> str:
    """``url`` (scheme, host, port kept) logging in as ``login`` on ``vhost``; no password if None."""
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    credentials = quote(login, safe="") + (f":{quote(password, safe='')}" if password is not None else "")
    netloc = f"{credentials}@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc, path="/" + quote(vhost, safe=""), query="", fragment="").geturl()


class Rabbitmqctl:
    """rabbitmqctl on the broker's machine; ``command`` may aim it at a node (``-n name``)."""

    def __init__(self, command: tuple[str, ...] = ("rabbitmqctl",), env: dict | None = None, timeout: float = 120):
        self.command, self.env, self.timeout = tuple(command), env, timeout

    def run(self, *args: str, stdin: str | None = None) -> str:
        """Run one command; ProvisionError (one sentence) if it cannot run or fails.

        A command that reads a password from standard input gets nothing but its own
        arguments: from RabbitMQ 3.13 on, the rabbitmqctl script hands standard input
        to ``add_user <login>`` or ``change_password <login>`` only when that is the
        whole command line, and otherwise the command waits for it for ever.  Its node
        then comes from RABBITMQ_NODENAME instead of ``-n``.
        """
        command, env = [*self.command, "-q", *args], self.env
        if stdin is not None:
            command = [self.command[0], *args]
            node = _node_option(self.command[1:])
            if node:
                env = {**(os.environ if env is None else env), "RABBITMQ_NODENAME": node}
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                       start_new_session=True)
        except FileNotFoundError:
            raise ProvisionError(f"{self.command[0]} was not found; run provision on the broker's machine, or pass "
                                 "--rabbitmqctl with its path.") from None
        try:
            stdout, stderr = process.communicate(stdin, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            # The CLI's own VM is a grandchild (the rabbitmqctl scripts run one another): end the
            # whole group, or a hung CLI would keep one of the few ports all CLIs on this machine share.
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise ProvisionError(f"rabbitmqctl {args[0]} got no answer within {self.timeout:.0f}s; is RabbitMQ running?") from None
        done = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
        if done.returncode != 0:
            said = " ".join((done.stderr or done.stdout).split())[:300]
            raise ProvisionError(f"rabbitmqctl {args[0]} failed ({said}); run provision as a user who may administer "
                                 "RabbitMQ (root, or one with its Erlang cookie).")
        return done.stdout

    def _json(self, *args: str) -> list:
        return json.loads(self.run(*args, "--formatter", "json") or "[]")

    def vhosts(self) -> set[str]:
        return {row["name"] for row in self._json("list_vhosts", "name")}

    def users(self) -> dict[str, list[str]]:
        """Every user and its tags."""
        return {row["user"]: list(row.get("tags") or []) for row in self._json("list_users")}

    def permissions(self, vhost: str) -> dict[str, Grant]:
        return {row["user"]: Grant(row["configure"], row["write"], row["read"])
                for row in self._json("list_permissions", "-p", vhost)}

    def add_vhost(self, vhost: str) -> None:
        self.run("add_vhost", vhost)

    def delete_vhost(self, vhost: str) -> None:
        self.run("delete_vhost", vhost)

    def add_user(self, login: str, password: str) -> None:
        self.run("add_user", login, stdin=password + "\n")

    def set_password(self, login: str, password: str) -> None:
        self.run("change_password", login, stdin=password + "\n")

    def set_tags(self, login: str, *tags: str) -> None:
        self.run("set_user_tags", login, *tags)

    def set_connection_limit(self, login: str, connections: int) -> None:
        self.run("set_user_limits", login, json.dumps({"max-connections": connections}))

    def set_policy(self, vhost: str, name: str, pattern: str, definition: dict) -> None:
        self.run("set_policy", "-p", vhost, "--apply-to", "queues", name, pattern, json.dumps(definition))

    def max_message_size(self) -> int | None:
        said = self.run("eval", "application:get_env(rabbit, max_message_size).")
        found = re.search(r"\{ok,\s*(\d+)\}", said)
        return int(found.group(1)) if found else None

    def set_max_message_size(self, size: int) -> None:
        self.run("eval", f"application:set_env(rabbit, max_message_size, {int(size)}).")

    def delete_user(self, login: str) -> None:
        self.run("delete_user", login)

    def set_permissions(self, vhost: str, login: str, grant: Grant) -> None:
        self.run("set_permissions", "-p", vhost, login, grant.configure, grant.write, grant.read)


def _node_option(options: tuple[str, ...]) -> str | None:
    """The node named by ``-n NODE`` or ``--node NODE`` among rabbitmqctl's options."""
    for i, option in enumerate(options):
        if option in ("-n", "--node") and i + 1 < len(options):
            return options[i + 1]
        if option.startswith("--node="):
            return option.split("=", 1)[1]
    return None


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


def provision(cfg: OfficeConfig, secrets_dir: str | os.PathLike = DEFAULT_SECRETS_DIR, *, vhost: str = DEFAULT_VHOST,
              rotate: bool = False, ctl: Rabbitmqctl | None = None, environ: dict | None = None,
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
                             "e.g. --config config/ho.toml.", EXIT_CONFIG)
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
                             "pass --adopt to take that user over (its password and tags are replaced).", EXIT_CONFIG)
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


def deprovision(cfg: OfficeConfig, vhost: str = DEFAULT_VHOST, ctl: Rabbitmqctl | None = None) -> None:
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


def _check(cfg: OfficeConfig, wanted: dict, vhost: str) -> None:
    if cfg.is_branch:
        raise ProvisionError(f"{cfg.source} is a branch's file; run provision with the Head Office's, "
                             "e.g. --config config/ho.toml.", EXIT_CONFIG)
    if not cfg.branches:
        raise ProvisionError(f"{cfg.source} names no branches; add branch files beside it or a 'branches' key.", EXIT_CONFIG)
    if len(wanted) != len(cfg.branches) + 1:
        raise ProvisionError(f"{cfg.source}: the Head Office's code '{cfg.code}' is also a branch code; "
                             "each login must be distinct.", EXIT_CONFIG)
    if not vhost or vhost != vhost.strip():
        raise ProvisionError(f"the virtual host name {vhost!r} is empty or has spaces at its ends.", EXIT_CONFIG)


def _secrets_directory(secrets_dir: str | os.PathLike) -> Path:
    path = Path(secrets_dir).expanduser().resolve()
    if path == REPOSITORY or REPOSITORY in path.parents:
        raise ProvisionError(f"the secrets directory {path} is inside the repository, where a password could be "
                             "committed; pass --secrets-dir outside it.", EXIT_CONFIG)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)
    except OSError as exc:
        raise ProvisionError(f"cannot use the secrets directory {path} ({exc.strerror}); pass another with --secrets-dir.",
                             EXIT_CONFIG) from None
    return path


def _choose_password(login: str, store: Path, rotate: bool, environ) -> tuple[str, str]:
    from_env = environ.get(password_variable(login))
    if from_env:
        if from_env != from_env.strip() or "\n" in from_env:
            raise ProvisionError(f"{password_variable(login)} has spaces or a line break at its ends or inside; "
                                 "set it to the password alone.", EXIT_CONFIG)
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


def _declare_as_head_office(cfg: OfficeConfig) -> None:
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

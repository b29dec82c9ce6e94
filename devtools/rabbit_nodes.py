"""Private RabbitMQ nodes on this machine, for tests that must break or reconfigure a
broker without touching the shared one on 5672.

    with RabbitCluster(size=3) as cluster:      # three nodes, clustered
        urls = cluster.amqp_urls                # one amqp:// URL per node, guest/guest, vhost /
        cluster.nodes[0].kill()                 # kill -9 of that node

    with RabbitNode.started(directory) as node: # one standalone node
        node.ctl("list_users")

Each node has its own name (``bst<n>_<random>@localhost``), AMQP and distribution
ports, data and log directories and Erlang cookie, all under one temporary
directory that is removed at the end.  Nodes run in their own process group and
are killed with it; they also die with the process that started them, so a test
run that is itself killed leaves no broker behind.
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# The Debian wrappers in /usr/sbin switch to the rabbitmq user and its cookie; the
# scripts they wrap run a node as whoever calls them, with our own settings.
RABBIT_BIN = Path(os.environ.get("SYNC_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
BOOT_SECONDS = 90.0
CTL_PORTS = 16  # rabbitmqctl runs at once against one node (provision runs a few side by side)
_PREFIX = "rabbit-nodes-"
_PR_SET_PDEATHSIG = 1


class NodeError(RuntimeError):
    """A private node could not be started, clustered or asked something; says why."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that nobody listens on right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port_range(count: int, low: int = 20000, high: int = 32000) -> int:
    """The first of ``count`` consecutive ports on 127.0.0.1 that nobody listens on right now
    (below Linux's ephemeral range, where outgoing connections take theirs)."""
    for _ in range(200):
        base = random.randrange(low, high - count)
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise NodeError(f"found no {count} free consecutive ports between {low} and {high}.")


def answers(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def die_with_parent() -> None:
    # Runs in the child before exec: the kernel sends SIGKILL when the test process
    # dies, however it dies.  The start scripts exec into the Erlang VM (see
    # RUNNING_UNDER_SYSTEMD below), so the signal reaches the VM itself.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class RabbitNode:
    """One RabbitMQ node of our own: ``start``, ``wait_until_up``, ``ctl``, ``kill``."""

    def __init__(self, home: Path, name: str, amqp_port: int, dist_port: int, cookie: str,
                 bin_dir: Path | None = None, extra_config: str = ""):
        self.home, self.name, self.amqp_port, self.dist_port = home, name, amqp_port, dist_port
        self.bin_dir = bin_dir or RABBIT_BIN  # the folder of rabbitmq-server and rabbitmqctl
        # The ports this node's rabbitmqctl runs listen on.  By default every CLI on the machine
        # shares 35672-35682, so a few hung ones would stop all others, the machine's broker's too.
        self.ctl_ports = free_port_range(CTL_PORTS)
        self.process: subprocess.Popen | None = None
        home.mkdir(parents=True, exist_ok=True)
        cookie_file = home / ".erlang.cookie"
        cookie_file.write_text(cookie, encoding="ascii")
        cookie_file.chmod(0o400)  # Erlang refuses a cookie others can read
        (home / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{amqp_port}\n"
            # The machine's free disk may be below the default limit; a test node
            # must not block publishers for that.
            "disk_free_limit.absolute = 50MB\n"
            "log.file.level = info\n" + extra_config,
            encoding="ascii",
        )
        (home / "enabled_plugins").write_text("[].\n", encoding="ascii")
        (home / "rabbitmq-env.conf").write_text("# empty: this node ignores /etc/rabbitmq\n", encoding="ascii")

    @classmethod
    @contextlib.contextmanager
    def started(cls, directory: Path | None = None) -> Iterator[RabbitNode]:
        """A standalone node, up and answering, killed and removed afterwards."""
        with _scratch(directory) as base:
            amqp, dist = free_ports(2)
            node = cls(base / "n1", f"bst1_{secrets.token_hex(3)}@localhost", amqp, dist, secrets.token_hex(16))
            try:
                node.start()
                node.wait_until_up()
                yield node
            finally:
                node.kill()

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/%2F"

    @property
    def env(self) -> dict[str, str]:
        """The environment for this node and for rabbitmqctl talking to it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_", "NOTIFY_SOCKET"))}
        env.update({
            "HOME": str(self.home),  # where Erlang finds the cookie, for node and CLI alike
            "LC_ALL": "C.UTF-8",
            "RABBITMQ_CONF_ENV_FILE": str(self.home / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.home / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.home / "data"),
            "RABBITMQ_LOG_BASE": str(self.home / "log"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CTL_DIST_PORT_MIN": str(self.ctl_ports),
            "RABBITMQ_CTL_DIST_PORT_MAX": str(self.ctl_ports + CTL_PORTS - 1),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            # Makes rabbitmq-server exec the VM instead of waiting on it as a child,
            # so the VM is our direct child (for die_with_parent) and kill -9 hits it.
            "RUNNING_UNDER_SYSTEMD": "true",
        })
        return env

    @property
    def ctl_command(self) -> tuple[str, ...]:
        """rabbitmqctl aimed at this node (use with ``env``)."""
        return (str(self.bin_dir / "rabbitmqctl"), "-n", self.name)

    def start(self) -> None:
        program = self.bin_dir / "rabbitmq-server"
        if not program.exists():
            raise NodeError(f"{program} is missing; install the rabbitmq-server package (or set SYNC_RABBITMQ_BIN).")
        with open(self.home / "console.log", "ab") as log:  # the node keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [str(program)], env=self.env, cwd=self.home, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent if sys.platform == "linux" else None,
            )

    def wait_until_up(self, timeout: float = BOOT_SECONDS) -> None:
        """Return once the node accepts AMQP connections; NodeError if it dies or takes too long."""
        deadline = time.monotonic() + timeout
        while not answers(self.amqp_port):
            if self.process is None or self.process.poll() is not None:
                raise NodeError(f"RabbitMQ node {self.name} stopped while starting; its log ends with:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise NodeError(f"RabbitMQ node {self.name} did not open port {self.amqp_port} within {timeout:.0f}s; "
                                f"its log ends with:\n{self.log_tail()}")
            time.sleep(0.2)

    def ctl(self, *args: str, timeout: float = 60, stdin: str | None = None) -> str:
        """Run ``rabbitmqctl <args>`` against this node and return its output; NodeError if it fails."""
        try:
            done = subprocess.run([*self.ctl_command, *args], env=self.env, input=stdin, capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise NodeError(f"rabbitmqctl {' '.join(args)} on {self.name} did not finish within {timeout:.0f}s.") from None
        if done.returncode != 0:
            raise NodeError(f"rabbitmqctl {' '.join(args)} on {self.name} failed: {(done.stderr or done.stdout).strip()}")
        return done.stdout

    def ctl_json(self, *args: str, timeout: float = 60):
        return json.loads(self.ctl(*args, "--formatter", "json", timeout=timeout))

    def kill(self) -> None:
        """kill -9 of the node and everything it started (idempotent)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        logs = sorted((self.home / "log").glob("*.log")) + [self.home / "console.log"]
        text = "".join(p.read_text(errors="replace") for p in logs if p.exists())
        return "\n".join(text.splitlines()[-lines:])


class RabbitCluster:
    """``size`` private nodes clustered together; a context manager that always cleans up."""

    def __init__(self, size: int = 3, directory: Path | None = None):
        self.size = size
        self._directory = directory
        self._scratch: contextlib.ExitStack | None = None
        self.nodes: list[RabbitNode] = []

    def __enter__(self) -> RabbitCluster:
        self._scratch = contextlib.ExitStack()
        base = self._scratch.enter_context(_scratch(self._directory))
        tag, cookie = secrets.token_hex(3), secrets.token_hex(16)
        ports = free_ports(2 * self.size)
        self.nodes = [
            RabbitNode(base / f"n{i + 1}", f"bst{i + 1}_{tag}@localhost", ports[2 * i], ports[2 * i + 1], cookie)
            for i in range(self.size)
        ]
        try:
            for node in self.nodes:  # all boot at once: booting is most of the wait
                node.start()
            with ThreadPoolExecutor(self.size) as pool:
                list(pool.map(lambda n: n.wait_until_up(), self.nodes))
            seed = self.nodes[0]
            for node in self.nodes[1:]:
                # One at a time: joins serialise on the seed's schema anyway.
                node.ctl("stop_app")
                node.ctl("join_cluster", seed.name)
                node.ctl("start_app")
            self._check_formed()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        for node in self.nodes:
            node.kill()
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None

    def _check_formed(self) -> None:
        wanted = {n.name for n in self.nodes}
        running = set(self.nodes[0].ctl_json("cluster_status").get("running_nodes", []))
        if running != wanted:
            raise NodeError(f"the private cluster formed with {sorted(running)} instead of {sorted(wanted)}.")

    @property
    def amqp_urls(self) -> list[str]:
        return [n.amqp_url for n in self.nodes]

    def alive(self) -> RabbitNode:
        """A node that is still running, for questions about the cluster."""
        return next(n for n in self.nodes if n.running)

    def queue_members(self, vhost: str = "/") -> dict[str, set[str]]:
        """Each queue's name and the nodes holding a replica (quorum queues)."""
        rows = self.alive().ctl_json("list_queues", "-p", vhost, "name", "members")
        return {row["name"]: set(row.get("members") or []) for row in rows}

    def connections_on(self, node: RabbitNode) -> int:
        """How many client connections ``node`` serves right now (the cluster lists them all;
        a connection belongs to the node whose AMQP port it reached)."""
        rows = self.alive().ctl_json("list_connections", "port")
        return sum(1 for row in rows if row.get("port") == node.amqp_port)


@contextlib.contextmanager
def _scratch(directory: Path | None) -> Iterator[Path]:
    """A fresh directory for node data, removed afterwards.

    A run killed outright cannot remove its own (its nodes die with it), so each
    directory names its owner's pid and the next run removes those whose owner is gone.
    """
    _remove_orphans(Path(directory or tempfile.gettempdir()))
    path = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=directory))
    (path / "owner.pid").write_text(str(os.getpid()), encoding="ascii")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _remove_orphans(parent: Path) -> None:
    for path in parent.glob(f"{_PREFIX}*"):
        try:
            os.kill(int((path / "owner.pid").read_text()), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (OSError, ValueError):
            continue  # being created, or not ours to judge

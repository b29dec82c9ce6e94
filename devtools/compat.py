"""``make compat``: the delivery, fault, provision and TLS tests against the releases
companies run today, RabbitMQ 4.0 and MariaDB 11.8, as Debian 13 (trixie) packages them.

    python -m devtools.compat                 # the default selection (COMPAT_TESTS below)
    python -m devtools.compat tests/test_tls.py -k client

1. A trixie root file system (debootstrap minbase, then rabbitmq-server and
   mariadb-server with apt) in build/compat/rootfs.  It is kept there between runs,
   and as a tarball in the cache folder (COMPAT_CACHE, default
   /var/cache/branch-sync-compat) so that a new clone on the same machine does not
   download it again.
2. MariaDB and RabbitMQ started from that root as our own processes: ports that are
   free now (never 3306 or 5672), their own data in a scratch folder under /tmp,
   their own node name and Erlang cookie.  Each runs chrooted in a private mount
   namespace (the machine's /proc, this run's scratch folder at the same path inside),
   and dies with this driver however it ends; the
   machine's own MariaDB, RabbitMQ and their files are never touched.  The node
   registers its name with the machine's epmd, as the private test nodes do.
3. pytest on the selected tests, with SYNC_TEST_DB_ROOT, SYNC_TEST_AMQP and
   SYNC_TEST_RABBITMQCTL aimed at those servers, and SYNC_RABBITMQ_BIN at the trixie
   RabbitMQ for the tests that start private nodes (provision).
4. Both servers stopped; exit with pytest's code.

The RabbitMQ node refuses every deprecated feature (``deprecated_features.permit.*
= false``), so a test that relied on one fails.  MariaDB runs with its own defaults
plus the sql_mode flags MySQL 8 has by default and MariaDB lacks (ONLY_FULL_GROUP_BY,
NO_ZERO_IN_DATE, NO_ZERO_DATE), so the SQL is held to both.

Needs root (debootstrap, chroot, unshare), debootstrap and zstd.  Every problem is
one sentence on stderr and exit 1.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devtools.rabbit_nodes import NodeError, RabbitNode, answers, die_with_parent, free_ports

ROOT = Path(__file__).resolve().parent.parent
AREA = ROOT / "build" / "compat"
ROOTFS = AREA / "rootfs"
BIN = AREA / "bin"
SUITE = "trixie"
PACKAGES = ("rabbitmq-server", "mariadb-server")
MIRROR = os.environ.get("COMPAT_MIRROR", "http://deb.debian.org/debian")
CACHE = Path(os.environ.get("COMPAT_CACHE", "/var/cache/branch-sync-compat"))
# Change RECIPE whenever the root is made differently: the cached tarball's name changes with it.
RECIPE = "1: minbase, apt --no-install-recommends, apt lists and docs removed"
STAMP = "etc/branch-sync-compat"  # in the root: the recipe key and the versions installed
COMPAT_TESTS = ["tests/test_delivery.py", "tests/test_capture.py", "tests/test_faults.py", "tests/test_provision.py",
                "tests/test_tls.py", "tests/test_head_office.py", "tests/test_histories.py", "tests/test_sql_portability.py",
                # day close, alerts and the catalogue with its kills and the branch's kept messages
                "tests/test_day_close.py", "tests/test_alerts.py", "tests/test_catalogue.py",
                "tests/test_catalogue_kills.py", "tests/test_parked_at_branch.py"]
# MariaDB's defaults plus MySQL 8's: the statements must pass both.
SQL_MODE = ("ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
            "NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION")
# The deprecated features of RabbitMQ 4.0 (`rabbitmqctl list_deprecated_features`), all refused.
DEPRECATED = ("amqp_address_v1", "global_qos", "queue_master_locator", "ram_node_type", "transient_nonexcl_queues")
IN_ROOT = """#!/bin/sh
# Runs a program of the trixie root: chrooted, in a private mount namespace where the
# root's /proc is the machine's (Erlang and MariaDB read it) and this run's scratch
# folder {shared} is at the same path as outside.  Nothing leaks to the machine's mounts.
exec unshare --mount --propagation private -- sh -c \\
  'mount --bind /proc "$0/proc" && mkdir -p "$0$1" && mount --bind "$1" "$0$1" && shift && exec chroot "$0" "$@"' \\
  {root} {shared} "$@"
"""
SCRATCH_PREFIX = "branch-sync-compat-"


class CompatError(Exception):
    """Why make compat cannot go on, in one sentence."""


def say(message: str) -> None:
    print(f"compat: {message}", flush=True)


def run(*args: str, what: str, timeout: float = 1800, **kw) -> subprocess.CompletedProcess:
    """Run a command; CompatError naming ``what`` (and the last line it printed) if it fails."""
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)
    except FileNotFoundError:
        raise CompatError(f"{what} failed: {args[0]} is not installed.") from None
    except subprocess.TimeoutExpired:
        raise CompatError(f"{what} did not finish within {timeout:.0f}s.") from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}").splitlines()[-1]
        raise CompatError(f"{what} failed ({said}).")
    return done


# ---------------------------------------------------------------- the root file system
def recipe_key() -> str:
    return hashlib.sha256(f"{SUITE} {' '.join(PACKAGES)} {RECIPE}".encode()).hexdigest()[:12]


def tarball() -> Path:
    return CACHE / f"{SUITE}-{recipe_key()}.tar.zst"


def root_is_ready() -> bool:
    stamp = ROOTFS / STAMP
    return stamp.is_file() and stamp.read_text(encoding="utf-8").startswith(recipe_key())


def prepare_root() -> str:
    """Make build/compat/rootfs hold the current recipe's root; says how ("kept", "restored", "made")."""
    if root_is_ready():
        return "kept from the last run"
    for tool, package in (("debootstrap", "debootstrap"), ("zstd", "zstd"), ("unshare", "util-linux"), ("chroot", "coreutils")):
        if not shutil.which(tool):
            raise CompatError(f"{tool} is missing; install it with `apt-get install -y {package}` (.ci/run does).")
    fresh = AREA / "rootfs.new"
    remove_tree(fresh)
    fresh.mkdir(parents=True)
    if tarball().is_file():
        run("tar", "-I", "zstd -T0", "--numeric-owner", "-xpf", str(tarball()), "-C", str(fresh),
            what=f"unpacking {tarball()}")
        how = f"restored from {tarball()}"
    else:
        bootstrap(fresh)
        how = f"made with debootstrap from {MIRROR}"
        save_to_cache(fresh)
    remove_tree(ROOTFS)
    fresh.rename(ROOTFS)
    return how


def bootstrap(target: Path) -> None:
    say(f"debootstrap {SUITE} (minbase) into {target.relative_to(ROOT)}; a few minutes, once per machine")
    run("debootstrap", "--variant=minbase", SUITE, str(target), MIRROR, what=f"debootstrap {SUITE}")
    # Packages must not start their daemons in the root as they install (exit 101: "not allowed").
    policy = target / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n", encoding="ascii")
    policy.chmod(0o755)
    say(f"installing {', '.join(PACKAGES)} in the root")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8"}
    run("chroot", str(target), "sh", "-c",
        f"apt-get update -qq && apt-get install -y -qq --no-install-recommends {' '.join(PACKAGES)} && apt-get clean",
        env=env, what=f"installing {' '.join(PACKAGES)} in the {SUITE} root")
    for folder in ("var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
        for item in (target / folder).iterdir():
            remove_tree(item)
    versions = run("chroot", str(target), "dpkg-query", "-W", *PACKAGES, "erlang-base", env=env,
                   what="reading the installed versions").stdout
    (target / STAMP).write_text(f"{recipe_key()}\n{versions}", encoding="utf-8")


def save_to_cache(root: Path) -> None:
    """Keep the root as a tarball for the next run on this machine; a failure only costs a download next time."""
    partial = tarball().with_suffix(f".part{os.getpid()}")
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        run("tar", "-I", "zstd -T0 -3", "--numeric-owner", "-cpf", str(partial), "-C", str(root), ".",
            what=f"saving the root to {CACHE}")
        partial.rename(tarball())
        for old in CACHE.glob(f"{SUITE}-*.tar.zst"):  # earlier recipes
            if old != tarball():
                old.unlink()
        say(f"saved the root to {tarball()} for the next run")
    except (OSError, CompatError) as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        say(f"could not keep the root in {CACHE} ({exc}); the next run downloads it again")


def remove_tree(path: Path) -> None:
    """rm -rf that never follows a symbolic link."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """This run's folder for the servers' data and the tests' temporary files, outside
    the checkout (provision refuses secrets inside it) and shared with the root."""
    parent = Path(tempfile.gettempdir())
    for old in parent.glob(f"{SCRATCH_PREFIX}*"):  # a run killed outright cannot clean up
        try:
            os.kill(int((old / "owner.pid").read_text()), 0)
        except ProcessLookupError:
            remove_tree(old)
        except (OSError, ValueError):
            continue
    for mount_point in (ROOTFS / parent.relative_to("/")).glob(f"{SCRATCH_PREFIX}*"):
        with contextlib.suppress(OSError):
            mount_point.rmdir()
    path = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    (path / "owner.pid").write_text(str(os.getpid()), encoding="ascii")
    (path / "tmp").mkdir()
    try:
        yield path
    finally:
        remove_tree(path)
        with contextlib.suppress(OSError):
            (ROOTFS / path.relative_to("/")).rmdir()


def write_wrappers(shared: Path) -> None:
    """build/compat/bin: in-root, and rabbitmq-server / rabbitmqctl of the root (for SYNC_RABBITMQ_BIN)."""
    BIN.mkdir(parents=True, exist_ok=True)
    scripts = {"in-root": IN_ROOT.format(root=shlex.quote(str(ROOTFS)), shared=shlex.quote(str(shared)))}
    for program in ("rabbitmq-server", "rabbitmqctl", "rabbitmq-diagnostics", "rabbitmq-plugins"):
        scripts[program] = f'#!/bin/sh\nexec {BIN / "in-root"} /usr/lib/rabbitmq/bin/{program} "$@"\n'
    for name, text in scripts.items():
        (BIN / name).write_text(text, encoding="ascii")
        (BIN / name).chmod(0o755)


# ---------------------------------------------------------------- the servers
@dataclass
class MariaDB:
    """A MariaDB server of the root, on its own port and data folder."""

    home: Path
    port: int
    password: str
    process: subprocess.Popen | None = None
    version: str = ""

    @property
    def url(self) -> str:
        """What tests use as SYNC_TEST_DB_ROOT: a login with a password, as a company's would be."""
        return f"mysql+pymysql://branch_sync:{self.password}@127.0.0.1:{self.port}"

    def start(self) -> None:
        data = self.home / "data"
        data.mkdir(parents=True)
        run(str(BIN / "in-root"), "/usr/bin/mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
            "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
            what="mariadb-install-db in the root", timeout=300)
        log = self.home / "mariadb.log"
        self.process = subprocess.Popen(
            [str(BIN / "in-root"), "/usr/sbin/mariadbd", "--no-defaults", f"--datadir={data}", "--user=root",
             f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.home / 'mariadb.sock'}",
             f"--pid-file={self.home / 'mariadb.pid'}", f"--log-error={log}", "--skip-name-resolve",
             f"--sql-mode={SQL_MODE}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + 120
        while not answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else ["no log"]
                raise CompatError(f"MariaDB in the root did not start on port {self.port} ({tail[0]}).")
            time.sleep(0.2)
        self._add_login()

    def _add_login(self) -> None:
        import pymysql

        connection = pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="")
        try:
            with connection.cursor() as cursor:
                # ed25519, the plugin MariaDB recommends for passwords (PyMySQL needs PyNaCl for it).
                cursor.execute("INSTALL SONAME 'auth_ed25519'")
                cursor.execute("CREATE USER 'branch_sync'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD(%s)",
                               (self.password,))
                cursor.execute("GRANT ALL PRIVILEGES ON *.* TO 'branch_sync'@'127.0.0.1' WITH GRANT OPTION")
                cursor.execute("SELECT VERSION()")
                self.version = cursor.fetchone()[0]
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # a clean shutdown
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def ctl_script(node: RabbitNode, path: Path) -> Path:
    """A rabbitmqctl command aimed at ``node`` with its cookie (SYNC_TEST_RABBITMQCTL)."""
    own = {k: v for k, v in node.env.items() if k.startswith(("RABBITMQ_", "ERL_")) or k in ("HOME", "LC_ALL")}
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(own.items()))
    path.write_text(f"#!/bin/sh\n{exports}exec {shlex.join(node.ctl_command)} \"$@\"\n", encoding="utf-8")
    path.chmod(0o755)
    return path


@contextlib.contextmanager
def servers(home: Path) -> Iterator[tuple[MariaDB, RabbitNode, Path]]:
    """MariaDB and RabbitMQ of the root with their data in ``home``, up and answering; stopped afterwards."""
    db_port, amqp_port, dist_port = free_ports(3)
    database = MariaDB(home / "mariadb", db_port, secrets.token_hex(12))
    extra = "".join(f"deprecated_features.permit.{feature} = false\n" for feature in DEPRECATED)
    node = RabbitNode(home / "rabbit", f"compat_{secrets.token_hex(3)}@localhost", amqp_port, dist_port,
                      secrets.token_hex(16), bin_dir=BIN, extra_config=extra)
    try:
        node.start()  # boots while MariaDB starts
        database.start()
        try:
            node.wait_until_up()
        except NodeError as exc:
            raise CompatError(str(exc).splitlines()[0]) from None
        yield database, node, ctl_script(node, home / "rabbitmqctl")
    finally:
        node.kill()
        database.stop()


# ---------------------------------------------------------------- the run
def main(argv: list[str] | None = None) -> int:
    tests = list(sys.argv[1:] if argv is None else argv) or COMPAT_TESTS
    started = time.monotonic()
    try:
        if os.geteuid() != 0:
            raise CompatError("make compat needs root (debootstrap, chroot and mount namespaces); run it as root, as CI does.")
        AREA.mkdir(parents=True, exist_ok=True)
        how = prepare_root()
        versions = (ROOTFS / STAMP).read_text(encoding="utf-8").split("\n", 1)[1].strip().splitlines()
        say(f"{SUITE} root {how} ({', '.join(' '.join(v.split()) for v in versions)}), "
            f"ready after {time.monotonic() - started:.0f}s")
        with scratch() as shared:
            write_wrappers(shared)
            try:
                code = run_tests(shared, tests)
            finally:
                strays = end_strays(shared)
                if strays:
                    say(f"ended {len(strays)} process(es) the tests left running in the root")
    except (CompatError, NodeError) as exc:
        print(f"compat: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("compat: interrupted; the servers were stopped.", file=sys.stderr)
        return 130
    say(f"{'passed' if code == 0 else 'FAILED'} in {time.monotonic() - started:.0f}s")
    return code


def end_strays(shared: Path) -> list[int]:
    """Kill what still runs in the root for this run (a CLI a test gave up on, say); their pids.

    A rabbitmqctl left waiting would keep one of the few ports that every RabbitMQ CLI
    on this machine shares, the machine's own broker's included.
    """
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if os.readlink(entry / "root") != str(ROOTFS):
                continue
            seen = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue  # gone already, or not ours to read
        if str(shared).encode() in seen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
    return killed


def run_tests(shared: Path, tests: list[str]) -> int:
    """Start the servers, run pytest on ``tests`` against them, stop them; pytest's exit code."""
    with servers(shared) as (database, node, rabbitmqctl):
        broker = node.ctl("version").strip()
        say(f"MariaDB {database.version} on 127.0.0.1:{database.port}, RabbitMQ {broker} on 127.0.0.1:{node.amqp_port}")
        env = {
            **os.environ,
            "SYNC_TEST_DB_ROOT": database.url,
            "SYNC_TEST_AMQP": node.amqp_url,
            "SYNC_TEST_RABBITMQCTL": str(rabbitmqctl),
            "SYNC_RABBITMQ_BIN": str(BIN),
            "TMPDIR": str(shared / "tmp"),  # private nodes of the provision tests keep their data there
        }
        code = subprocess.call([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *tests], cwd=ROOT, env=env)
        used = [row["name"] for row in node.ctl_json("list_deprecated_features", "--used")]
        if used:
            say(f"the tests used deprecated RabbitMQ features: {', '.join(used)}")
            code = code or 1
    return code


if __name__ == "__main__":
    sys.exit(main())

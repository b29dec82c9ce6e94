"""Installed like real software: the checkout builds a wheel, a fresh venv installs it,
and the console commands it brings run the same code as the checkout's programs,
against the test services.  The systemd units in deploy/ verify, and the command
lines they run work with the installed programs."""
from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sync.version import __version__
from tests.harness import ROOT, Offices, assert_converged, head_office_rows, insert_sales, outbox_states, wait_for

COMMANDS = ("branch-sync", "branch-sync-branch", "branch-sync-head-office")
UNITS = ROOT / "deploy"
# What the wheel carries: the programs and the packages of the code map, nothing of the checkout's tooling.
PACKAGES = {"sync", "models", "config", "gui"}


def run(*args, env: dict | None = None, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env=env, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin folder of a new venv into which the checkout's wheel was installed."""
    base = tmp_path_factory.mktemp("install")
    # Build from a copy, so that setuptools' build folders never land in the checkout.
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "tmp", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "docs", "bench", "tests"))
    wheels = base / "wheels"
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", wheels, source, cwd=base)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob("branch_sync-*.whl")
    venv = base / "venv"
    made = run(sys.executable, "-m", "venv", venv, cwd=base)
    assert made.returncode == 0, made.stderr
    done = run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel, cwd=base)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv / "bin"


def clean_env(**extra: str) -> dict:
    """The environment of a person's shell: no test settings, nothing pointing at the checkout."""
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("SYNC_", "PYTHON", "BRANCH_SYNC_", "VIRTUAL_ENV")) and k != "PATH"}
    return {**keep, "PATH": "/usr/local/bin:/usr/bin:/bin", **extra}


def test_the_wheel_installs_the_three_commands_each_with_the_version(installed, tmp_path):
    for command in COMMANDS:
        shown = run(installed / command, "--version", env=clean_env(), cwd=tmp_path)
        assert (shown.returncode, shown.stdout.strip()) == (0, f"{command} {__version__}"), shown.stderr
    where = run(installed / "python", "-c", "import sync, bo_app; print(sync.__file__); print(bo_app.__file__)",
                env=clean_env(), cwd=tmp_path)
    assert all("site-packages" in line for line in where.stdout.split()), where.stdout
    top_level = run(installed / "python", "-c",
                    "import importlib.metadata as m; print(m.distribution('branch-sync').read_text('top_level.txt'))",
                    env=clean_env(), cwd=tmp_path)
    assert set(top_level.stdout.split()) == PACKAGES | {"bo_app", "ho_app"}


def test_the_installed_commands_create_the_databases_and_report_status_against_the_services(installed, tmp_path):
    offices = Offices(tmp_path, branches=1)  # databases not created yet: init-db does it
    try:
        for code in ("ho", "bo1"):
            made = run(installed / "branch-sync", "init-db", "--config", offices.paths[code], env=clean_env(), cwd=tmp_path)
            assert made.returncode == 0 and "database ready" in made.stdout, made.stdout + made.stderr
        insert_sales(offices.engine("bo1"), 3)
        status = run(installed / "branch-sync", "status", "--config", offices.paths["bo1"], env=clean_env(), cwd=tmp_path)
        assert status.returncode == 0 and "pending 3, sent 0, applied 0" in status.stdout, status.stdout + status.stderr
        # Without --config, the installed command reads this machine's office file.
        etc = tmp_path / "etc-branch-sync"
        etc.mkdir()
        shutil.copy(offices.paths["bo1"], etc / "branch.toml")
        status = run(installed / "branch-sync", "status", env=clean_env(BRANCH_SYNC_CONFIG_DIR=str(etc)), cwd=tmp_path)
        assert status.returncode == 0 and "pending 3" in status.stdout, status.stdout + status.stderr
    finally:
        offices.cleanup()


def test_an_installed_command_without_its_configuration_file_says_so_in_one_sentence(installed, tmp_path):
    for command in COMMANDS:
        args = ["status"] if command == "branch-sync" else []
        done = run(installed / command, *args, env=clean_env(BRANCH_SYNC_CONFIG_DIR=str(tmp_path / "nowhere")), cwd=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "no such configuration file" in done.stderr and str(tmp_path / "nowhere") in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_the_example_configuration_files_of_deploy_load_with_the_passwords_of_their_environment_files(tmp_path):
    from config import load_office

    ca = tmp_path / "ca.pem"
    ca.write_text("a CA certificate\n")
    env = {"SYNC_DB_PASSWORD": "db-secret", "SYNC_AMQP_PASSWORD": "amqp-secret", "SYNC_AMQP_CA_FILE": str(ca)}
    ho = load_office(UNITS / "head-office.toml", environ=env)
    branch = load_office(UNITS / "branch.toml", environ=env)
    assert (ho.role, branch.role, branch.declare_topology, ho.require_branch_login) == ("head_office", "branch", False, True)
    assert branch.code in ho.branches and all("amqp-secret" in u for u in (*ho.amqp_urls, *branch.amqp_urls))


# ---------------------------------------------------------------- systemd
def unit_files() -> list[Path]:
    return sorted(p for p in UNITS.iterdir() if p.suffix in (".service", ".timer"))


def render(unit: Path, into: Path, bin_dir: Path, configs: dict[str, Path] | None = None) -> Path:
    """The unit as it would be installed on this machine: the programs of ``bin_dir``
    instead of /opt/branch-sync/bin, and the given files instead of /etc/branch-sync's."""
    text = unit.read_text(encoding="utf-8").replace("/opt/branch-sync/bin/", f"{bin_dir}/")
    for name, path in (configs or {}).items():
        text = text.replace(f"/etc/branch-sync/{name}", str(path))
    target = into / unit.name
    target.write_text(text, encoding="utf-8")
    return target


def service_section(unit: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(unit, encoding="utf-8")
    return parser["Service"]


def test_the_systemd_units_verify_against_the_installed_programs(installed, tmp_path):
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing; install the systemd package"
    units = unit_files()
    assert {u.name for u in units} >= {"branch-sync-head-office.service", "branch-sync-branch.service",
                                       "branch-sync-branch-once.service", "branch-sync-branch-once.timer"}
    rendered = [render(u, tmp_path, installed) for u in units]
    verified = run("systemd-analyze", "verify", *rendered, cwd=tmp_path, timeout=120)
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stdout + verified.stderr
    for unit in rendered:
        if unit.suffix != ".service":
            continue
        service = service_section(unit)
        assert service["User"] == "branch-sync" and service["EnvironmentFile"].startswith("/etc/branch-sync/")
        assert service["StandardOutput"] == service["StandardError"] == "journal"
        if service["Type"] != "oneshot":
            assert (service["KillSignal"], service["Restart"]) == ("SIGTERM", "on-failure")


def test_the_command_lines_of_the_units_run_the_offices_and_stop_cleanly(installed, offices, tmp_path):
    configs = {"head-office.toml": offices.paths["ho"], "branch.toml": offices.paths["bo1"]}
    command = {u.name: shlex.split(service_section(render(u, tmp_path, installed, configs))["ExecStart"])
               for u in unit_files() if u.suffix == ".service"}
    insert_sales(offices.engine("bo1"), 40)
    env = clean_env()
    consumer = subprocess.Popen(command["branch-sync-head-office.service"], env=env, cwd=tmp_path, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        once = run(*command["branch-sync-branch-once.service"], env=env, cwd=tmp_path, timeout=120)
        assert once.returncode == 0 and "sent 40 change(s)" in once.stdout, once.stdout + once.stderr
        wait_for(lambda: len(head_office_rows(offices.engine("ho"))) == 40, 60, "the Head Office to apply the pass")
        insert_sales(offices.engine("bo1"), 10, start=100)
        agent = subprocess.Popen(command["branch-sync-branch.service"], env=env, cwd=tmp_path, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            assert_converged(offices)
        finally:
            agent.terminate()
            out, _ = agent.communicate(timeout=30)
        assert agent.returncode == 0 and "Traceback" not in out, out
    finally:
        consumer.terminate()
        out, _ = consumer.communicate(timeout=30)
    assert consumer.returncode == 0 and "Traceback" not in out, out
    assert outbox_states(offices.engine("bo1")) == {2: 50}

"""Make sure MySQL/MariaDB and RabbitMQ answer at the configured URLs.

Order of attempts: the URLs in config/ho.toml (or SYNC_DB_URL / SYNC_AMQP_URL);
if one does not answer, start the local daemon when it is installed on this
machine; otherwise ``docker compose up -d`` with docker-compose.yml where Docker
runs.  Exits 1 with a sentence saying what to do when nothing works.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from config import ConfigError, load_office

ROOT = Path(__file__).resolve().parent.parent
# How this project's development machines start their own daemons (Debian packages).
LOCAL_START = {
    "database": ("/usr/sbin/mariadbd", ["start-stop-daemon", "--start", "--oknodo", "--background",
                                        "--exec", "/usr/sbin/mariadbd", "--", "--user=mysql"]),
    "broker": ("/usr/sbin/rabbitmq-server", ["rabbitmq-server", "-detached"]),
}


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _wait(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _answers(host, port):
            return True
        time.sleep(1)
    return False


def _docker_works() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def main() -> int:
    try:
        ho = load_office(ROOT / "config" / "ho.toml")
    except ConfigError as exc:
        print(f"services: {exc}", file=sys.stderr)
        return 1
    db, amqp = urlsplit(ho.db_url), urlsplit(ho.amqp_urls[0])
    wanted = {"database": (db.hostname, db.port or 3306), "broker": (amqp.hostname, amqp.port or 5672)}
    down = [name for name, (host, port) in wanted.items() if not _answers(host, port)]
    for name in list(down):
        host, port = wanted[name]
        program, command = LOCAL_START[name]
        if host.startswith("127.") and Path(program).exists():
            print(f"services: the {name} at {host}:{port} does not answer; starting the local one ({program})")
            subprocess.run(command, capture_output=True)
            if _wait(host, port, 60):
                down.remove(name)
    if down and _docker_works():
        print(f"services: {', '.join(down)} not answering; running docker compose up -d")
        subprocess.run(["docker", "compose", "up", "-d"], cwd=ROOT, check=False)
        down = [name for name in down if not _wait(*wanted[name], 120)]
    if down:
        for name in down:
            host, port = wanted[name]
            print(f"services: the {name} does not answer at {host}:{port}. Start it, or install Docker and run "
                  "`docker compose up -d`, then try again.", file=sys.stderr)
        return 1
    if not _broker_accepts_logins(ho.amqp_urls[0], 60):
        return 1
    print(f"services: database at {db.hostname}:{db.port or 3306} and broker at {amqp.hostname}:{amqp.port or 5672} answer.")
    return 0


def _broker_accepts_logins(url: str, seconds: float) -> bool:
    """RabbitMQ accepts TCP before it accepts AMQP; wait until a real connection works."""
    import pika

    deadline = time.monotonic() + seconds
    while True:
        try:
            pika.BlockingConnection(pika.URLParameters(url)).close()
            return True
        except Exception as exc:  # noqa: BLE001 - any failure here means "not yet"
            if time.monotonic() > deadline:
                print(f"services: the broker accepts connections but not AMQP logins ({exc!r}).", file=sys.stderr)
                return False
            time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())

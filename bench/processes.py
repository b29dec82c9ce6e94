"""Head Office consumers and branch agents as child processes.

Each office runs in its own process, as in production, so that no two share a
GIL and peak RSS can be read per program.  Their output is read by a thread,
kept for error messages, and watched for the lines that say they are ready.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def child_env(amqp_url: str | None = None) -> dict:
    """The environment for an office process: no stray SYNC_* overrides, the project importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNC_")}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if amqp_url:
        env["SYNC_AMQP_URL"] = amqp_url
    return env


class Child:
    """A running office process whose output is collected line by line."""

    def __init__(self, args: list[str], what: str, amqp_url: str | None = None, stdin: bool = False,
                 env: dict | None = None):
        self.what = what
        self.process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env={**child_env(amqp_url), **(env or {})}, text=True, bufsize=1,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self.lines: deque[str] = deque(maxlen=2000)
        self._seen = threading.Condition()
        threading.Thread(target=self._read, daemon=True, name=f"read-{what}").start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def wait_for_line(self, needle: str, timeout: float = 60) -> None:
        """Block until a line containing ``needle`` was printed; fail if the process ends first."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while not any(needle in line for line in self.lines):
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.what} ended (exit {self.process.returncode}) before saying {needle!r}:\n{self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"{self.what} did not say {needle!r} within {timeout:.0f}s:\n{self.tail()}")
                self._seen.wait(min(left, 0.2))

    def tail(self, lines: int = 15) -> str:
        return "\n".join(list(self.lines)[-lines:])

    def send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def peak_rss_mb(self) -> float:
        """The process's peak resident set size so far (VmHWM), in MB."""
        with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError(f"/proc/{self.pid}/status has no VmHWM line")

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far."""
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, then SIGKILL if it does not end in ``timeout`` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def head_offices(config: Path, count: int = 1) -> list[Child]:
    """``count`` processes of ``ho_app.py --headless`` on one Head Office, returned once all are online."""
    children = [Child([str(ROOT / "ho_app.py"), "--config", str(config), "--headless"], f"head office consumer {k + 1}")
                for k in range(count)]
    try:
        for child in children:
            child.wait_for_line("consumer online")
    except BaseException:
        for child in children:
            child.stop()
        raise
    return children


def head_office(config: Path) -> Child:
    """``ho_app.py --headless``, returned once its consumer is online."""
    return head_offices(config)[0]


def branch_program(config: Path, amqp_url: str | None = None) -> Child:
    """``bo_app.py --headless``: the real branch agent program, started at once."""
    return Child([str(ROOT / "bo_app.py"), "--config", str(config), "--headless"], f"branch agent {config.stem}", amqp_url)


class AgentGroup:
    """Branch agents (``bench.agents``) in one or more processes, started together on ``go``.

    The processes import and build their relays first and then wait, so that a
    timed drain starts when the relays start, not when Python does.
    """

    def __init__(self, configs: list[Path], processes: int = 1, amqp_url: str | None = None):
        shares = [configs[i::processes] for i in range(min(processes, len(configs)))]
        self.children = [
            Child(["-m", "bench.agents", *[str(c) for c in share]], f"branch agents {share[0].stem}..", amqp_url, stdin=True)
            for share in shares
        ]
        try:
            for child in self.children:
                child.wait_for_line("agents ready")
        except BaseException:
            self.stop()
            raise

    def go(self) -> float:
        """Start every relay; returns the wall-clock time it was given."""
        started = time.time()
        for child in self.children:
            child.send("go")
        return started

    def wait_online(self, relays: int, timeout: float = 60) -> None:
        """Wait until ``relays`` relays have reported their link online."""
        deadline = time.monotonic() + timeout
        while len(self.online_times()) < relays:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(self.online_times())} of {relays} branch agents came online")
            time.sleep(0.02)

    def online_times(self) -> list[float]:
        """When each relay reported its link online (Unix time), as far as reported yet."""
        times = []
        for child in self.children:
            for line in list(child.lines):
                parts = line.split()
                if len(parts) == 3 and parts[0] == "online":
                    times.append(float(parts[2]))
        return times

    def stop(self) -> None:
        for child in self.children:
            child.stop()

    def __enter__(self) -> AgentGroup:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

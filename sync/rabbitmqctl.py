"""rabbitmqctl on the broker's machine: what provision asks of it, one sentence when it fails."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from typing import Any

from sync.failures import ExitCode


class ProvisionError(Exception):
    """Provisioning stopped; the message is one sentence saying why and what to do."""

    def __init__(self, message: str, exit_code: int = ExitCode.BROKER):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Grant:
    """RabbitMQ permissions on one virtual host: three regular expressions over resource names."""

    configure: str
    write: str
    read: str


class Rabbitmqctl:
    """rabbitmqctl on the broker's machine; ``command`` may aim it at a node (``-n name``)."""

    def __init__(self, command: tuple[str, ...] = ("rabbitmqctl",), env: dict[str, str] | None = None, timeout: float = 120):
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

    def _json(self, *args: str) -> list[Any]:
        parsed: list[Any] = json.loads(self.run(*args, "--formatter", "json") or "[]")
        return parsed

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

    def set_policy(self, vhost: str, name: str, pattern: str, definition: dict[str, Any]) -> None:
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

"""Branch identities and least privilege: each branch logs in as itself, may publish its
changes and read its own receipts, and nothing else; the Head Office accepts a
branch's changes only from that branch's login; passwords are never shown.

The users live on a private RabbitMQ node (logins such as bo1 are broker-wide, so
they must not collide with anyone else's on the shared broker); every test gets
its own virtual host, removed afterwards."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pika
import pytest

from devtools.rabbit_nodes import RabbitNode
from sync import events, protocol
from sync.broker import INTAKE_KEY, Names, declare_topology
from sync.intake import IntakeConsumer
from sync.provision import (
    REPOSITORY,
    ProvisionError,
    Rabbitmqctl,
    add_arguments,
    deprovision,
    office_url,
    provision,
    run,
    secret_file,
)
from sync.relay import OutboxRelay
from tests.harness import (
    ROOT,
    assert_converged,
    changes_body,
    dead_letter_records,
    dead_letters,
    finish,
    head_office_rows,
    insert_sales,
    publish_raw,
    running,
    spawn,
    upsert,
    wait_for,
)

ACCESS_REFUSED, PRECONDITION_FAILED = 403, 406


@pytest.fixture(scope="module")
def node():
    with RabbitNode.started() as started:
        yield started


@dataclasses.dataclass
class Provisioned:
    """A set of offices with real broker logins on their own virtual host."""

    offices: object
    node: RabbitNode
    vhost: str
    secrets: Path

    @property
    def ctl(self) -> Rabbitmqctl:
        return Rabbitmqctl(self.node.ctl_command, self.node.env)

    @property
    def names(self) -> Names:
        return Names(self.offices.ho.topology_prefix)

    def password(self, login: str) -> str:
        return secret_file(self.secrets, login).read_text().strip()

    def url(self, login: str, password: str | None = None) -> str:
        return office_url(self.node.amqp_url, login, password or self.password(login), self.vhost)

    def office(self, code: str, **changes):
        """That office's config, logging in as itself."""
        cfg = self.offices.ho if code == "ho" else self.offices.branch(code)
        return dataclasses.replace(cfg, amqp_urls=(self.url(code),), **changes)

    def connect(self, login: str) -> pika.BlockingConnection:
        return pika.BlockingConnection(pika.URLParameters(self.url(login)))

    def provision(self, **kw):
        cfg = dataclasses.replace(self.offices.ho, amqp_urls=(self.node.amqp_url,))
        return provision(cfg, self.secrets, vhost=self.vhost, ctl=self.ctl, environ=kw.pop("environ", {}), **kw)


@pytest.fixture
def provisioned(node, make_offices, tmp_path):
    offices = make_offices(branches=2, require_branch_login=True)
    setup = Provisioned(offices, node, f"bs_{offices.tag}", tmp_path / "secrets")
    setup.provision()
    yield setup
    deprovision(offices.ho, setup.vhost, setup.ctl)


def refused(action) -> int:
    """The AMQP reply code with which the broker refused ``action(channel)`` (0 if it did not)."""
    try:
        action()
    except pika.exceptions.ChannelClosedByBroker as exc:
        return exc.reply_code
    return 0


def changes_props(user_id: str | None, branch: str) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type=protocol.CONTENT_TYPE, content_encoding=protocol.CONTENT_ENCODING, delivery_mode=2,
        type=protocol.CHANGES, user_id=user_id, headers={"x-sync-version": protocol.VERSION, "x-sync-branch": branch},
    )


# ---------------------------------------------------------------- delivery with least privilege
def test_a_branch_with_its_own_login_and_no_configure_right_delivers_to_a_head_office_that_requires_it(provisioned):
    offices = provisioned.offices
    ids = insert_sales(offices.engine("bo1"), 50)
    relay = OutboxRelay(provisioned.office("bo1", declare_topology=False))
    with running(IntakeConsumer(provisioned.office("ho")), relay):
        assert_converged(offices)
    assert {row[1] for row in head_office_rows(offices.engine("ho"))} == set(ids)
    assert dead_letters(offices.engine("ho")) == []


def test_a_branch_login_allowed_one_connection_drains_one_message_at_a_time(provisioned, caplog):
    # The publishing lanes need connections of their own; where the broker allows the
    # branch only one, the agent says so once and sends one message at a time.
    provisioned.ctl.run("set_user_limits", "bo1", '{"max-connections": 1}')
    offices = provisioned.offices
    insert_sales(offices.engine("bo1"), 3_000)
    relay = OutboxRelay(provisioned.office("bo1", declare_topology=False, batch_rows=200, publish_window=3))
    with caplog.at_level(logging.WARNING, logger="sync.bo1"), running(IntakeConsumer(provisioned.office("ho")), relay):
        assert_converged(offices)
    assert len(head_office_rows(offices.engine("ho"))) == 3_000
    assert any("one message at a time" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- impersonation
def test_bo2_cannot_publish_as_bo1_and_its_own_message_claiming_bo1_is_dead_lettered(provisioned):
    names, body = provisioned.names, changes_body("bo1", str(uuid.uuid4()), [upsert(1, 1, qty=3)])
    ho = provisioned.offices.engine("ho")
    with running(IntakeConsumer(provisioned.office("ho"))) as (consumer,):
        wait_for(lambda: consumer.state == events.ONLINE, 30, "the Head Office consumer to come online")
        connection = provisioned.connect("bo2")
        try:
            def publish(user_id):
                channel = connection.channel()
                channel.confirm_delivery()
                channel.basic_publish(names.intake_exchange, INTAKE_KEY, body, changes_props(user_id, "bo1"), mandatory=True)

            # The broker checks user_id against the login...
            assert refused(lambda: publish("bo1")) == PRECONDITION_FAILED
            # ...so bo2 can only sign as itself, and the Head Office sees who really sent it.
            assert refused(lambda: publish("bo2")) == 0
            assert refused(lambda: publish(None)) == 0
        finally:
            connection.close()
        parked = wait_for(lambda: len(dead_letters(ho)) == 2 and dead_letters(ho), 30, "both messages to be dead-lettered")
    reasons = [row.reason for row in parked]
    assert all("a branch may only send its own changes" in reason for reason in reasons)
    assert any("published by broker user 'bo2'" in reason for reason in reasons)
    assert any("published by broker user None" in reason for reason in reasons)
    assert head_office_rows(ho) == set()


# ---------------------------------------------------------------- reading
def test_bo2_cannot_read_the_head_office_queues_nor_bo1s_receipts_but_can_read_its_own(provisioned):
    names = provisioned.names
    connection = provisioned.connect("bo2")
    try:
        def consume(queue):
            connection.channel().basic_consume(queue, lambda *_: None)

        def get(queue):
            connection.channel().basic_get(queue)

        for queue in (names.intake_queue, names.dead_queue, names.receipts_queue("bo1")):
            assert refused(lambda q=queue: consume(q)) == ACCESS_REFUSED, queue
            assert refused(lambda q=queue: get(q)) == ACCESS_REFUSED, queue
        assert refused(lambda: consume(names.receipts_queue("bo2"))) == 0
    finally:
        connection.close()


# ---------------------------------------------------------------- configuring
def test_bo2_cannot_declare_bind_purge_or_delete_anything(provisioned):
    names = provisioned.names
    bo2 = provisioned.office("bo2")
    connection = provisioned.connect("bo2")
    try:
        def on_channel(action):
            return lambda: action(connection.channel())

        attempts = {
            "declare the topology": on_channel(lambda ch: declare_topology(ch, bo2, ["bo2"])),
            "declare an exchange": on_channel(lambda ch: ch.exchange_declare("bo2.own", "fanout")),
            "declare a named queue": on_channel(lambda ch: ch.queue_declare("bo2.own")),
            "declare a server-named queue": on_channel(lambda ch: ch.queue_declare("", exclusive=True)),
            "bind its queue to the intake": on_channel(
                lambda ch: ch.queue_bind(names.receipts_queue("bo2"), names.intake_exchange, INTAKE_KEY)),
            "bind the intake queue to the receipts": on_channel(
                lambda ch: ch.queue_bind(names.intake_queue, names.receipts_exchange, "bo2")),
            "purge the intake queue": on_channel(lambda ch: ch.queue_purge(names.intake_queue)),
            "delete the intake queue": on_channel(lambda ch: ch.queue_delete(names.intake_queue)),
            "delete its own receipt queue": on_channel(lambda ch: ch.queue_delete(names.receipts_queue("bo2"))),
            "delete the intake exchange": on_channel(lambda ch: ch.exchange_delete(names.intake_exchange)),
        }
        outcomes = {what: refused(attempt) for what, attempt in attempts.items()}
    finally:
        connection.close()
    assert outcomes == {what: ACCESS_REFUSED for what in attempts}
    # Everything is still there, as the Head Office declared it.
    head_office = provisioned.connect("ho")
    try:
        channel = head_office.channel()
        for queue in (names.intake_queue, names.dead_queue, names.receipts_queue("bo1"), names.receipts_queue("bo2")):
            channel.queue_declare(queue, passive=True)
        for exchange in (names.intake_exchange, names.receipts_exchange, names.dead_exchange):
            channel.exchange_declare(exchange, passive=True)
    finally:
        head_office.close()


# ---------------------------------------------------------------- secrets
def test_passwords_are_kept_private_and_never_printed_by_provision_status_or_the_agents(
        provisioned, tmp_path, capsys, caplog, monkeypatch):
    offices, secrets = provisioned.offices, provisioned.secrets
    args = argparse.ArgumentParser()
    add_arguments(args)
    cli = args.parse_args(["--vhost", provisioned.vhost, "--secrets-dir", str(secrets), "--rabbitmqctl",
                           provisioned.node.ctl_command[0], "--node", provisioned.node.name])
    ho_cfg = dataclasses.replace(offices.ho, amqp_urls=(provisioned.node.amqp_url,))
    with caplog.at_level(logging.DEBUG):
        with monkeypatch.context() as patch:
            patch.setenv("HOME", provisioned.node.env["HOME"])  # where rabbitmqctl finds the private node's cookie
            assert run(ho_cfg, cli) == 0
        report = capsys.readouterr().out
        assert "bo1" in report and str(secret_file(secrets, "bo1")) in report

        # The offices as an operator would set them up: a login in the URL, the password in a file.
        files = {code: write_office_file(provisioned, code, tmp_path) for code in ("ho", "bo1")}
        insert_sales(offices.engine("bo1"), 5)
        with running(IntakeConsumer(provisioned.office("ho"))):
            once = spawn("bo_app.py", files["bo1"], "--once")
            once_out = finish(once)
            assert once.returncode == 0, once_out
            assert_converged(offices)
        status = {code: subprocess.run([sys.executable, "-m", "sync", "status", "--config", str(path)], cwd=ROOT,
                                       capture_output=True, text=True, timeout=60) for code, path in files.items()}
        # A broker that cannot be reached is reported with the URL, password hidden.
        unreachable = dataclasses.replace(provisioned.office("bo1"), amqp_urls=(provisioned.url("bo1").replace(
            f":{provisioned.node.amqp_port}/", ":1/"),))
        relay = OutboxRelay(unreachable)
        with running(relay):
            wait_for(lambda: relay.state == events.OFFLINE, 30, "the agent to report the broker unreachable")

    for code, done in status.items():
        assert done.returncode == 0 and "answers at amqp://" in done.stdout, (code, done.stdout, done.stderr)
    said = report + once_out + "".join(d.stdout + d.stderr for d in status.values()) + "\n".join(
        r.getMessage() for r in caplog.records)
    assert "cannot reach the message broker" in said
    for login in ("ho", "bo1", "bo2"):
        assert provisioned.password(login) not in said, f"{login}'s password was shown"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert {stat.S_IMODE(secret_file(secrets, login).stat().st_mode) for login in ("ho", "bo1", "bo2")} == {0o600}


def write_office_file(provisioned: Provisioned, code: str, directory: Path) -> Path:
    """The office's harness file with its own login in amqp_urls and the password in amqp_password_file."""
    original = provisioned.offices.paths[code].read_text().splitlines()
    kept = [line for line in original if not line.startswith("amqp_urls")]
    url = office_url(provisioned.node.amqp_url, code, None, provisioned.vhost)
    path = directory / f"{code}-provisioned.toml"
    extra = [f'amqp_urls = ["{url}"]', f'amqp_password_file = "{secret_file(provisioned.secrets, code)}"']
    if code != "ho":
        extra.append("declare_topology = false")
    path.write_text("\n".join([*kept, *extra]) + "\n")
    return path


def test_provisioning_again_keeps_every_password_and_rotating_replaces_them(provisioned):
    before = {login: provisioned.password(login) for login in ("ho", "bo1", "bo2")}
    again = provisioned.provision(environ={"SYNC_PASSWORD_BO2": "chosen-by-the-operator"})
    assert {o.login: (o.created, o.password_from) for o in again.logins} == {
        "ho": (False, "kept"), "bo1": (False, "kept"), "bo2": (False, "from the environment"),
    }
    assert provisioned.password("bo1") == before["bo1"] and provisioned.password("bo2") == "chosen-by-the-operator"
    provisioned.connect("bo1").close()
    provisioned.connect("bo2").close()

    rotated = provisioned.provision(rotate=True)
    assert {o.password_from for o in rotated.logins} == {"rotated"}
    assert provisioned.password("bo1") != before["bo1"]
    provisioned.connect("bo1").close()
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        pika.BlockingConnection(pika.URLParameters(provisioned.url("bo1", before["bo1"])))


def test_provision_refuses_a_branch_file_or_secrets_in_the_repository_and_says_when_rabbitmqctl_is_missing(
        make_offices, tmp_path, capsys):
    offices = make_offices(branches=1)
    with pytest.raises(ProvisionError, match="branch's file") as branch_file:
        provision(offices.branch("bo1"), tmp_path / "secrets")
    with pytest.raises(ProvisionError, match="inside the repository") as in_repo:
        provision(offices.ho, REPOSITORY / "secrets")
    assert branch_file.value.exit_code == in_repo.value.exit_code == 2
    assert not (REPOSITORY / "secrets").exists()

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--secrets-dir", str(tmp_path / "secrets"), "--rabbitmqctl", str(tmp_path / "no-such-program")])
    assert run(offices.ho, args) == 3
    said = capsys.readouterr()
    assert said.err.startswith("Provisioning failed: ") and "was not found" in said.err and said.out == ""


def test_a_branch_login_that_tries_to_declare_the_topology_is_told_what_to_change_in_one_sentence(provisioned, tmp_path):
    path = write_office_file(provisioned, "bo1", tmp_path)
    insert_sales(provisioned.offices.engine("bo1"), 2)
    once = spawn("bo_app.py", path, "--once", env={"SYNC_DECLARE_TOPOLOGY": "true"})
    out = finish(once)
    assert once.returncode == 3 and "set declare_topology = false" in out and "Traceback" not in out, out


def test_python_m_sync_provision_says_where_the_passwords_are_and_never_what_they_are(provisioned, tmp_path):
    node = provisioned.node
    command = [sys.executable, "-m", "sync", "provision", "--config", str(write_office_file(provisioned, "ho", tmp_path)),
               "--vhost", provisioned.vhost, "--secrets-dir", str(provisioned.secrets),
               "--rabbitmqctl", node.ctl_command[0], "--node", node.name]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": node.env["HOME"]})
    assert done.returncode == 0, done.stderr
    assert f"bo2      already there; password kept, in {secret_file(provisioned.secrets, 'bo2')}" in done.stdout
    for login in ("ho", "bo1", "bo2"):
        assert provisioned.password(login) not in done.stdout + done.stderr


# ---------------------------------------------------------------- dead letters keep their real sender
def test_a_message_bo2_sent_in_bo1s_name_can_never_be_retried_into_bo1s_history(provisioned):
    # Reproduced on a7d5714: bo2 published changes named bo1 with seqs near 2**63 before
    # bo1 ever synced; after Retry, bo2 owned bo1's history, bo1's real changes were
    # refused for ever, and the fake rows could never be overwritten.
    offices, ho = provisioned.offices, provisioned.offices.engine("ho")
    fake = changes_body("bo1", "forged-origin", [upsert(2**63 - 5, 1, qty=99), upsert(2**63 - 4, 2, qty=99)],
                        high_water=2**63 - 4)
    with running(IntakeConsumer(provisioned.office("ho"))) as (consumer,):
        wait_for(lambda: consumer.state == events.ONLINE, 30, "the Head Office consumer to come online")
        publish_raw(offices, fake, url=provisioned.url("bo2"), user_id="bo2", type=protocol.CHANGES)
        (parked,) = wait_for(lambda: dead_letter_records(ho), 30, "the forged message to be parked")
        assert parked.publisher == "bo2" and parked.branch == "bo2" and parked.claimed_branch == "bo1"
        consumer.retry_dead_letter(parked.id)
        wait_for(lambda: dead_letter_records(ho)[0].attempts == 2, 30, "the retry to be tried and refused")
        (after,) = dead_letter_records(ho)
        assert after.state == "parked" and "cannot be retried" in after.reason
        insert_sales(offices.engine("bo1"), 5)
        with running(OutboxRelay(provisioned.office("bo1", declare_topology=False))):
            assert_converged(offices)
    assert {row[1] for row in head_office_rows(ho)} == {1, 2, 3, 4, 5}
    assert max(row[5] for row in head_office_rows(ho)) < 99  # no qty of the forged sales


def test_a_message_the_broker_parks_is_recorded_with_the_brokers_reason_and_its_real_publisher(provisioned):
    # A branch can have the broker dead-letter its own message (expiration "0" while nobody
    # reads its queue) with headers that pretend to be the Head Office's: they are never
    # taken as its word.
    offices, ho = provisioned.offices, provisioned.offices.engine("ho")
    publish_raw(offices, changes_body("bo1", "x", [upsert(1, 1, qty=1)]), branch="bo2", url=provisioned.url("bo2"),
                user_id="bo2", expiration="0",
                headers={"x-sync-reason": "checked by the Head Office: fine", "x-sync-branch": "bo1"})
    with running(IntakeConsumer(provisioned.office("ho"))):
        (parked,) = wait_for(lambda: dead_letter_records(ho), 30, "the expired message to be recorded")
    assert parked.publisher == "bo2" and parked.branch == "bo2" and parked.claimed_branch == "bo1"
    assert "expired" in parked.reason and "checked by the Head Office" not in parked.reason


def test_a_seq_far_beyond_the_high_water_mark_is_parked(provisioned):
    offices, ho = provisioned.offices, provisioned.offices.engine("ho")
    with running(IntakeConsumer(provisioned.office("ho"))):
        send = {"branch": "bo1", "url": provisioned.url("bo1"), "user_id": "bo1"}
        publish_raw(offices, changes_body("bo1", "db-1", [upsert(10, 1, qty=1)]), **send)
        wait_for(lambda: len(head_office_rows(ho)) == 1, 30, "bo1's first sale")
        publish_raw(offices, changes_body("bo1", "db-1", [upsert(2**62, 2, qty=2)]), **send)
        (parked,) = wait_for(lambda: dead_letter_records(ho), 30, "the jump to be parked")
    assert "jumps" in parked.reason and len(head_office_rows(ho)) == 1


# ---------------------------------------------------------------- each branch a bounded share
def test_dead_letters_are_attributed_to_the_login_that_published_them(provisioned):
    # Reproduced on a7d5714: 10 x 4 MiB undecodable bodies with x-sync-branch: bo1 from
    # bo2's login were recorded as bo1's.
    offices, ho = provisioned.offices, provisioned.offices.engine("ho")
    with running(IntakeConsumer(provisioned.office("ho"))):
        for _ in range(3):
            publish_raw(offices, os.urandom(1024 * 1024), content_encoding=None, url=provisioned.url("bo2"),
                        user_id="bo2", headers={"x-sync-branch": "bo1"})
        parked = wait_for(lambda: len(dead_letter_records(ho)) == 3 and dead_letter_records(ho), 60, "the noise parked")
    assert {(p.publisher, p.branch) for p in parked} == {("bo2", "bo2")}


def test_one_branch_filling_its_queue_is_refused_by_the_broker_while_the_others_deliver(node, make_offices, tmp_path):
    offices = make_offices(branches=2, require_branch_login=True, branch_queue_max_mb=1)
    setup = Provisioned(offices, node, f"bs_{offices.tag}", tmp_path / "secrets")
    setup.provision()
    try:
        body = changes_body("bo2", "db-2", [upsert(i, i, qty=1) for i in range(1, 2_001)])
        refusals = 0
        for _ in range(200):  # the Head Office is not reading: bo2's queue fills up
            try:
                publish_raw(offices, body, branch="bo2", url=setup.url("bo2"), user_id="bo2")
            except pika.exceptions.NackError:
                refusals += 1
                break
        assert refusals == 1, "the broker never refused bo2's publishes"
        insert_sales(offices.engine("bo1"), 20)
        with running(IntakeConsumer(setup.office("ho")), OutboxRelay(setup.office("bo1", declare_topology=False))):
            wait_for(lambda: len({r for r in head_office_rows(offices.engine("ho")) if r[0] == "bo1"}) == 20, 60,
                     "bo1's sales, however full bo2's queue is")
    finally:
        deprovision(offices.ho, setup.vhost, setup.ctl)


def test_provision_gives_each_branch_login_a_connection_limit(provisioned):
    said = provisioned.ctl.run("list_user_limits", "--user", "bo1").replace(" ", "")
    assert '"max-connections":4' in said, said


# ---------------------------------------------------------------- other people's users
def test_provision_never_takes_over_a_user_it_did_not_create_unless_told_to_adopt_it(node, make_offices, tmp_path):
    offices = make_offices(branches=1)
    ctl = Rabbitmqctl(node.ctl_command, node.env)
    ops = dataclasses.replace(offices.ho, code="ops", amqp_urls=(node.amqp_url,))
    ctl.add_user("ops", "the-administrators-own")
    ctl.run("set_user_tags", "ops", "administrator")
    vhost = f"bs_{offices.tag}"
    try:
        with pytest.raises(ProvisionError, match="was not created by provision"):
            provision(ops, tmp_path / "secrets", vhost=vhost, ctl=ctl, environ={})
        assert ctl.users()["ops"] == ["administrator"]
        ctl.run("authenticate_user", "ops", "the-administrators-own")  # its password is still its own
        adopted = provision(ops, tmp_path / "secrets", vhost=vhost, ctl=ctl, environ={}, adopt=True)
        assert "ops" in {o.login for o in adopted.logins}
    finally:
        deprovision(ops, vhost, ctl)
        if "ops" in ctl.users():
            ctl.delete_user("ops")

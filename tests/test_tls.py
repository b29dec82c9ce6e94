"""TLS to the broker: a branch with an amqps:// URL reaches the Head Office through a
TLS terminator (stunnel, in front of the shared broker) whose certificate this test
makes; a certificate its CA does not vouch for is refused in one clear sentence;
a terminator that demands client certificates lets in only a branch that has one."""
from __future__ import annotations

import pytest

from devtools.tls import CertificateAuthority, TlsTerminator
from sync.intake import IntakeConsumer
from tests.harness import BROKER, assert_converged, finish, insert_sales, outbox_states, running, spawn


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The broker's CA and certificate, a client certificate, and a stranger CA."""
    base = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority.create(base / "ca")
    return {
        "ca": ca,
        "server": ca.issue(base / "server", "localhost"),
        "client": ca.issue(base / "client", "bo1", client=True),
        "stranger": CertificateAuthority.create(base / "stranger", name="Some other CA"),
    }


def once(offices, url: str, **settings: str):
    """``bo_app.py --once`` for bo1 with its URL and TLS settings from the environment."""
    env = {"SYNC_AMQP_URL": url, **{f"SYNC_{key.upper()}": str(value) for key, value in settings.items()}}
    process = spawn("bo_app.py", offices.paths["bo1"], "--once", env=env)
    out = finish(process)
    return process.returncode, out


def test_a_branch_with_an_amqps_url_and_the_brokers_ca_delivers_end_to_end(offices, pki):
    insert_sales(offices.engine("bo1"), 25)
    with TlsTerminator(pki["server"], target=BROKER) as tls, running(IntakeConsumer(offices.ho)):
        code, out = once(offices, f"amqps://guest:guest@localhost:{tls.port}/%2F", amqp_ca_file=pki["ca"].cert)
        assert code == 0, out
        assert_converged(offices)


def test_a_broker_certificate_from_another_ca_is_refused_in_one_sentence_without_a_traceback(offices, pki):
    insert_sales(offices.engine("bo1"), 3)
    with TlsTerminator(pki["server"], target=BROKER) as tls:
        code, out = once(offices, f"amqps://guest:guest@localhost:{tls.port}/%2F", amqp_ca_file=pki["stranger"].cert)
    assert code == 3, out
    assert "presented a certificate that amqp_ca_file does not vouch for" in out
    assert "Traceback" not in out
    assert outbox_states(offices.engine("bo1")) == {0: 3}


def test_a_broker_that_demands_client_certificates_accepts_a_branch_with_one_and_refuses_one_without(offices, pki):
    insert_sales(offices.engine("bo1"), 10)
    with TlsTerminator(pki["server"], target=BROKER, client_ca=pki["ca"]) as tls, running(IntakeConsumer(offices.ho)):
        # By IP address this time: the certificate names 127.0.0.1 too.
        url = f"amqps://guest:guest@127.0.0.1:{tls.port}/%2F"
        code, out = once(offices, url, amqp_ca_file=pki["ca"].cert)
        assert code == 3 and "it may want a client certificate" in out and "Traceback" not in out, out
        assert outbox_states(offices.engine("bo1")) == {0: 10}

        code, out = once(offices, url, amqp_ca_file=pki["ca"].cert,
                         amqp_client_cert=pki["client"].cert, amqp_client_key=pki["client"].key)
        assert code == 0, out
        assert_converged(offices)

"""Throwaway TLS for tests: a certificate authority, certificates it signs, and a
stunnel TLS terminator in front of a plain TCP service (RabbitMQ on 5672).

    ca = CertificateAuthority.create(directory / "ca")
    server = ca.issue(directory / "server", "localhost")     # SAN DNS:localhost, IP:127.0.0.1
    with TlsTerminator(server, target=("127.0.0.1", 5672)) as tls:
        url = f"amqps://guest:guest@localhost:{tls.port}/%2F"

Certificates are made with the ``openssl`` command (no Python package needed) and
carry the extensions a strict verifier asks for (Python 3.13 verifies strictly).
``TlsTerminator(..., client_ca=ca)`` also demands a client certificate signed by ``ca``.
"""
from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from devtools.rabbit_nodes import answers, free_ports

_EXTENSIONS = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


class TlsToolError(RuntimeError):
    """openssl or stunnel is missing or failed; says which and why."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        package = {"stunnel4": "stunnel4", "openssl": "openssl"}[name]
        raise TlsToolError(f"the {name} command is missing; install it with `apt-get install -y {package}`.")
    return path


def _openssl(*args: str) -> None:
    done = subprocess.run([_tool("openssl"), *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise TlsToolError(f"openssl {args[0]} failed: {done.stderr.strip()}")


@dataclass(frozen=True)
class Certificate:
    """A PEM certificate and its unencrypted PEM key."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class CertificateAuthority(Certificate):
    """A self-signed CA that issues server and client certificates."""

    @classmethod
    def create(cls, directory: Path, name: str = "Branch Sync test CA") -> CertificateAuthority:
        directory.mkdir(parents=True, exist_ok=True)
        config = _config(directory)
        ca = cls(directory / "ca.pem", directory / "ca.key")
        _openssl("req", "-x509", "-new", "-config", str(config), "-extensions", "ca", "-subj", f"/CN={name}",
                 "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", str(ca.key), "-out", str(ca.cert), "-days", "2")
        return ca

    def issue(self, directory: Path, common_name: str, client: bool = False) -> Certificate:
        """A certificate for a server (SAN localhost and 127.0.0.1) or, with ``client``, a client."""
        directory.mkdir(parents=True, exist_ok=True)
        config = _config(directory)
        issued = Certificate(directory / f"{common_name}.pem", directory / f"{common_name}.key")
        request = directory / f"{common_name}.csr"
        _openssl("req", "-new", "-config", str(config), "-subj", f"/CN={common_name}",
                 "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", str(issued.key), "-out", str(request))
        _openssl("x509", "-req", "-in", str(request), "-CA", str(self.cert), "-CAkey", str(self.key),
                 "-set_serial", "0x" + secrets.token_hex(8), "-days", "2",
                 "-extfile", str(config), "-extensions", "client" if client else "server", "-out", str(issued.cert))
        return issued


def _config(directory: Path) -> Path:
    # Our own config, so that the machine's openssl.cnf adds nothing unexpected.
    path = directory / "openssl.cnf"
    path.write_text(_EXTENSIONS, encoding="ascii")
    return path


class TlsTerminator:
    """stunnel accepting TLS on a free 127.0.0.1 port and forwarding plain TCP to ``target``."""

    def __init__(self, certificate: Certificate, target: tuple[str, int] = ("127.0.0.1", 5672),
                 client_ca: CertificateAuthority | None = None):
        self.certificate, self.target, self.client_ca = certificate, target, client_ca
        self.port = free_ports(1)[0]
        self.directory = certificate.cert.parent
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> TlsTerminator:
        config = self.directory / f"stunnel-{self.port}.conf"
        lines = [
            "foreground = yes", "pid =", "debug = notice", f"output = {self.directory / f'stunnel-{self.port}.log'}",
            "[amqps]", f"accept = 127.0.0.1:{self.port}", f"connect = {self.target[0]}:{self.target[1]}",
            f"cert = {self.certificate.cert}", f"key = {self.certificate.key}", "sslVersionMin = TLSv1.2",
        ]
        if self.client_ca:
            lines += [f"CAfile = {self.client_ca.cert}", "requireCert = yes", "verifyChain = yes"]
        config.write_text("\n".join(lines) + "\n", encoding="ascii")
        self.process = subprocess.Popen([_tool("stunnel4"), str(config)], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 15
        while not answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self._stop()
                raise TlsToolError(f"stunnel did not start listening on port {self.port}: {output.strip()[-500:]}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self._stop()

    def _stop(self) -> str:
        if self.process is None:
            return ""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            output, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        self.process = None
        return output or ""

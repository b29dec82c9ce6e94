"""RabbitMQ names, the topology, and how an office connects.

  exchange <prefix>.intake    (direct)  --"changes"-->  queue <prefix>.intake        (HO consumes)
  exchange <prefix>.receipts  (direct)  --<branch>--->  queue <prefix>.receipts.<branch>  (branch consumes)
  exchange <prefix>.dead      (fanout)  ------------->  queue <prefix>.dead          (HO records)

Every queue is durable (quorum where the broker has them) and dead-letters to
``<prefix>.dead``; a message redelivered more than DELIVERY_LIMIT times is parked
there by the broker itself, never dropped.  Every office declares the same
topology through ``declare_topology``, so the arguments can never disagree.
"""
from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

import pika

from config import OfficeConfig, redact_url

DELIVERY_LIMIT = 20
INTAKE_KEY = "changes"


@dataclass(frozen=True)
class Names:
    prefix: str

    @property
    def intake_exchange(self) -> str:
        return f"{self.prefix}.intake"

    @property
    def intake_queue(self) -> str:
        return f"{self.prefix}.intake"

    @property
    def receipts_exchange(self) -> str:
        return f"{self.prefix}.receipts"

    def receipts_queue(self, branch: str) -> str:
        return f"{self.prefix}.receipts.{branch}"

    @property
    def dead_exchange(self) -> str:
        return f"{self.prefix}.dead"

    @property
    def dead_queue(self) -> str:
        return f"{self.prefix}.dead"


def _queue_arguments(cfg: OfficeConfig, names: Names, dead_letter: bool = True) -> dict:
    args: dict = {}
    if cfg.queue_type == "quorum":
        args["x-queue-type"] = "quorum"
        if dead_letter:
            args["x-delivery-limit"] = DELIVERY_LIMIT
            # at-least-once dead-lettering (RabbitMQ 3.10+) keeps a parked message
            # until the dead-letter queue has confirmed it; it needs reject-publish.
            args["x-dead-letter-strategy"] = "at-least-once"
            args["x-overflow"] = "reject-publish"
    if dead_letter:
        args["x-dead-letter-exchange"] = names.dead_exchange
    return args


def declare_topology(channel, cfg: OfficeConfig, branches: list[str]) -> Names:
    """Declare exchanges, queues and bindings (idempotent) for ``branches``."""
    names = Names(cfg.topology_prefix)
    channel.exchange_declare(names.dead_exchange, exchange_type="fanout", durable=True)
    channel.queue_declare(names.dead_queue, durable=True, arguments=_queue_arguments(cfg, names, dead_letter=False))
    channel.queue_bind(names.dead_queue, names.dead_exchange)
    channel.exchange_declare(names.intake_exchange, exchange_type="direct", durable=True)
    channel.queue_declare(names.intake_queue, durable=True, arguments=_queue_arguments(cfg, names))
    channel.queue_bind(names.intake_queue, names.intake_exchange, routing_key=INTAKE_KEY)
    channel.exchange_declare(names.receipts_exchange, exchange_type="direct", durable=True)
    for branch in branches:
        queue = names.receipts_queue(branch)
        channel.queue_declare(queue, durable=True, arguments=_queue_arguments(cfg, names))
        channel.queue_bind(queue, names.receipts_exchange, routing_key=branch)
    return names


def connection_parameters(cfg: OfficeConfig, url: str) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.heartbeat = cfg.heartbeat_seconds
    params.blocked_connection_timeout = 60
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.stack_timeout = 15
    params.client_properties = {"connection_name": f"branch-sync {cfg.code}"}
    if url.startswith("amqps://"):
        params.ssl_options = pika.SSLOptions(tls_context(cfg), server_hostname=params.host)
    return params


def tls_context(cfg: OfficeConfig) -> ssl.SSLContext:
    """Verify the broker's certificate (against ``amqp_ca_file`` when set) and its host name."""
    context = ssl.create_default_context(cafile=cfg.amqp_ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cfg.amqp_client_cert:
        context.load_cert_chain(cfg.amqp_client_cert, cfg.amqp_client_key or None)
    return context


# How a TLS server that wants a client certificate hangs up: an alert (TLS 1.3) or a bare EOF.
_HANDSHAKE_REFUSED = ("CERTIFICATE_REQUIRED", "SSLEOFError", "EOF occurred in violation of protocol")


class LinkDown(Exception):
    """The broker could not be reached; the message says why, in words."""


def connect(cfg: OfficeConfig, start: int = 0, log: logging.Logger | None = None) -> tuple[pika.BlockingConnection, int]:
    """Open a blocking connection, trying each AMQP URL once from ``start`` on.

    Returns the connection and the index of the URL that answered.  Raises LinkDown
    with a sentence naming each URL tried (passwords hidden).
    """
    urls = cfg.amqp_urls
    problems = []
    for i in range(len(urls)):
        index = (start + i) % len(urls)
        try:
            return pika.BlockingConnection(connection_parameters(cfg, urls[index])), index
        except pika.exceptions.ProbableAuthenticationError:
            problems.append(f"{redact_url(urls[index])} refused the user name or password")
        except pika.exceptions.ProbableAccessDeniedError:
            problems.append(f"{redact_url(urls[index])} denied access to its virtual host")
        except (pika.exceptions.AMQPError, OSError, ssl.SSLError, ValueError) as exc:
            # ValueError: pika's connection workflow raises it when the peer resets
            # the socket between the TCP connect and its getpeername() check (a link
            # that drops as it comes up).  It is the same "did not answer" as the rest.
            # (ssl's certificate errors are ValueErrors too: only a plain one is pika's.)
            plain_value_error = isinstance(exc, ValueError) and not isinstance(exc, ssl.SSLError)
            reason = "the connection was reset as it opened" if plain_value_error else describe(exc)
            if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate verify failed" in reason:
                problems.append(f"{redact_url(urls[index])} presented a certificate that amqp_ca_file does not vouch for")
            elif urls[index].startswith("amqps://") and any(sign in reason for sign in _HANDSHAKE_REFUSED):
                problems.append(f"{redact_url(urls[index])} ended the TLS handshake; it may want a client certificate "
                                "(amqp_client_cert and amqp_client_key)")
            else:
                problems.append(f"{redact_url(urls[index])} did not answer ({reason})")
    raise LinkDown("cannot reach the message broker: " + "; ".join(problems))


def describe(exc: BaseException) -> str:
    """A short human description of a pika or socket error: the innermost cause, in words."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "exceptions", None)  # pika's connection workflow keeps its causes here
        if inner:
            exc = inner[-1]
        elif isinstance(getattr(exc, "exception", None), BaseException):
            exc = exc.exception
        elif exc.args and isinstance(exc.args[0], BaseException):
            exc = exc.args[0]
        else:
            break
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return (str(exc) or exc.__class__.__name__)[:200]


def login_of(url: str) -> str:
    """The user name an AMQP URL logs in as (pika's default is guest)."""
    return pika.URLParameters(url).credentials.username


def close_quietly(connection) -> None:
    """Close a connection that may already be gone; there is nothing to report if it is."""
    try:
        if connection.is_open:
            connection.close()
    except Exception:  # noqa: BLE001 - the link is already gone
        pass

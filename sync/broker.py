"""RabbitMQ names, the topology, and how an office connects.

  exchange <p>.in.<branch>  (fanout) ---------------> queue <p>.in.<branch>    (HO consumes)
  exchange <p>.held         (direct) --<branch>-----> queue <p>.held.<branch>  (HO records)
  exchange <p>.receipts     (direct) --<branch>-----> queue <p>.receipts.<branch>  (branch consumes)
  exchange <p>.intake       (direct) --"changes"----> queue <p>.intake         (branches of the first release)
  exchange <p>.dead         (fanout) ---------------> queue <p>.dead           (their parked messages)

Each branch publishes to its own exchange, which only its login may write to
(``python -m sync provision``), so the queue a message is taken from says who sent
it.  A message that keeps failing is parked in the branch's own held queue, never
dropped.  The byte limits (``branch_queue_max_mb``: the broker then refuses that
branch's publishes, nobody else's) are policies that ``provision`` sets, so that
the queues' own arguments never change between releases: the first release's
queues are declared exactly as it declared them.  Every office declares the same
topology through ``declare_topology``, so the arguments can never disagree.
"""
from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass
from typing import Any

import pika

from config import HeadOfficeConfig, OfficeConfig, redact_url
from sync.failures import Kind, LinkDown

DELIVERY_LIMIT = 20
INTAKE_KEY = "changes"  # the first release's routing key on the shared intake exchange
HELD_MAX_MB = 64  # each branch's held queue; the Head Office empties it as it records


@dataclass(frozen=True)
class Names:
    prefix: str

    def branch_exchange(self, branch: str) -> str:
        return f"{self.prefix}.in.{branch}"

    def branch_queue(self, branch: str) -> str:
        return f"{self.prefix}.in.{branch}"

    @property
    def held_exchange(self) -> str:
        return f"{self.prefix}.held"

    def held_queue(self, branch: str) -> str:
        return f"{self.prefix}.held.{branch}"

    @property
    def receipts_exchange(self) -> str:
        return f"{self.prefix}.receipts"

    def receipts_queue(self, branch: str) -> str:
        return f"{self.prefix}.receipts.{branch}"

    @property
    def intake_exchange(self) -> str:
        return f"{self.prefix}.intake"

    @property
    def intake_queue(self) -> str:
        return f"{self.prefix}.intake"

    @property
    def dead_exchange(self) -> str:
        return f"{self.prefix}.dead"

    @property
    def dead_queue(self) -> str:
        return f"{self.prefix}.dead"

    def branch_of_queue(self, queue: str) -> str | None:
        """The branch whose intake or held queue this is (None for the shared ones)."""
        for middle in (".in.", ".held."):
            head = self.prefix + middle
            if queue.startswith(head):
                return queue[len(head):]
        return None


def _arguments(cfg: OfficeConfig, dead_letter_to: tuple[str, str] | None) -> dict[str, Any]:
    """Queue arguments; quorum queues count deliveries and park what keeps failing."""
    args: dict[str, Any] = {}
    if cfg.queue_type == "quorum":
        args["x-queue-type"] = "quorum"
    if dead_letter_to is not None:
        exchange, key = dead_letter_to
        args["x-dead-letter-exchange"] = exchange
        if key:
            args["x-dead-letter-routing-key"] = key
        if cfg.queue_type == "quorum":
            args["x-delivery-limit"] = DELIVERY_LIMIT
            # at-least-once dead-lettering (RabbitMQ 3.10+) keeps a parked message until
            # the target queue has confirmed it; it needs reject-publish on the source.
            args["x-dead-letter-strategy"] = "at-least-once"
            args["x-overflow"] = "reject-publish"
    return args


def declare_topology(channel: Any, cfg: OfficeConfig, branches: list[str]) -> Names:
    """Declare exchanges, queues and bindings (idempotent) for ``branches``.

    The Head Office declares all of it; a branch (``declare_topology = true``, where it
    may) only its own path, each declaration a round trip on its slow link.
    """
    names = Names(cfg.topology_prefix)
    head_office = isinstance(cfg, HeadOfficeConfig)
    channel.exchange_declare(names.held_exchange, exchange_type="direct", durable=True)
    channel.exchange_declare(names.receipts_exchange, exchange_type="direct", durable=True)
    channel.exchange_declare(names.dead_exchange, exchange_type="fanout", durable=True)
    for branch in branches:
        if head_office:
            held = names.held_queue(branch)
            channel.queue_declare(held, durable=True, arguments=_arguments(cfg, None))
            channel.queue_bind(held, names.held_exchange, routing_key=branch)
        own = names.branch_exchange(branch)
        channel.exchange_declare(own, exchange_type="fanout", durable=True)
        channel.queue_declare(names.branch_queue(branch), durable=True,
                              arguments=_arguments(cfg, (names.held_exchange, branch)))
        channel.queue_bind(names.branch_queue(branch), own)
        receipts = names.receipts_queue(branch)
        channel.queue_declare(receipts, durable=True, arguments=_arguments(cfg, (names.dead_exchange, "")))
        channel.queue_bind(receipts, names.receipts_exchange, routing_key=branch)
    if head_office:  # the first release's shared intake, for branches not yet upgraded
        channel.queue_declare(names.dead_queue, durable=True, arguments=_arguments(cfg, None))
        channel.queue_bind(names.dead_queue, names.dead_exchange)
        channel.exchange_declare(names.intake_exchange, exchange_type="direct", durable=True)
        channel.queue_declare(names.intake_queue, durable=True, arguments=_arguments(cfg, (names.dead_exchange, "")))
        channel.queue_bind(names.intake_queue, names.intake_exchange, routing_key=INTAKE_KEY)
    return names


def queue_policies(cfg: HeadOfficeConfig) -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (queue pattern, definition): each branch's bounded share of the broker, set by provision."""
    p = re.escape(cfg.topology_prefix)
    bounded = {"max-length-bytes": cfg.branch_queue_max_mb * 1024 * 1024, "overflow": "reject-publish"}
    return {
        f"{cfg.topology_prefix}-branch-share": (rf"^{p}\.(in\.[a-z0-9_]+|intake)$", bounded),
        f"{cfg.topology_prefix}-held-share": (rf"^{p}\.held\.[a-z0-9_]+$",
                                             {"max-length-bytes": HELD_MAX_MB * 1024 * 1024, "overflow": "reject-publish"}),
    }


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


def _why(exc: BaseException, url: str) -> tuple[Kind, str]:
    """How one connection attempt failed: its kind and a sentence (password hidden)."""
    shown = redact_url(url)
    if isinstance(exc, pika.exceptions.ProbableAuthenticationError):
        return Kind.BROKER_LOGIN_REFUSED, f"{shown} refused the user name or password"
    if isinstance(exc, pika.exceptions.ProbableAccessDeniedError):
        return Kind.BROKER_VHOST_DENIED, f"{shown} denied access to its virtual host"
    if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in _innermost(exc):
        return Kind.BROKER_CERTIFICATE_UNTRUSTED, f"{shown} presented a certificate that amqp_ca_file does not vouch for"
    reason = describe(exc)
    if isinstance(exc, ValueError) and not isinstance(exc, ssl.SSLError):
        # pika's connection workflow raises a plain ValueError when the peer resets the
        # socket between the TCP connect and its getpeername() check: a link that drops
        # as it comes up, the same "did not answer" as the rest.
        reason = "the connection was reset as it opened"
    elif url.startswith("amqps://") and any(sign in reason for sign in _HANDSHAKE_REFUSED):
        return Kind.BROKER_WANTS_CLIENT_CERTIFICATE, (f"{shown} ended the TLS handshake; it may want a client "
                                                      "certificate (amqp_client_cert and amqp_client_key)")
    return Kind.BROKER_UNREACHABLE, f"{shown} did not answer ({reason})"


def _innermost(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {describe(exc)}"


def connect(cfg: OfficeConfig, start: int = 0, log: logging.Logger | None = None) -> tuple[pika.BlockingConnection, int]:
    """Open a blocking connection, trying each AMQP URL once from ``start`` on.

    Returns the connection and the index of the URL that answered.  Raises LinkDown
    with a sentence naming each URL tried (passwords hidden); its failure's kind is
    that of the last URL tried.
    """
    urls = cfg.amqp_urls
    problems: list[str] = []
    kind = Kind.BROKER_UNREACHABLE
    for i in range(len(urls)):
        index = (start + i) % len(urls)
        try:
            return pika.BlockingConnection(connection_parameters(cfg, urls[index])), index
        except (pika.exceptions.AMQPError, OSError, ssl.SSLError, ValueError) as exc:
            kind, sentence = _why(exc, urls[index])
            problems.append(sentence)
    raise LinkDown("cannot reach the message broker: " + "; ".join(problems), kind)


def describe(exc: BaseException) -> str:
    """A short human description of a pika or socket error: the innermost cause, in words."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "exceptions", None)  # pika's connection workflow keeps its causes here
        if inner:
            exc = inner[-1]
        elif isinstance(getattr(exc, "exception", None), BaseException):
            exc = exc.exception  # type: ignore[attr-defined]  # pika keeps the cause there
        elif exc.args and isinstance(exc.args[0], BaseException):
            exc = exc.args[0]
        else:
            break
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return (str(exc) or exc.__class__.__name__)[:200]


def session_failure(exc: BaseException) -> LinkDown:
    """Why a session with the broker ended, as a failure for the log, the window and --once."""
    if isinstance(exc, LinkDown):
        return exc
    if isinstance(exc, pika.exceptions.UnroutableError):
        return LinkDown("the broker has no intake queue for this branch's changes; start the Head Office once "
                        "(it declares the queues) or set declare_topology = true", Kind.BROKER_HAS_NO_QUEUE)
    if isinstance(exc, pika.exceptions.NackError):
        return LinkDown("the broker refused to take the changes (its queue for this branch is full, or it is out of "
                        "disk or memory); they stay here and go later", Kind.BROKER_REFUSED_MESSAGE)
    if isinstance(exc, pika.exceptions.ChannelClosedByBroker) and exc.reply_code == 403:
        # A login from `python -m sync provision` may publish and read its receipts, nothing more.
        return LinkDown(f"the broker refused this branch's login ({exc.reply_text}); a branch login may not declare "
                        "queues, so set declare_topology = false", Kind.BROKER_FORBIDS_DECLARE)
    if isinstance(exc, pika.exceptions.ChannelClosedByBroker) and exc.reply_code == 404:
        return LinkDown(f"the broker has no queue for this branch yet ({exc.reply_text}); start the Head Office once "
                        "(it declares the queues)", Kind.BROKER_HAS_NO_QUEUE)
    return LinkDown(f"lost the link to the broker ({describe(exc)})", Kind.BROKER_LINK_LOST)


def login_of(url: str) -> str:
    """The user name an AMQP URL logs in as (pika's default is guest)."""
    return str(pika.URLParameters(url).credentials.username)


def close_quietly(connection: Any) -> None:
    """Close a connection that may already be gone; there is nothing to report if it is."""
    try:
        if connection.is_open:
            connection.close()
    except Exception:  # noqa: BLE001 - the link is already gone
        pass

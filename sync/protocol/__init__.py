"""Everything that crosses RabbitMQ, encoded and checked here and nowhere else.

``messages``: the bodies (changes, reports, receipts, sync requests) and their
checks; ``catalogue``: the catalogue down to a branch and what a branch holds;
``envelope``: the AMQP properties and headers around them; ``limits``: how
much work one message may ask of its reader.
"""
from sync.protocol.catalogue import (
    CATALOGUE,
    CATALOGUE_STATE,
    CATALOGUE_VERSION,
    CatalogueMessage,
    CatalogueState,
    encode_catalogue,
    encode_catalogue_state,
)
from sync.protocol.control import (
    RECEIPT,
    SYNC_REQUEST,
    Receipt,
    SyncRequest,
    decode_control,
    encode_receipt,
    encode_sync_request,
    register_to_branch,
)
from sync.protocol.envelope import (
    APP_ID,
    BrokerDeath,
    Envelope,
    catalogue_properties,
    catalogue_state_properties,
    changes_properties,
    read_envelope,
    receipt_properties,
    record_of,
    report_properties,
    sync_request_properties,
)
from sync.protocol.limits import MAX_CHANGES, MAX_INFLATED_BYTES, MAX_WIRE_BYTES
from sync.protocol.messages import (
    CHANGES,
    CHANGES_VERSION,
    CONTENT_ENCODING,
    CONTENT_TYPE,
    REPORT,
    VERSION,
    Change,
    ChangeBatch,
    Poison,
    Report,
    TooLarge,
    decode_changes,
    decode_from_branch,
    encode_changes,
    encode_rejected,
    encode_report,
    register_from_branch,
    register_type,
    to_ranges,
    unpack,
)

__all__ = [
    "CATALOGUE", "CATALOGUE_STATE", "CATALOGUE_VERSION", "CatalogueMessage", "CatalogueState", "catalogue_properties",
    "catalogue_state_properties", "encode_catalogue", "encode_catalogue_state",
    "APP_ID", "CHANGES", "CHANGES_VERSION", "CONTENT_ENCODING", "CONTENT_TYPE", "MAX_CHANGES", "MAX_INFLATED_BYTES",
    "MAX_WIRE_BYTES", "RECEIPT", "REPORT", "SYNC_REQUEST", "VERSION", "BrokerDeath", "Change", "ChangeBatch", "Envelope",
    "Poison", "Receipt", "Report", "SyncRequest", "TooLarge", "changes_properties", "decode_changes", "decode_control",
    "decode_from_branch", "encode_changes", "encode_receipt", "encode_rejected", "encode_report", "encode_sync_request",
    "read_envelope", "receipt_properties", "record_of", "register_from_branch", "register_to_branch", "register_type",
    "report_properties", "sync_request_properties", "to_ranges", "unpack",
]

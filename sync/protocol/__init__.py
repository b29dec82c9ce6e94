"""Everything that crosses RabbitMQ, encoded and checked here and nowhere else.

``messages``: the bodies (changes, reports, receipts, sync requests) and their
checks; ``days``: day close (control totals, a day sent again, per-sale hashes);
``catalogue``: the catalogue down to a branch and what a branch holds;
``envelope``: the AMQP properties and headers around them; ``limits``: how much
work one message may ask of its reader.
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
from sync.protocol.days import (
    DAY_REQUEST,
    DAY_RESEND,
    DAY_SALES,
    DAY_STATES,
    DAY_TOTALS,
    RESEND,
    RESEND_ROWS,
    SALES,
    TOTALS,
    DayRequest,
    DayResend,
    DaySales,
    DayStates,
    DayTotalsReport,
    ReportedDay,
    encode_day_request,
    encode_day_resend,
    encode_day_sales,
    encode_day_states,
    encode_day_totals,
)
from sync.protocol.envelope import (
    APP_ID,
    DAY_CLOSE_FEATURE,
    BrokerDeath,
    Envelope,
    catalogue_properties,
    catalogue_state_properties,
    changes_properties,
    day_properties,
    day_request_properties,
    headers_record,
    kept_properties,
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
    Refusal,
    Report,
    TooLarge,
    Unsupported,
    decode_changes,
    decode_from_branch,
    encode_changes,
    encode_rejected,
    encode_report,
    reads,
    reads_type,
    register_from_branch,
    register_type,
    to_ranges,
    unpack,
)

__all__ = [
    "APP_ID", "CATALOGUE", "CATALOGUE_STATE", "CATALOGUE_VERSION", "CHANGES", "CHANGES_VERSION",
    "CONTENT_ENCODING", "CONTENT_TYPE", "DAY_CLOSE_FEATURE", "DAY_REQUEST", "DAY_RESEND", "DAY_SALES",
    "DAY_STATES", "DAY_TOTALS", "MAX_CHANGES", "MAX_INFLATED_BYTES", "MAX_WIRE_BYTES", "RECEIPT", "REPORT",
    "RESEND", "RESEND_ROWS", "SALES", "SYNC_REQUEST", "TOTALS", "VERSION", "BrokerDeath", "CatalogueMessage",
    "CatalogueState", "Change", "ChangeBatch", "DayRequest", "DayResend", "DaySales", "DayStates",
    "DayTotalsReport", "Envelope", "Poison", "Receipt", "Refusal", "Report", "ReportedDay", "SyncRequest",
    "TooLarge", "Unsupported", "catalogue_properties", "catalogue_state_properties", "changes_properties",
    "day_properties", "day_request_properties", "decode_changes", "decode_control", "decode_from_branch",
    "encode_catalogue", "encode_catalogue_state", "encode_changes", "encode_day_request", "encode_day_resend",
    "encode_day_sales", "encode_day_states", "encode_day_totals", "encode_receipt", "encode_rejected",
    "encode_report", "encode_sync_request", "headers_record", "kept_properties", "read_envelope", "reads",
    "reads_type", "receipt_properties", "record_of", "register_from_branch", "register_to_branch", "register_type",
    "report_properties", "sync_request_properties",
    "to_ranges", "unpack",
]

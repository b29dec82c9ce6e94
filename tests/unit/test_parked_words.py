"""A Head Office message kept at a branch until it reads its version: what is kept of it, and the words said of it."""
from __future__ import annotations

import datetime as dt

import pika
import pytest

from gui.day_status import clerk_sentence
from models.branch_day_status import DayStatus
from models.parked import Waiting
from sync import protocol
from sync.parked_at_branch import waiting_sentence
from sync.protocol.messages import pack

NEWER = protocol.VERSION + 1


def test_a_newer_version_is_refused_as_unsupported_naming_its_type_and_the_sentence_is_the_head_offices():
    body = pack({"v": NEWER, "type": protocol.CATALOGUE, "branch": "bo1"})
    with pytest.raises(protocol.Unsupported) as refused:
        protocol.decode_control(body, protocol.CONTENT_ENCODING, "bo1")
    assert (refused.value.version, refused.value.message_type) == (NEWER, protocol.CATALOGUE)
    assert str(refused.value) == f"message version {NEWER} is not supported here (this office reads versions 1 to " \
                                 f"{protocol.VERSION})"
    assert not protocol.reads_type(protocol.CATALOGUE, NEWER) and not protocol.reads_type(None, 1)
    assert protocol.reads_type(protocol.CATALOGUE, protocol.CATALOGUE_VERSION)


def test_the_headers_kept_read_back_as_the_envelope_they_came_in():
    properties = pika.BasicProperties(content_encoding="zlib", headers={"x-sync-features": b"day-close",
                                                                        "x-sync-version": NEWER})
    kept = protocol.kept_properties("zlib", protocol.headers_record(properties))
    assert protocol.read_envelope(kept) == protocol.read_envelope(properties)
    assert protocol.read_envelope(protocol.kept_properties(None, "not json")).features == ()


@pytest.mark.parametrize("waiting, words", [
    (Waiting(0), ""),
    (Waiting(1, (NEWER,)), f"1 message from the Head Office waits for this branch to be upgraded (it is of version "
                           f"{NEWER}; this office reads versions 1 to {protocol.VERSION})"),
    (Waiting(3, (NEWER, NEWER + 1)), f"3 messages from the Head Office wait for this branch to be upgraded (they are "
                                     f"of versions {NEWER} and {NEWER + 1}; this office reads versions 1 to "
                                     f"{protocol.VERSION})"),
])
def test_status_says_what_waits_in_one_sentence(waiting, words):
    assert waiting_sentence(waiting) == words


def test_the_clerk_is_told_in_the_bad_tone_beside_the_days():
    alone, tone = clerk_sentence(DayStatus(), waiting=2)
    assert alone.startswith("The Head Office sent 2 updates") and tone == "bad"
    assert clerk_sentence(DayStatus(), waiting=0)[1] == "muted"
    both, tone = clerk_sentence(DayStatus(last_certified=dt.date(2026, 11, 27)), waiting=1)
    assert both.startswith("The Head Office has every sale of Fri 27 Nov") and "sent an update" in both and tone == "bad"

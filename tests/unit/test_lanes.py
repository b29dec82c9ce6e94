"""The publishing lanes' accounting: every message given to a lane is reported once,
confirmed or not sent, so that the drain never waits for a report that cannot come.

No broker is needed: the lanes' URL points at a closed port, as a broker that refuses
the extra connections looks to them.
"""
from __future__ import annotations

import logging
import queue

import pika

from config import BranchConfig
from sync.lanes import Confirmed, Lanes, LaneUnavailable, Message, NotSent, _Lane

NOWHERE = BranchConfig(role="branch", code="bo1", name="East", db_url="mysql+pymysql://nobody@127.0.0.1:1/none",
                       amqp_urls=("amqp://nobody:none@127.0.0.1:1/%2F",), backoff_max_seconds=0.1)
LOG = logging.getLogger("tests.lanes")


def message(*seqs: int) -> Message:
    return Message("x", "bo1", b"{}", pika.BasicProperties(), list(seqs))


def test_a_lane_closed_before_its_loop_began_reports_the_message_it_was_given():
    # Reproduced in CI: with the broker allowing the branch one connection, the first lane's
    # refusal closed the others while they were still connecting; a lane that found itself
    # closed returned without a word, the pool counted its message in flight for ever, and
    # the agent sent nothing more that session.
    results: queue.Queue[tuple[_Lane, Confirmed]] = queue.Queue()
    lane = _Lane(NOWHERE, 0, 1, results, LOG)
    lane.give(message(7, 8))
    lane.close()
    lane.start()
    lane.join(10)
    reported, report = results.get(timeout=1)
    assert reported is lane and report.seqs == [7, 8] and isinstance(report.error, LaneUnavailable)
    assert results.empty()


def test_when_the_broker_refuses_the_lanes_every_message_comes_back_as_not_sent_and_the_pool_has_room_again():
    lanes = Lanes(NOWHERE, 0, 3, channel=None, log=LOG)
    try:
        for n in range(3):
            lanes.publish(message(n))
        reports = [lanes.confirmed(timeout=10) for _ in range(3)]
        assert all(r is not None and isinstance(r.error, NotSent) for r in reports)
        assert sorted(s for r in reports if r for s in r.seqs) == [0, 1, 2]
        assert lanes.in_flight == 0 and lanes.has_room()
    finally:
        lanes.close()

"""A three-node RabbitMQ cluster on this machine, its quorum queues replicated on every
node, and the node every office is connected to killed with -9 in the middle of a
drain: the offices fail over down their list of AMQP URLs and nothing is lost or
duplicated."""
from __future__ import annotations

import dataclasses

from devtools.rabbit_nodes import RabbitCluster
from sync.broker import Names
from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay
from tests.harness import assert_converged, head_office_rows, insert_sales, running, wait_for

SALES_PER_BRANCH = 2_000
BATCH_ROWS = 20


def test_killing_the_broker_node_the_offices_use_mid_drain_loses_and_duplicates_nothing(make_offices):
    with RabbitCluster(size=3) as cluster:
        first, *others = cluster.nodes
        # Every office lists the three nodes; all start on the first, which then dies.
        offices = make_offices(amqp_urls=cluster.amqp_urls)
        ho = offices.engine("ho")
        # Small batches: many messages in flight when the node dies.
        relays = [OutboxRelay(dataclasses.replace(b, batch_rows=BATCH_ROWS)) for b in offices.branches]
        with running(IntakeConsumer(offices.ho), *relays):
            wait_for(lambda: cluster.connections_on(first) >= 4, 30, "every office to connect to the first node")
            names = Names(offices.ho.topology_prefix)
            ours = {names.intake_queue, names.dead_queue, *[names.receipts_queue(b.code) for b in offices.branches]}
            members = {q: m for q, m in cluster.queue_members().items() if q in ours}
            assert members == {q: {n.name for n in cluster.nodes} for q in ours}, "every queue must live on all three nodes"

            for b in offices.branches:
                insert_sales(offices.engine(b.code), SALES_PER_BRANCH)
            wait_for(lambda: len(head_office_rows(ho)) >= 200, 60, "the drain to be under way")
            first.kill()
            assert len(head_office_rows(ho)) < 3 * SALES_PER_BRANCH, "the kill came too late to be mid-drain"

            assert_converged(offices, timeout=120)
            assert sum(cluster.connections_on(n) for n in others) >= 4, "the offices should now use the surviving nodes"
    assert len(head_office_rows(ho)) == 3 * SALES_PER_BRANCH

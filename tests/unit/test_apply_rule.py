"""The Head Office's rule, without a database: the newest change of each sale wins, and a
change is written only when it is newer than both the row and the delete held."""
from __future__ import annotations

from sync.apply import newest_per_sale, to_write
from sync.protocol import Change, ChangeBatch

ROW = {"qty": 1}


def batch(*changes: Change) -> ChangeBatch:
    return ChangeBatch("bo1", "o", max(c.seq for c in changes), 1, list(changes), [])


def test_the_newest_change_of_each_sale_wins_whatever_the_order_of_the_batches():
    late, early = batch(Change(5, 1, ROW), Change(6, 2, None)), batch(Change(3, 1, {"qty": 9}), Change(4, 2, ROW))
    latest, seqs = newest_per_sale([late, early])
    assert {k: c.seq for k, c in latest.items()} == {1: 5, 2: 6} and sorted(seqs) == [3, 4, 5, 6]


def test_a_repeat_or_an_older_change_is_stale_and_a_delete_is_never_undone_by_an_older_upsert():
    latest, _ = newest_per_sale([batch(Change(4, 1, ROW), Change(7, 2, ROW), Change(9, 3, None))])
    upserts, deletes = to_write(latest, versions={1: 4, 2: 8}, tombstones={3: 2})
    assert (upserts, [c.sale_id for c in deletes]) == ([], [3])  # 4 is held, 7 is older than 8; delete 9 beats 2
    upserts, deletes = to_write({1: Change(5, 1, ROW)}, versions={}, tombstones={1: 6})
    assert upserts == deletes == []  # the delete at 6 stands
    upserts, _ = to_write({1: Change(7, 1, ROW)}, versions={}, tombstones={1: 6})
    assert [c.seq for c in upserts] == [7]  # a newer upsert revives the sale

"""Whatever a branch sends, the Head Office spends a bounded effort on it (no service needed):
a message inflates at most to the size of the largest real one, its JSON is counted
before a single object is built, and unknown keys are refused."""
from __future__ import annotations

import json
import tracemalloc

import pytest

from sync import protocol
from sync.protocol import Poison
from tests.bombs import BOMBS, deflate

KNOWN = {"bo1", "bo2"}
def peak_bytes_while(action) -> int:
    """The most memory Python allocated while ``action()`` ran."""
    tracemalloc.start()
    try:
        action()
    except Poison:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_bomb_is_refused_before_it_costs_more_than_a_real_message(name):
    body = BOMBS[name]()
    assert len(body) < 512 * 1024
    peak = peak_bytes_while(lambda: protocol.decode_changes(body, "zlib", KNOWN))
    with pytest.raises(Poison):
        protocol.decode_changes(body, "zlib", KNOWN)
    # The largest real message (a full batch of the widest rows) costs less than this to decode.
    assert peak < 3 * protocol.MAX_INFLATED_BYTES, f"{name} cost {peak / 1e6:.0f} MB to refuse"


def test_the_inflated_size_is_capped_near_the_largest_real_message():
    widest = [[2**63 - 1, 2**63 - 1, "u", "2021-04-29", "😀" * 64, "😀" * 64, 2_147_483_647,
               "99999999.99", "9999999999.99", "9999999999.99", "9999999999.99"]]
    largest = len(json.dumps({"v": 1, "type": "changes", "branch": "bo1", "origin": "o" * 36, "hw": 2**63 - 1,
                              "at": 2**53, "changes": widest * protocol.MAX_CHANGES},
                         separators=(",", ":"), ensure_ascii=False).encode())  # as a branch writes it
    assert largest <= protocol.MAX_INFLATED_BYTES <= 2 * largest


def test_unknown_keys_are_refused_with_their_names():
    body = deflate(json.dumps({"v": 1, "type": "changes", "branch": "bo1", "origin": "o", "hw": 1, "at": 1,
                               "changes": [[1, 1, "d"]], "padding": "x" * 1000}).encode())
    with pytest.raises(Poison, match="padding"):
        protocol.decode_changes(body, "zlib", KNOWN)

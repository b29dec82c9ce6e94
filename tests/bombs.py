"""Messages built to cost their reader far more than their size: shared by the tests
that refuse them without a service and those that send them to a real Head Office."""
from __future__ import annotations

import zlib

ENVELOPE = '{"v":1,"type":"changes","branch":"bo1","origin":"o","hw":1,"at":1,"changes":'


def deflate(raw: bytes) -> bytes:
    return zlib.compress(raw, 9)


def zlib_bomb() -> bytes:
    """64 KiB on the wire that inflates to about 64 MB of valid-looking JSON."""
    inner = b"[1,1,\"d\"]," * 6_500_000
    return deflate(ENVELOPE.encode() + b"[" + inner + b"[1,1,\"d\"]]}")


def object_bomb(size: int = 3_000_000) -> bytes:
    """Small enough to inflate under any cap, yet a million empty lists once json builds them."""
    return deflate(ENVELOPE.encode() + b"[" + b"[]," * (size // 3) + b"[]]}")


BOMBS = {
    "zlib bomb": zlib_bomb,
    "object bomb": object_bomb,
    "many dicts": lambda: deflate(ENVELOPE.encode() + b"[" + b"{}," * 1_000_000 + b"{}]}"),
    "many numbers": lambda: deflate(ENVELOPE.encode() + b"[[" + b"1," * 1_500_000 + b"1]]}"),
    "deep nesting": lambda: deflate(ENVELOPE.encode() + b"[" * 100_000 + b"]" * 100_000 + b"}"),
}

"""Prefixed, time-sortable identifiers (`ntf_01JD…`), ULID-style.

48 bits of milliseconds then 80 random bits, in Crockford base32: ids sort by creation time,
which keeps B-tree inserts append-only and makes cursors on `id` stable.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """Return a new identifier such as `ntf_01JDQ2X7T5R3C9V0Y8N4KZP6QW`."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return f"{prefix}_{''.join(reversed(chars))}"

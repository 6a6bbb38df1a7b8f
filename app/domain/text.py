"""Text that every database stores.

A NUL character is refused by PostgreSQL in `text` columns and kept by SQLite, and a lone
surrogate (half of a UTF-16 pair, which JSON's `\\ud800` escape can carry) cannot be encoded as
UTF-8 for either driver. Both are refused wherever a client sends text, with one message that
does not repeat the value.
"""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Text must not contain a NUL character or a lone surrogate"


def is_storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None

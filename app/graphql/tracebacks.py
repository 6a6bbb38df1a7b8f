"""Tracebacks for the error log with every exception's message cut short.

An exception's message often quotes the value that caused it (Tortoise's "Length of '<the
whole value>' 321 > 320", a driver's encoding error): logged whole, whatever a client sends
would be written into the log. The stack is kept whole; each message of the chain is cut to
`MAX_MESSAGE` characters. The standard library's `traceback` formats every exception's full
message with no limit, hence this.
"""

from __future__ import annotations

import traceback

MAX_MESSAGE = 120
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _cut(text: str) -> str:
    if len(text) <= MAX_MESSAGE:
        return text
    return f"{text[:MAX_MESSAGE]}… ({len(text)} characters)"


def short_traceback(error: BaseException) -> str:
    chain: list[tuple[BaseException, str]] = []
    current: BaseException | None = error
    link = ""
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None
    parts: list[str] = []
    for exception, link in reversed(chain):
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(exception.__traceback__))
        parts.append(f"{type(exception).__qualname__}: {_cut(str(exception))}\n{link}")
    return "".join(parts).rstrip("\n")

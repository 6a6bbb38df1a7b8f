"""The verdicts of the request limits (`app.graphql.limits`), kept so that a document seen
before is not walked again: a bounded LRU by document, and by the values of the variables
that the walk read for it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

VERDICTS_KEPT = 512
_ABSENT = object()


class Verdicts:
    """The refusal (None: none) of each operation seen lately, by document (its text and
    operation name) and the given values of the variables its walk read, with their types
    (`true` is not `1`). The walk is deterministic: the same document and the same values of
    what it reads give the same path and the same verdict, whatever the other variables."""

    def __init__(self, maxsize: int = VERDICTS_KEPT) -> None:
        self.maxsize = maxsize
        self.read: OrderedDict[Hashable, frozenset[str]] = OrderedDict()
        self.verdicts: OrderedDict[Hashable, tuple[str | None]] = OrderedDict()

    def verdict(
        self,
        document: Hashable,
        variables: Mapping[str, Any],
        walk: Callable[[set[str]], str | None],
    ) -> str | None:
        """The kept verdict, else `walk(read)`'s, which adds to `read` the variables read."""
        names = self.read.get(document)
        if names is not None:
            key = (document, _values(names, variables))
            try:
                kept = self.verdicts.get(key)
            except TypeError:  # an unhashable value (a list, an object): never kept
                return walk(set())
            if kept is not None:
                self.verdicts.move_to_end(key)
                self.read.move_to_end(document)
                return kept[0]
        read: set[str] = set()
        verdict = walk(read)
        names = frozenset(read)
        try:
            self._put(self.verdicts, (document, _values(names, variables)), (verdict,))
        except TypeError:
            return verdict
        self._put(self.read, document, names)
        return verdict

    def _put(self, kept: OrderedDict[Hashable, Any], key: Hashable, value: object) -> None:
        kept[key] = value
        kept.move_to_end(key)
        if len(kept) > self.maxsize:
            kept.popitem(last=False)


def _values(names: frozenset[str], variables: Mapping[str, Any]) -> Hashable:
    return tuple(
        (name, type(value), value)
        for name in sorted(names)
        for value in (variables.get(name, _ABSENT),)
    )

"""The (event, property) registry as both stores build it, and what a process remembers of it.

The registry only grows, so a pair this process has seen committed needs no INSERT again:
most events carry only names the registry holds already, and their write skips it.
"""

from __future__ import annotations

from typing import Iterable

from .base import Event

# (list id, event name, property name), or (list id, event name, None) for the event type itself.
RegistryPair = tuple[int, str, "str | None"]


def registry_pairs(event: Event, names: Iterable[str]) -> set[RegistryPair]:
    """The pairs that ``event`` adds under each event name of ``names`` (its own, and
    ``identify`` when it is followed by one): the type, and each property name."""
    pairs: set[RegistryPair] = set()
    for name in names:
        pairs.add((event.list_id, name, None))
        pairs.update((event.list_id, name, prop) for prop in event.properties)
    return pairs


class RegistryCache:
    """The registry pairs this process has seen committed: (list, event) -> property names.

    Safe to share between threads: a lookup races only with an addition, and missing a
    pair costs one redundant ``INSERT ... IGNORE``, never a lost one.

    :param limit: most pairs remembered; it starts afresh when full (default 100,000).
    """

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self.names: dict[tuple[int, str], set[str]] = {}
        self.size = 0

    def new_pairs(self, events: Iterable[Event]) -> set[RegistryPair]:
        """The pairs of ``events`` (under their own names) not known to be committed."""
        pairs: set[RegistryPair] = set()
        for event in events:
            known = self.names.get((event.list_id, event.event))
            if known is None:
                pairs.add((event.list_id, event.event, None))
                pairs.update((event.list_id, event.event, name) for name in event.properties)
            elif not known.issuperset(event.properties):
                pairs.update((event.list_id, event.event, name) for name in event.properties if name not in known)
        return pairs

    def unknown(self, pairs: set[RegistryPair]) -> set[RegistryPair]:
        """Those of ``pairs`` not known to be committed."""
        names = self.names
        return {
            pair for pair in pairs
            if (known := names.get((pair[0], pair[1]))) is None or (pair[2] is not None and pair[2] not in known)
        }

    def add(self, pairs: set[RegistryPair]) -> None:
        """Remember ``pairs``, once their transaction has committed."""
        if self.size + len(pairs) > self.limit:
            self.names, self.size = {}, 0
        names = self.names
        for list_id, event, name in pairs:
            known = names.setdefault((list_id, event), set())
            if name is not None:
                known.add(name)
        self.size += len(pairs)

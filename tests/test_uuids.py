"""Server-generated UUIDs are version 7 (RFC 9562): their bits, their time, their order."""

from __future__ import annotations

import threading
import uuid

import pytest

from octeth_tracking.uuids import UUIDv7, uuid7


def test_version_variant_and_time_bits() -> None:
    made = uuid.UUID(UUIDv7(clock=lambda: 1_733_443_200.123)())
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert made.int >> 80 == 1_733_443_200_123  # unix_ts_ms
    assert str(made) == str(made).lower()


@pytest.mark.parametrize("clock", [
    pytest.param(lambda: 1_700_000_000.0, id="a-frozen-clock"),  # every UUID in one millisecond: the counter overflows
    pytest.param(iter(range(2_000_000_000, 0, -1)).__next__, id="a-clock-going-back"),
])
def test_each_uuid_sorts_after_the_one_before(clock) -> None:
    source = UUIDv7(clock=clock)
    made = [source() for _ in range(10_000)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert {uuid.UUID(u).version for u in made} == {7}


def test_threads_share_one_sequence() -> None:
    found: list[list[str]] = [[] for _ in range(4)]

    def make(into: list[str]) -> None:
        into.extend(uuid7() for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(into,)) for into in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [u for into in found for u in into]
    assert len(set(every)) == len(every)
    assert all(into == sorted(into) for into in found)

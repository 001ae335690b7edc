"""Compressed bodies (octeth_tracking/compression.py): the limit is the decompressed size's, decided
while decompressing, so a bomb costs no memory; every coding, exact at the limit's edge.

The answers every adapter shares (gzip, deflate, zstd, 415, 400, a bomb's 413) are in http_checks.py.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import tracemalloc
import zlib
from typing import Callable

import pytest
import zstandard

from conftest import API, codes
from octeth_tracking import compression, create_app
from octeth_tracking.errors import BodyTooLarge, UndecodableBody

LIMIT = 64 * 1024


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-15)
    return packer.compress(data) + packer.flush()


CODINGS = [
    pytest.param("gzip", gzip.compress, id="gzip"),
    pytest.param("deflate", zlib.compress, id="deflate-zlib"),
    pytest.param("deflate", raw_deflate, id="deflate-raw"),
    pytest.param("zstd", zstandard.compress, id="zstd"),
]


def padded(body: dict[str, object], size: int) -> bytes:
    """``body`` as JSON of exactly ``size`` bytes (spaces before the closing brace)."""
    data = json.dumps(body).encode()
    return data[:-1] + b" " * (size - len(data)) + b"}"


@pytest.mark.parametrize("name, encode", CODINGS)
def test_a_ten_megabyte_bomb_costs_no_memory(name: str, encode: Callable[[bytes], bytes]) -> None:
    bomb = encode(b"{" + b" " * 10_000_000 + b"}")
    assert len(bomb) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            compression.decode(bomb, [name], LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3_000_000, peak  # the limit, a step, and the compressed input; never the 10 MB


@pytest.mark.parametrize("name, encode", CODINGS)
def test_the_decompressed_limit_holds_at_its_edge(store, account, name: str, encode: Callable[[bytes], bytes]) -> None:
    api = API(create_app(store=store, max_body_size=LIMIT))
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}
    at_edge = api.event(encode(padded(body, LIMIT)), headers={"Content-Encoding": name})
    assert at_edge.status_code == 200, at_edge.get_json()
    past = api.event(encode(padded(body, LIMIT + 1)), headers={"Content-Encoding": name})
    assert (past.status_code, codes(past)) == (413, [24])
    assert store.count_events() == 1


@pytest.mark.parametrize("name, encode", CODINGS)
@pytest.mark.parametrize("damage", [
    pytest.param(lambda data: data[: len(data) // 2], id="cut-in-half"),
    pytest.param(lambda data: data[:-1], id="last-byte-missing"),
    pytest.param(lambda data: data + b"garbage", id="trailing-garbage"),
    pytest.param(lambda data: data[:4] + bytes(b ^ 0xFF for b in data[4:12]) + data[12:], id="flipped-bytes"),
    pytest.param(lambda data: b"", id="empty"),
])
def test_a_damaged_stream_is_400_code_31_and_stores_nothing(store, account, name: str, encode: Callable[[bytes], bytes],
                                                           damage: Callable[[bytes], bytes]) -> None:
    api = API(create_app(store=store))
    body = json.dumps({"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView",
                       "Properties": {f"p{i}": i for i in range(50)}}).encode()
    answer = api.event(damage(encode(body)), headers={"Content-Encoding": name})
    assert answer.status_code in (400, 422) and answer.status_code < 500
    if answer.status_code == 400:
        assert codes(answer) in ([31], [20])  # flipped bytes may survive as other JSON (raw deflate has no checksum)
    assert store.count_events() == 0


def test_gzip_members_are_read_in_turn() -> None:
    assert compression.decode(gzip.compress(b'{"a":') + gzip.compress(b"1}"), ["gzip"], LIMIT) == b'{"a":1}'


def test_codings_are_undone_last_applied_first() -> None:
    data = zstandard.compress(gzip.compress(b"{}"))
    assert compression.decode(data, compression.codings({"HTTP_CONTENT_ENCODING": "gzip, zstd"}), LIMIT) == b"{}"


def test_a_zstd_frame_asking_for_a_window_past_rfc_9659s_8_mib_is_refused() -> None:
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=27, write_content_size=False)  # 128 MiB
    streaming = zstandard.ZstdCompressor(compression_params=params).compressobj()  # the size unknown: the whole window
    data = streaming.compress(b"{}") + streaming.flush()
    assert zstandard.get_frame_parameters(data).window_size == 1 << 27
    with pytest.raises(UndecodableBody):
        compression.decode(data, ["zstd"], LIMIT)


def test_without_zstandard_zstd_is_an_unknown_encoding(store, account, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "zstandard", None)  # as if the zstd extra were not installed
    api = API(create_app(store=store))
    body = json.dumps({"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}).encode()
    answer = api.event(zstandard.compress(body), headers={"Content-Encoding": "zstd"})
    assert (answer.status_code, codes(answer)) == (415, [30])


def test_a_chunked_gzip_body_is_read(store, account) -> None:
    api = API(create_app(store=store))
    body = gzip.compress(json.dumps({"APIKey": account.api_key, "ListID": account.list_id, "Event": "e"}).encode())
    answer = api.client.post("/api/v1/event", input_stream=io.BytesIO(body), headers={
        "Content-Encoding": "gzip", "Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True})
    assert answer.status_code == 200, answer.get_json()


@pytest.mark.parametrize("name, encode", CODINGS)
def test_one_byte_past_the_limit_is_413_whatever_the_stream_looks_like(name: str, encode: Callable[[bytes], bytes]) -> None:
    """The inflater may hold back the last bytes once all input is taken (about one raw deflate
    stream in nine at this edge): they are asked for, so the answer is 413, never a 400 for a
    stream "cut short"; and a body at the limit always decodes."""
    rng = random.Random(7)
    for _ in range(60):
        body = {"APIKey": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-_") for _ in range(43)), "ListID": 1}
        assert compression.decode(encode(padded(body, LIMIT)), [name], LIMIT) == padded(body, LIMIT)
        with pytest.raises(BodyTooLarge):
            compression.decode(encode(padded(body, LIMIT + 1)), [name], LIMIT)

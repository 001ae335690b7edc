"""Compressed request bodies: ``Content-Encoding`` ``gzip``, ``deflate`` and ``zstd``.

A body is decompressed in bounded steps, and the size limit applies to what comes out:
never more than ``limit + 1`` decompressed bytes are held (and the compressed input at most
once), so a small body that would expand to gigabytes (a "zip bomb") costs a few hundred
kilobytes and earns 413 as soon as it passes the limit.

- ``gzip``: RFC 1952, several members too (as ``gzip`` concatenates them).
- ``deflate``: RFC 9110 says a zlib stream (RFC 1950); a raw deflate stream (RFC 1951), which
  some clients send under that name, is read too, told apart by the zlib header.
- ``zstd``: RFC 8878, through the ``zstandard`` package (the ``zstd`` extra); without it ``zstd``
  is an unknown encoding. A frame may ask a window of at most 8 MiB, as RFC 9659 bounds it for
  HTTP (a larger one is 400); the window is the decoder's only allocation beyond the limit.
- ``identity`` (or no header): the body as sent. Several codings (``gzip, identity``) are undone
  last first, as RFC 9110 says.

Anything else is 415 (code 30); a stream that is corrupt, cut short or followed by bytes of
another kind is 400 (code 31).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Callable

from .errors import BodyTooLarge, UndecodableBody, UnsupportedEncoding

try:
    import zstandard
except ImportError:  # pragma: no cover - the zstd extra is not installed
    zstandard = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

_STEP = 16 * 1024  # decompressed bytes asked for at a time (zlib)
_ZSTD_WINDOW = 8 * 1024 * 1024  # RFC 9659: a zstd content coding's window is at most 8 MiB
_ZSTD_STEP = 64  # compressed bytes fed at a time (zstd): a zstd block may expand ~32,000-fold


def codings(environ: WSGIEnvironment) -> list[str]:
    """The body's content codings in the order they were applied, ``identity`` left out; 415
    (code 30) for one this module cannot undo. Read before the body is."""
    header = str(environ.get("HTTP_CONTENT_ENCODING", ""))
    found = [token.strip().lower() for token in header.split(",") if token.strip()]
    found = [token for token in found if token != "identity"]
    for token in found:
        if token not in supported():
            raise UnsupportedEncoding()
    return found


def supported() -> tuple[str, ...]:
    """The content codings this installation reads."""
    return ("gzip", "x-gzip", "deflate") + (("zstd",) if zstandard is not None else ())


def decode(data: bytes, found: list[str], limit: int) -> bytes:
    """``data`` with its ``found`` codings undone (last applied first); 413 past ``limit`` bytes."""
    for token in reversed(found):
        data = _DECODERS[token](data, limit)
    return data


def _zlib(data: bytes, limit: int, wbits: int, members: bool) -> bytes:
    """Inflate ``data`` with ``wbits`` (31: gzip, 15: zlib, -15: raw), at most ``limit`` bytes out."""
    out = bytearray()
    pending = data
    try:
        while True:
            inflater = zlib.decompressobj(wbits)
            tail = pending
            while not inflater.eof:
                # With all of the input taken, the inflater may still hold output that max_length
                # held back: ask again with nothing more until it gives none.
                chunk = inflater.decompress(tail, min(_STEP, limit + 1 - len(out)))
                out += chunk
                if len(out) > limit:
                    raise BodyTooLarge()
                tail = inflater.unconsumed_tail
                if not chunk and not tail:
                    raise UndecodableBody()  # cut short
            pending = inflater.unused_data
            if not pending:
                return bytes(out)
            if not members:
                raise UndecodableBody()  # bytes after the stream's end
    except zlib.error:
        raise UndecodableBody() from None


def _gzip(data: bytes, limit: int) -> bytes:
    return _zlib(data, limit, 31, members=True)


def _deflate(data: bytes, limit: int) -> bytes:
    # A zlib header: deflate (method 8) and a check that makes the first two bytes a multiple of 31.
    wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
    return _zlib(data, limit, 15 if wrapped else -15, members=False)


def _zstd(data: bytes, limit: int) -> bytes:
    assert zstandard is not None
    out = bytearray()
    try:
        decoder = zstandard.ZstdDecompressor(max_window_size=_ZSTD_WINDOW).decompressobj()
        for start in range(0, len(data), _ZSTD_STEP):
            if decoder.eof:
                raise UndecodableBody()  # bytes after the frame (a second frame is not read)
            out += decoder.decompress(data[start:start + _ZSTD_STEP])
            if len(out) > limit:
                raise BodyTooLarge()
    except zstandard.ZstdError:
        raise UndecodableBody() from None
    if not decoder.eof or decoder.unused_data:
        raise UndecodableBody()  # cut short, or bytes after the frame
    return bytes(out)


_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": _gzip, "x-gzip": _gzip, "deflate": _deflate, "zstd": _zstd,
}


def read_limit(limit: int) -> int:
    """The most compressed bytes read for a decompressed ``limit``: what incompressible data
    costs in any of the codings' framing (a few bytes per 16 KiB, plus headers)."""
    return limit + limit // 256 + 1024

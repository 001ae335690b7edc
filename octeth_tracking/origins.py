"""Origins: the web sites a tracker key may be used from, as written in its allowlist and as browsers send them.

An allowlist entry is an exact origin (``https://example.com``, ``http://localhost:3000``) or
a wildcard over the subdomains of a domain (``https://*.example.com``: ``shop.example.com`` and
``a.b.example.com``, not ``example.com`` itself, as a TLS wildcard). Entries are stored as a
browser serialises an ``Origin`` header (RFC 6454): scheme and host lower-cased, the scheme's
default port left out, a host in punycode. A request's ``Origin`` is then on the list when the
list holds one of :func:`candidates` of it, compared exactly.
"""

from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")


def _host(host: str) -> str:
    """``host`` as an origin carries it: lower case, punycode; ``ValueError`` if it is none."""
    if host.startswith("[") and host.endswith("]"):  # an IPv6 address
        return host
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError(f"{host!r} is not a host name") from None
    if not ascii_host or not all(_LABEL.match(label) for label in ascii_host.split(".")):
        raise ValueError(f"{host!r} is not a host name")
    return ascii_host


def normalize_origin(text: str) -> str:
    """An allowlist entry in its stored form; ``ValueError`` says what is wrong with it.

    ``https://Example.com:443/`` becomes ``https://example.com``; a path, query, fragment or
    user name is refused (an origin has none), and so are ``null`` and a bare ``*``.
    """
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.netloc:
        raise ValueError(f"{text!r} is not an origin: write it as https://example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{text!r} is not an origin: no path, query or user name (https://example.com)")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{text!r} has an invalid port") from None
    host = parts.netloc.rsplit(":", 1)[0] if port is not None or parts.netloc.endswith(":") else parts.netloc
    wildcard = host.startswith("*.")
    if wildcard:
        host = host[2:]
        if "." not in host:
            raise ValueError(f"{text!r}: a wildcard needs a domain of two labels or more (https://*.example.com)")
    host = _host(host)
    suffix = f":{port}" if port is not None and port != DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{'*.' if wildcard else ''}{host}{suffix}"


def candidates(origin: str) -> list[str]:
    """The allowlist entries that admit ``origin`` (an ``Origin`` header as sent): itself, and the
    wildcards over each of its parent domains (``https://*.b.example.com``, ``https://*.example.com``)."""
    scheme, sep, rest = origin.partition("://")
    if not sep or rest.startswith("["):
        return [origin]
    host, colon, port = rest.partition(":")
    labels = host.split(".")
    found = [origin]
    for start in range(1, len(labels) - 1):  # never *.com: a wildcard spans two labels or more
        found.append(f"{scheme}://*.{'.'.join(labels[start:])}{colon}{port}")
    return found


def allowed(allowlist: Iterable[str], origin: str | None) -> bool:
    """Whether ``origin`` (the request's ``Origin`` header) is on ``allowlist`` (stored entries)."""
    if not origin or origin == "null":
        return False
    entries = set(allowlist)
    return any(candidate in entries for candidate in candidates(origin))

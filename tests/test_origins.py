"""Origin allowlists: how an entry is written down, and which request origins it admits."""

from __future__ import annotations

import pytest

from octeth_tracking.origins import allowed, normalize_origin


@pytest.mark.parametrize("written, stored", [
    pytest.param("https://example.com", "https://example.com", id="plain"),
    pytest.param("HTTPS://Example.COM/", "https://example.com", id="case-and-slash"),
    pytest.param("https://example.com:443", "https://example.com", id="default-port"),
    pytest.param("http://example.com:80", "http://example.com", id="default-http-port"),
    pytest.param("http://localhost:3000", "http://localhost:3000", id="port-kept"),
    pytest.param("http://127.0.0.1:8080", "http://127.0.0.1:8080", id="ip"),
    pytest.param("http://[::1]:8080", "http://[::1]:8080", id="ipv6"),
    pytest.param("https://bücher.example", "https://xn--bcher-kva.example", id="idn-as-punycode"),
    pytest.param("https://*.Example.com", "https://*.example.com", id="wildcard"),
    pytest.param("  https://example.com  ", "https://example.com", id="spaces"),
])
def test_entries_are_stored_as_browsers_send_origins(written, stored):
    assert normalize_origin(written) == stored


@pytest.mark.parametrize("written", [
    pytest.param("example.com", id="no-scheme"),
    pytest.param("ftp://example.com", id="other-scheme"),
    pytest.param("https://example.com/shop", id="path"),
    pytest.param("https://example.com?x=1", id="query"),
    pytest.param("https://example.com#top", id="fragment"),
    pytest.param("https://ann@example.com", id="user"),
    pytest.param("https://example.com:99999", id="bad-port"),
    pytest.param("https://*.com", id="wildcard-over-a-top-level-domain"),
    pytest.param("https://*", id="bare-wildcard"),
    pytest.param("https://shop.*.example.com", id="wildcard-inside"),
    pytest.param("null", id="null"),
    pytest.param("https://exa mple.com", id="space-in-host"),
    pytest.param("https://-bad.example", id="label-starting-with-a-hyphen"),
])
def test_what_is_not_an_origin_is_refused_with_its_reason(written):
    with pytest.raises(ValueError, match="origin|host|port|wildcard"):
        normalize_origin(written)


LIST = ["https://shop.example", "https://*.example.com", "http://localhost:3000"]


@pytest.mark.parametrize("origin, admitted", [
    pytest.param("https://shop.example", True, id="exact"),
    pytest.param("http://shop.example", False, id="other-scheme"),
    pytest.param("https://shop.example:8443", False, id="other-port"),
    pytest.param("https://www.shop.example", False, id="a-subdomain-of-an-exact-entry"),
    pytest.param("https://a.example.com", True, id="wildcard-subdomain"),
    pytest.param("https://a.b.example.com", True, id="wildcard-deeper"),
    pytest.param("https://example.com", False, id="wildcard-not-the-domain-itself"),
    pytest.param("https://evil-example.com", False, id="lookalike"),
    pytest.param("https://example.com.evil.test", False, id="suffix-trick"),
    pytest.param("https://a.example.com:8443", False, id="wildcard-keeps-the-port"),
    pytest.param("http://localhost:3000", True, id="localhost"),
    pytest.param("null", False, id="null"),
    pytest.param("", False, id="empty"),
    pytest.param(None, False, id="none"),
])
def test_which_request_origins_a_list_admits(origin, admitted):
    assert allowed(LIST, origin) is admitted

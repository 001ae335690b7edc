"""The pytest plugin: fixtures that give a test an in-memory tracking app, with an account.

Registered by the package itself (the ``pytest11`` entry point in ``pyproject.toml``), so a
project that installs octeth-tracking has the fixtures without a line of configuration. It
imports only pytest until a test asks for a fixture.

- ``octeth_tracking``: a :class:`~octeth_tracking.testing.TrackingKit`, in process (its
  ``client`` is werkzeug's test client), new for each test;
- ``octeth_tracking_server``: the same kit served over HTTP on a free loopback port (its
  ``url``), for code that calls the API itself: a site's own client, a browser test.

``@pytest.mark.octeth_tracking(max_body_size=1000, ...)`` passes ``TrackingApp`` arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from .testing import TrackingKit


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "octeth_tracking(**options): TrackingApp arguments for the octeth_tracking fixtures")


def _kit(request: pytest.FixtureRequest) -> TrackingKit:
    from .testing import TrackingKit

    marker = request.node.get_closest_marker("octeth_tracking")
    return TrackingKit(**(marker.kwargs if marker else {}))


@pytest.fixture
def octeth_tracking(request: pytest.FixtureRequest) -> Iterator[TrackingKit]:
    """An in-memory tracking app with a user, an API key and a list, and helpers (``track``, ``events``, ...)."""
    kit = _kit(request)
    yield kit
    kit.close()


@pytest.fixture
def octeth_tracking_server(request: pytest.FixtureRequest) -> Iterator[TrackingKit]:
    """The same, served on a free loopback port while the test runs: ``octeth_tracking_server.url``."""
    kit = _kit(request)
    with kit.serve():
        yield kit
    kit.close()

"""One rule from settings to app, whichever host supplies the settings."""

from __future__ import annotations

import pytest
from flask import Flask

from octeth_tracking import MemoryRateLimiter, SQLiteStore, create_app
from octeth_tracking.config import app_from_settings
from octeth_tracking.contrib.flask import init_app
from octeth_tracking.ratelimit_redis import RedisRateLimiter


def flask_app(settings, tmp_path):
    site = Flask(__name__, instance_path=str(tmp_path / "instance"))
    site.config.update(settings)
    return init_app(site)


def environment_app(settings, tmp_path, monkeypatch):
    for name, value in settings.items():
        monkeypatch.setenv(name, str(value))
    return create_app().mounts["/api/v1"]


@pytest.mark.parametrize("build", [
    pytest.param(lambda settings, tmp_path, monkeypatch: app_from_settings(settings), id="mapping"),
    pytest.param(lambda settings, tmp_path, monkeypatch: flask_app(settings, tmp_path), id="flask-config"),
    pytest.param(environment_app, id="environment"),
])
def test_store_limiter_and_limits_come_from_settings(build, tmp_path, monkeypatch):
    settings = {
        "OCTETH_TRACKING_DB": str(tmp_path / "chosen.db"),
        "OCTETH_TRACKING_REDIS": "redis://127.0.0.1:6379/0",
        "OCTETH_TRACKING_MAX_BODY_SIZE": 1234,
    }
    app = build(settings, tmp_path, monkeypatch)
    try:
        assert isinstance(app.store, SQLiteStore) and app.store.path == settings["OCTETH_TRACKING_DB"]
        assert isinstance(app.rate_limiter, RedisRateLimiter)
        assert app.max_body_size == 1234
    finally:
        app.store.close()


def test_without_redis_the_limiter_is_in_memory(tmp_path):
    app = app_from_settings({"OCTETH_TRACKING_DB": tmp_path / "path-object.db"})
    assert isinstance(app.rate_limiter, MemoryRateLimiter)
    app.store.close()

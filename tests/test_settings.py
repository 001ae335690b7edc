"""One rule from settings to app, whichever host supplies the settings."""

from __future__ import annotations

import pytest
from flask import Flask

from octeth_tracking import MemoryRateLimiter, SQLiteStore, create_app
from octeth_tracking.settings import ARGUMENT_RULES
from octeth_tracking.config import app_from_settings, settings_names
from octeth_tracking.storage import open_store
from octeth_tracking.contrib.flask import init_app
from octeth_tracking.schemas import _limit_rules, schema_limits
from octeth_tracking.ratelimit_redis import RedisRateLimiter


def flask_app(settings, tmp_path):
    site = Flask(__name__, instance_path=str(tmp_path / "instance"))
    site.config.update(settings)
    return init_app(site)


def environment_app(settings, tmp_path, monkeypatch):
    for name, value in settings.items():
        monkeypatch.setenv(name, "null" if value is None else str(value))
    return create_app().mounts["/api/v1"]


BUILDS = [
    pytest.param(lambda settings, tmp_path, monkeypatch: app_from_settings(settings), id="mapping"),
    pytest.param(lambda settings, tmp_path, monkeypatch: flask_app(settings, tmp_path), id="flask-config"),
    pytest.param(environment_app, id="environment"),
]


@pytest.mark.parametrize("build", BUILDS)
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


@pytest.mark.parametrize("build", BUILDS)
def test_a_setting_given_as_text_is_read_as_the_json_literal_it_holds(build, tmp_path, monkeypatch):
    # os.environ.get(...) in a Django settings file or a Flask config gives text.
    settings = {"OCTETH_TRACKING_DB": str(tmp_path / "t.db"), "OCTETH_TRACKING_MAX_BODY_SIZE": "1234",
                "OCTETH_TRACKING_RATE_LIMIT_WINDOW": "0.5", "OCTETH_TRACKING_MAX_EVENT_LENGTH": "null"}
    app = build(settings, tmp_path, monkeypatch)
    try:
        assert (app.max_body_size, app.rate_limit_window) == (1234, 0.5)
    finally:
        app.store.close()


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("name, value, rule", [
    pytest.param("MAX_BODY_SIZE", -5, "an integer, 1 or more", id="body-size-negative"),
    pytest.param("MAX_BODY_SIZE", "64 KiB", "an integer, 1 or more", id="body-size-text"),
    pytest.param("EVENT_RATE_LIMIT", 2.5, "an integer, 0 or more", id="rate-limit-fraction"),
    pytest.param("MAX_BODY_SIZE", 0, "an integer, 1 or more", id="body-size-zero"),
    pytest.param("PROPERTIES_RATE_LIMIT", "true", "an integer, 0 or more", id="rate-limit-bool"),
    pytest.param("RATE_LIMIT_WINDOW", 0, "a number of seconds above 0", id="window-zero"),
    pytest.param("AUTH_CACHE_TTL", -1, "a number of seconds, 0 or more", id="ttl-negative"),
    pytest.param("MAX_EVENT_LENGTH", -1, "an integer, 0 or more, or None", id="event-length-negative"),
    pytest.param("MAX_PROPERTIES", "[2]", "an integer, 0 or more, or None", id="properties-list"),
    pytest.param("MAX_PROPERTIES_DEPTH", "deep", "an integer, 0 or more, or None", id="depth-text"),
    pytest.param("MAX_STRING_LENGTH", 1e400, "an integer, 0 or more, or None", id="string-length-infinite"),
    pytest.param("WRITE_TIMEOUT", 0, "a number of seconds above 0", id="write-timeout-zero"),
    pytest.param("WRITE_TIMEOUT", "soon", "a number of seconds above 0", id="write-timeout-text"),
    pytest.param("LOG_FORMAT", "xml", "'text' or 'json'", id="log-format-unknown"),
    pytest.param("METRICS_TOKEN", "short", "text of 16 printable characters or more, or None", id="metrics-token-short"),
    pytest.param("METRICS_TOKEN", 12345678901234567890, "text of 16 printable characters or more, or None",
                 id="metrics-token-a-number"),
])
def test_a_bad_value_fails_when_the_app_is_built_naming_its_setting(build, tmp_path, monkeypatch, name, value, rule):
    settings = {"OCTETH_TRACKING_DB": str(tmp_path / "bad.db"), f"OCTETH_TRACKING_{name}": value}
    with pytest.raises(ValueError, match=f"^{name.lower()} must be {rule}, not .* [(]the setting OCTETH_TRACKING_{name}[)]$"):
        build(settings, tmp_path, monkeypatch)


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("name, value, read", [
    pytest.param("EVENT_RATE_LIMIT", 100.0, 100, id="integral-float"),
    pytest.param("MAX_BODY_SIZE", "1e5", 100_000, id="exponent-text"),
    pytest.param("MAX_PROPERTIES", 0, 0, id="no-properties-allowed"),
    pytest.param("RATE_LIMIT_WINDOW", 0.25, 0.25, id="fractional-window"),
    pytest.param("MAX_STRING_LENGTH", None, schema_limits("event")["max_string_length"], id="none-is-the-schemas-own"),
    pytest.param("EVENT_RATE_LIMIT", None, 5000, id="none-is-the-default"),
])
def test_values_that_mean_a_number_are_that_number(build, tmp_path, monkeypatch, name, value, read):
    settings = {"OCTETH_TRACKING_DB": str(tmp_path / "ok.db"), f"OCTETH_TRACKING_{name}": value}
    app = build(settings, tmp_path, monkeypatch)
    try:
        limits = {limit.upper(): rule[keyword] for limit, rule, keyword in _limit_rules(app.schemas["event"].schema)}
        found = {"EVENT_RATE_LIMIT": app.rate_limits["event"], "MAX_BODY_SIZE": app.max_body_size,
                 "RATE_LIMIT_WINDOW": app.rate_limit_window, **limits}[name]
        assert found == read and type(found) is type(read)
    finally:
        app.store.close()


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("name, value, attribute, read", [
    pytest.param("WRITE_TIMEOUT", "2.5", "busy_timeout", 2.5, id="write-timeout"),
    pytest.param("VISITOR_INDEX_EVERY", "500", "visitor_index_every", 500, id="visitor-index-every"),
])
def test_the_store_settings_reach_the_store(build, tmp_path, monkeypatch, name, value, attribute, read):
    settings = {"OCTETH_TRACKING_DB": str(tmp_path / "s.db"), f"OCTETH_TRACKING_{name}": value}
    app = build(settings, tmp_path, monkeypatch)
    try:
        assert getattr(app.store, attribute) == read
    finally:
        app.store.close()


def test_visitor_index_every_is_refused_for_postgresql_and_below_1():
    with pytest.raises(ValueError, match="visitor_index_every is for a SQLite store"):
        open_store("postgresql://127.0.0.1/test", visitor_index_every=100)
    with pytest.raises(ValueError, match="visitor_index_every must be an integer, 1 or more, not 0"):
        SQLiteStore(":memory:", visitor_index_every=0)


def test_every_setting_has_a_rule():
    assert sorted(ARGUMENT_RULES) == sorted(settings_names())


@pytest.mark.parametrize("prefix", ["", "/"])
def test_flask_refuses_a_prefix_that_would_hide_the_site(tmp_path, prefix):
    site = Flask(__name__, instance_path=str(tmp_path / "instance"))
    site.config["OCTETH_TRACKING_PREFIX"] = prefix
    with pytest.raises(ValueError, match="would hide every page of the site"):
        init_app(site)


@pytest.mark.parametrize("config, mounted, elsewhere", [
    pytest.param({}, "/api/v1", "/track", id="default"),
    pytest.param({"OCTETH_TRACKING_PREFIX": "/track"}, "/track", "/api/v1", id="from-the-config"),
])
def test_flask_mounts_where_the_config_says(tmp_path, config, mounted, elsewhere):
    site = Flask(__name__, instance_path=str(tmp_path / "instance"))
    site.config.update(config)
    tracking = init_app(site)
    client = site.test_client()
    try:
        assert client.post(mounted + "/event", data=b"{}").get_json()["Errors"][0]["Code"] == 99998
        assert client.post(elsewhere + "/event", data=b"{}").status_code == 404  # the site's own 404
    finally:
        tracking.store.close()

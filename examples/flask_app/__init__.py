"""A small Flask site with its own users, serving the tracking API at /api/v1 beside its pages.

``flask --app examples/flask_app run`` serves it; ``create-user``, ``create-list`` and
``create-tracker`` and ``create-field`` provision the site's accounts (a tracker key only for
the list's owner) and its lists' custom fields. With ``TRACKER_KEY`` set (``FLASK_TRACKER_KEY``),
the site's home page carries the browser tracker's snippet for that key. Configuration:
``app.config`` (or ``FLASK_*`` environment variables, e.g. ``FLASK_SITE_DB``,
``FLASK_OCTETH_TRACKING_DB``), defaults in the instance folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import click
from flask import Flask, request

from octeth_tracking.browser import snippet
from octeth_tracking.contrib.flask import init_app

from . import accounts


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(Path(__file__).parent / "instance"))
    app.config.from_mapping(
        SITE_DB=os.path.join(app.instance_path, "site.db"),
        OCTETH_TRACKING_DB=os.path.join(app.instance_path, "events.db"),
    )
    if test_config is None:
        app.config.from_prefixed_env()
    else:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    site_db = app.config["SITE_DB"]
    accounts.init_db(site_db)
    authenticator = accounts.SiteAuthenticator(path=site_db)

    @app.get("/")
    def home() -> str:
        tracker = authenticator.tracker_key(app.config.get("TRACKER_KEY") or "")
        head = snippet(request.url_root + "api/v1", app.config["TRACKER_KEY"], tracker.list_id) if tracker else ""
        return (f"<!doctype html><html><head><title>Example site</title>{head}</head><body><h1>Example site</h1>"
                f"<p>Users: {accounts.count_users(site_db)}. Events go to /api/v1/event.</p></body></html>")

    @app.cli.command("create-user")
    @click.argument("name")
    def create_user(name: str) -> None:
        """Create a site user with an API key; print them as one JSON object."""
        user_id, api_key = accounts.create_user(site_db, name)
        click.echo(json.dumps({"user_id": user_id, "api_key": api_key}))

    @app.cli.command("create-list")
    @click.option("--user-id", type=int, required=True)
    @click.argument("name")
    def create_list(user_id: int, name: str) -> None:
        """Create a list owned by the user; print its id as one JSON object."""
        list_id = accounts.create_list(site_db, user_id, name)
        if list_id is None:
            raise click.ClickException(f"no user with id {user_id}")
        click.echo(json.dumps({"list_id": list_id}))

    @app.cli.command("create-tracker")
    @click.option("--user-id", type=int, required=True)
    @click.option("--list-id", type=int, required=True)
    @click.option("--origin", "origins", multiple=True, help="a site that may use it, e.g. https://example.com")
    @click.option("--server-side", is_flag=True, help="also accept requests without an Origin")
    def create_tracker(user_id: int, list_id: int, origins: tuple[str, ...], server_side: bool) -> None:
        """Create a public tracker key for one of the user's lists; print it as one JSON object."""
        try:
            created = accounts.create_tracker(site_db, user_id, list_id, origins, server_side)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        if created is None:
            raise click.ClickException(f"user {user_id} has no list {list_id}")
        click.echo(json.dumps({"tracker_id": created[0], "tracker_key": created[1]}))

    @app.cli.command("revoke-tracker")
    @click.option("--user-id", type=int, required=True)
    @click.argument("key")
    def revoke_tracker(user_id: int, key: str) -> None:
        """Revoke a tracker key of one of the user's lists."""
        revoked = accounts.revoke_tracker(site_db, user_id, key)
        click.echo(json.dumps({"revoked": revoked}))
        if not revoked:
            raise SystemExit(1)

    @app.cli.command("create-field")
    @click.option("--list-id", type=int, required=True)
    @click.option("--merge-tag", help="the IdentifyProperties key that names it, such as First-Name")
    @click.option("--key", is_flag=True, help="the list's unique identifier")
    @click.argument("label")
    def create_field(list_id: int, merge_tag: str | None, key: bool, label: str) -> None:
        """Create a custom field of a list; print its id as one JSON object."""
        field_id = accounts.create_field(site_db, list_id, label, merge_tag, key)
        if field_id is None:
            raise click.ClickException(f"no list with id {list_id}")
        click.echo(json.dumps({"field_id": field_id}))

    # Everything under /api/v1 (and /api.php) is the tracking API's, against this site's users and fields.
    init_app(app, url_prefix="/api/v1", authenticator=authenticator,
             custom_fields=accounts.SiteFields(path=site_db))
    return app

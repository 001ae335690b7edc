"""A small Flask site with its own users, serving the tracking API at /api/v1 beside its pages.

``flask --app examples/flask_app run`` serves it; ``create-user``, ``create-list`` and
``create-field`` provision the site's accounts and its lists' custom fields. Configuration: ``app.config`` (or ``FLASK_*`` environment variables,
e.g. ``FLASK_SITE_DB``, ``FLASK_OCTETH_TRACKING_DB``), defaults in the instance folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import click
from flask import Flask

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

    @app.get("/")
    def home() -> str:
        return f"<h1>Example site</h1><p>Users: {accounts.count_users(site_db)}. Events go to /api/v1/event.</p>"

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
    init_app(app, url_prefix="/api/v1", authenticator=accounts.SiteAuthenticator(path=site_db),
             custom_fields=accounts.SiteFields(path=site_db))
    return app

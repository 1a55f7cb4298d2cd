"""The orders service: orders placed by users (checked through the users API)."""

from __future__ import annotations

import os

from flask import Flask

from chassis.app import create_service_app
from chassis.db import Database

__version__ = "0.1.0"


def create_app(environ=os.environ, database: Database | None = None) -> Flask:
    from orders import api, users_client

    app = create_service_app("orders", __version__, api.OPERATIONS, database, environ)
    app.extensions["users_client"] = users_client.UsersClient.from_env(environ)
    app.register_blueprint(api.blueprint)
    return app

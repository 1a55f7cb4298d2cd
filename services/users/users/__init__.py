"""The users service: people who can place orders."""

from __future__ import annotations

import os

from flask import Flask

from chassis.app import create_service_app
from chassis.db import Database

__version__ = "0.1.0"


def create_app(environ=os.environ, database: Database | None = None) -> Flask:
    from users import api  # imported here so that importing the package has no side effects

    app = create_service_app("users", __version__, api.OPERATIONS, database, environ)
    app.register_blueprint(api.blueprint)
    return app

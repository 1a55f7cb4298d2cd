"""The Flask app every service starts from: settings, logs, errors, request ids, health, OpenAPI."""

from __future__ import annotations

import logging
import os

from flask import Flask, Response, jsonify
from werkzeug.routing import BaseConverter, ValidationError

from chassis import logs, openapi, problems, web
from chassis.db import Database
from chassis.forwarding import forwarded_prefix
from chassis.settings import DatabaseSettings

log = logging.getLogger(__name__)
MAX_ID = 2**63 - 1


class IdConverter(BaseConverter):
    """Positive ids that fit a BIGINT; anything else is a 404 before the database sees it."""

    regex = r"[1-9][0-9]{0,18}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValidationError()
        return number


def create_service_app(name: str, version: str, operations: list[openapi.Operation],
                       database: Database | None = None, environ=os.environ) -> Flask:
    logs.configure(environ.get("LOG_LEVEL", "info"))
    app = Flask(name)
    app.url_map.converters["id"] = IdConverter
    app.url_map.strict_slashes = False
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    web.register(app)
    problems.register(app)

    if database is None:
        database = Database(DatabaseSettings.from_env(environ), application_name=name)
    app.extensions["database"] = database

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        try:
            database.ping()
        except Exception as exc:  # any failure means "not ready"; the reason goes to the log
            log.warning("not ready: %s", exc.__class__.__name__)
            raise problems.Problem(503, "Service Unavailable", "The database is not reachable.") from None
        return {"status": "ready"}

    @app.get("/openapi.json")
    def openapi_json() -> Response:
        return jsonify(openapi.build(name, version, operations, forwarded_prefix()))

    return app


def database_of(app: Flask) -> Database:
    return app.extensions["database"]


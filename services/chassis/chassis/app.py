"""The Flask app every service starts from: settings, logs, errors, request ids, health, OpenAPI."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Mapping

from flask import Flask, Response, jsonify
from werkzeug.routing import BaseConverter, ValidationError

from chassis import logs, openapi, problems, web
from chassis.db import Database
from chassis.forwarding import forwarded_prefix
from chassis.settings import DatabaseSettings

log = logging.getLogger(__name__)
MAX_ID = 2**63 - 1


def _up_to(limit: int) -> str:
    """A regex for the decimal numbers 1..limit (no leading zeros): fewer digits, or as many
    digits with a smaller digit at some position after an equal prefix, or the limit itself."""
    digits = str(limit)
    choices = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"]
    for i, digit in enumerate(digits):
        lowest = 1 if i == 0 else 0
        if int(digit) > lowest:
            choices.append(f"{digits[:i]}[{lowest}-{int(digit) - 1}][0-9]{{{len(digits) - i - 1}}}")
    return "(?:" + "|".join([*choices, digits]) + ")"


class IdConverter(BaseConverter):
    """Positive ids that fit a BIGINT; anything else is a 404 before the database sees it.

    The range is in the regex, not in ``to_python``: when a converter raises ValidationError,
    werkzeug stops matching and answers 405 if a rule listed earlier had the same path with other
    methods (PATCH /9223372036854775808 was a 405, not a 404)."""

    regex = _up_to(MAX_ID)

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:  # unreachable through the regex; kept as the database's guard
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
        # Ready while the pod can serve reads, from a standby or the primary: during a switchover
        # the primary is briefly gone, and a pod that can still read stays in the load balancer
        # (writes answer 503 problem+json meanwhile). "writes" says whether the primary answered.
        writes = _answers(database, readonly=False)
        if not writes and not _answers(database, readonly=True):
            raise problems.Problem(503, "Service Unavailable", "No database node is reachable.")
        return {"status": "ready", "writes": writes}

    @app.get("/openapi.json")
    def openapi_json() -> Response:
        return jsonify(openapi.build(name, version, operations, forwarded_prefix()))

    return app


def _answers(database: Database, *, readonly: bool) -> bool:
    try:
        database.ping(readonly=readonly)
    except Exception as exc:  # any failure means "not this node"; the reason goes to the log
        log.warning("%s not reachable: %s", "read node" if readonly else "primary", exc.__class__.__name__)
        return False
    return True


def app_factory(name: str, version: str, setup: Callable[[Flask, Mapping[str, str]], None] | None = None):
    """The ``create_app(environ, database)`` of service package ``name``: the service app with the
    routes of ``<name>.api`` (its ``blueprint`` and ``OPERATIONS``), after ``setup`` has added what
    this service alone needs. gunicorn calls ``create_app()`` (chassis.gunicorn_conf); tests pass
    their own environment and database."""

    def create_app(environ: Mapping[str, str] = os.environ, database: Database | None = None) -> Flask:
        # Imported here so that importing the package has no side effects.
        api = importlib.import_module(f"{name}.api")
        app = create_service_app(name, version, api.OPERATIONS, database, environ)
        if setup is not None:
            setup(app, environ)
        app.register_blueprint(api.blueprint)
        return app

    return create_app


def database_of(app: Flask) -> Database:
    return app.extensions["database"]


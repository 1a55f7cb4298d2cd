"""RFC 9457 problem details: every error this service returns is application/problem+json."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, json
from pydantic import ValidationError
from psycopg import errors as pg_errors
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from chassis.forwarding import public_path

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """Raise to answer with a problem document; ``extra`` members are added to the body."""

    def __init__(self, status: int, title: str, detail: str | None = None, **extra):
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def problem_response(status: int, title: str, detail: str | None = None, headers=None, **extra) -> Response:
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = public_path()
    body["request_id"] = getattr(g, "request_id", None)
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def validation_errors(exc: ValidationError) -> list[dict]:
    """Pydantic errors without the offending input echoed back (it may be huge or sensitive)."""
    return [
        {"location": ".".join(str(part) for part in err["loc"]) or "body", "message": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def is_unavailable(exc: DBAPIError) -> bool:
    return (
        exc.connection_invalidated
        or isinstance(exc, (OperationalError, InterfaceError))
        or isinstance(exc.orig, (pg_errors.ReadOnlySqlTransaction, pg_errors.AdminShutdown))
    )


def register(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem):
        return problem_response(exc.status, exc.title, exc.detail, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
        return problem_response(exc.code or 500, exc.name, exc.description, headers=headers)

    @app.errorhandler(DBAPIError)
    def _database(exc: DBAPIError):
        if not is_unavailable(exc):
            return _unexpected(exc)
        # Connection lost or a node that is no longer writable (a failover in progress): nothing was
        # committed, so the client may retry.
        log.warning("database unavailable: %s", exc.orig.__class__.__name__ if exc.orig else exc)
        return problem_response(
            503, "Service Unavailable", "The database is unavailable; retry shortly.", headers={"Retry-After": "1"}
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return problem_response(500, "Internal Server Error", "An unexpected error occurred.")

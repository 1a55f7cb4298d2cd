"""Per-request plumbing: request ids, strict JSON bodies, validated query strings."""

from __future__ import annotations

import re
import uuid
from typing import TypeVar

from flask import Flask, g, request
from pydantic import BaseModel, ValidationError
from pydantic_core import from_json

from chassis.problems import Problem, validation_errors

Model = TypeVar("Model", bound=BaseModel)

# The same rule nginx applies: anything else is replaced, so logs cannot be forged through it.
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
JSON_TYPES = ("application/json",)


def register(app: Flask) -> None:
    @app.before_request
    def _request_id():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response


def json_body(model: type[Model]) -> Model:
    """Parse the request body into ``model``: 415 for other media types, 400 for malformed JSON,
    422 for wrong types, missing or unknown fields."""
    if request.mimetype not in JSON_TYPES:
        raise Problem(415, "Unsupported Media Type", "Send the body as application/json.")
    try:
        # Strict JSON: NaN and Infinity are not JSON, whatever some parsers accept.
        data = from_json(request.get_data(cache=False), allow_inf_nan=False)
    except ValueError:
        raise Problem(400, "Bad Request", "The body is not valid JSON.") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Problem(422, "Unprocessable Content", "The body does not match the schema.",
                      errors=validation_errors(exc)) from None


def query_args(model: type[Model]) -> Model:
    """Validate the query string against ``model`` (unknown or repeated parameters are errors)."""
    args = request.args
    repeated = [key for key in args if len(args.getlist(key)) > 1]
    if repeated:
        raise Problem(400, "Bad Request", f"Repeated query parameter: {', '.join(sorted(repeated))}.")
    try:
        return model.model_validate(args.to_dict())
    except ValidationError as exc:
        raise Problem(422, "Unprocessable Content", "The query string is not valid.",
                      errors=validation_errors(exc)) from None

"""OpenAPI 3.1 built from the same pydantic models that validate requests, so the document
cannot drift from what the code accepts. A service lists its operations; this adds the shared parts
(problem responses, health endpoints, the server prefix nginx reports)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

REF = "#/components/schemas/{model}"
ID_PARAMETER = {
    "name": "id", "in": "path", "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
}
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
HEALTH = {"type": "object", "required": ["status"], "properties": {
    "status": {"type": "string"},
    "writes": {"type": "boolean", "description": "/readyz: whether the primary answered (reads work either way)"}}}
STATUS_TITLES = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
    409: "Conflict", 415: "Unsupported Media Type", 422: "Unprocessable Content",
    503: "Service Unavailable",
}


class Operation:
    def __init__(self, method: str, path: str, summary: str, *, body: type[BaseModel] | None = None,
                 query: type[BaseModel] | None = None, responses: dict[int, type[BaseModel] | None],
                 path_id: bool = False):
        self.method, self.path, self.summary = method, path, summary
        self.body, self.query, self.responses, self.path_id = body, query, responses, path_id


def _problem(status: int) -> dict:
    return {"description": STATUS_TITLES.get(status, str(status)),
            "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}}}


def _query_parameters(model: type[BaseModel], schemas: dict) -> list[dict]:
    schema = schemas[model.__name__]
    return [
        {"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def build(title: str, version: str, operations: list[Operation], prefix: str = "") -> dict[str, Any]:
    models = {m for op in operations for m in (op.body, op.query, *op.responses.values()) if m}
    modes = [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)]
    _, defs = models_json_schema(modes, ref_template=REF)
    schemas = {**defs.get("$defs", {}), "Problem": PROBLEM_SCHEMA, "Health": HEALTH}

    paths: dict[str, dict] = {}
    for op in operations:
        responses: dict[str, Any] = {}
        for status, model in op.responses.items():
            if status >= 400:
                responses[str(status)] = _problem(status)
            elif model is None:
                responses[str(status)] = {"description": STATUS_TITLES[status]}
            else:
                responses[str(status)] = {"description": STATUS_TITLES[status], "content": {
                    "application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}}
        # Errors every operation can return: bad query/body (400/415/422), database down (503).
        for status in (400, 503) + ((415, 422) if op.body else ()) + ((422,) if op.query else ()):
            responses.setdefault(str(status), _problem(status))
        operation: dict[str, Any] = {"summary": op.summary, "responses": responses,
                                     "operationId": f"{op.method}_{op.path}".replace("/", "_").strip("_")}
        parameters = [ID_PARAMETER] if op.path_id else []
        if op.query:
            parameters += _query_parameters(op.query, schemas)
        if parameters:
            operation["parameters"] = parameters
        if op.body:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": {"$ref": REF.format(model=op.body.__name__)}}}}
        paths.setdefault(op.path, {})[op.method] = operation

    health = {"application/json": {"schema": {"$ref": REF.format(model="Health")}}}
    for path, summary, codes in (("/healthz", "The process is alive", (200,)),
                                 ("/readyz", "A database node answers: reads work", (200, 503))):
        paths[path] = {"get": {"summary": summary, "operationId": path.strip("/"), "responses": {
            str(code): ({"description": "OK", "content": health} if code == 200 else _problem(code))
            for code in codes}}}

    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": prefix or "/"}],
        "paths": paths,
        "components": {"schemas": schemas},
    }

"""The responses every service's resources share: a created resource and a page of a list."""

from __future__ import annotations

from flask import Response, jsonify
from pydantic import BaseModel
from sqlalchemy import Select, func, select

from chassis.db import Database, served_by
from chassis.forwarding import forwarded_prefix
from chassis.schemas import Query


def created(body: dict) -> Response:
    """201 with the new resource and its Location (under the prefix nginx stripped)."""
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = f"{forwarded_prefix()}/{body['id']}"
    return response


def page(database: Database, statement: Select, order_by, query: Query, item: type[BaseModel]) -> Response:
    """One page of ``statement``'s rows, read from a standby when there is one: ``items`` (as
    ``item``), the ``total`` count, ``limit`` and ``offset``. ``X-DB-Host`` names the node that
    answered (gunicorn logs it; nginx hides it from clients)."""
    with database.session(readonly=True) as session:
        total = session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = session.scalars(statement.order_by(order_by).limit(query.limit).offset(query.offset))
        items = [item.model_validate(row).model_dump(mode="json") for row in rows]
        host = served_by(session)
    response = jsonify({"items": items, "total": total, "limit": query.limit, "offset": query.offset})
    response.headers["X-DB-Host"] = host
    return response

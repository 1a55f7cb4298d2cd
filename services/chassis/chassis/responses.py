"""The responses every service's resources share: a created resource and a page of a list."""

from __future__ import annotations

from flask import Response, jsonify
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from chassis.db import Database, served_by
from chassis.forwarding import forwarded_prefix
from chassis.schemas import Query


def ok(model: type[BaseModel], data: dict) -> Response:
    """200 with ``data`` as ``model`` (validated, then serialized by pydantic in one pass)."""
    return Response(model.model_validate(data).model_dump_json(), mimetype="application/json")


def created(body: dict) -> Response:
    """201 with the new resource and its Location (under the prefix nginx stripped)."""
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = f"{forwarded_prefix()}/{body['id']}"
    return response


def page(database: Database, statement: Select, order_by, query: Query, item: type[BaseModel]) -> Response:
    """One page of ``statement``'s rows, read from a standby when there is one: ``items`` (as
    ``item``), the ``total`` count, ``limit`` and ``offset``. ``X-DB-Host`` names the node that
    answered (gunicorn logs it; nginx hides it from clients).

    One round trip: the total rides along with each row (``count(*) OVER ()``), outside a
    transaction. Only a page past the end, which has no row to carry it, counts separately."""
    numbered = statement.add_columns(func.count().over()).order_by(order_by).limit(query.limit).offset(query.offset)
    with database.connect(readonly=True, autocommit=True) as connection, Session(connection) as session:
        rows = session.execute(numbered).all()
        if rows:
            total = rows[0][-1]
        else:
            total = session.scalar(select(func.count()).select_from(statement.subquery())) if query.offset else 0
        # An ORM entity comes as one object (with its relationships); plain columns as a mapping.
        as_object = bool(rows) and len(rows[0]) == 2 and hasattr(rows[0][0], "__mapper__")
        items = [item.model_validate(row[0] if as_object else row._mapping).model_dump(mode="json") for row in rows]
        host = served_by(connection)
    response = jsonify({"items": items, "total": total, "limit": query.limit, "offset": query.offset})
    response.headers["X-DB-Host"] = host
    return response

"""HTTP routes of the users service (nginx serves them under /api/users)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from psycopg import errors as pg_errors
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from chassis.app import database_of
from chassis.openapi import Operation
from chassis.problems import Problem
from chassis.db import sql
from chassis.responses import created, ok, page
from chassis.web import json_body, query_args
from users.models import User
from users.schemas import UserCreate, UserOut, UserPage, UserQuery, UserUpdate

blueprint = Blueprint("users", __name__)

OPERATIONS = [
    Operation("post", "/", "Create a user", body=UserCreate, responses={201: UserOut, 409: None}),
    Operation("get", "/", "List users (served by a replica)", query=UserQuery, responses={200: UserPage}),
    Operation("get", "/{id}", "Get a user", path_id=True, responses={200: UserOut, 404: None}),
    Operation("patch", "/{id}", "Change a user's email or name", path_id=True, body=UserUpdate,
              responses={200: UserOut, 404: None, 409: None}),
    Operation("delete", "/{id}", "Delete a user", path_id=True, responses={204: None, 404: None}),
]


def _out(user: User) -> dict:
    return UserOut.model_validate(user).model_dump(mode="json")


def _not_found(user_id: int) -> Problem:
    return Problem(404, "Not Found", f"User {user_id} does not exist.")


def _email_taken(exc: IntegrityError) -> Problem:
    if isinstance(exc.orig, pg_errors.UniqueViolation):
        return Problem(409, "Conflict", "A user with this email already exists.")
    raise exc


@blueprint.post("/")
def create_user():
    data = json_body(UserCreate)
    try:
        with database_of(current_app).session() as session:
            user = User(email=data.email, name=data.name)
            session.add(user)
            session.flush()
            body = _out(user)
    except IntegrityError as exc:
        raise _email_taken(exc) from None
    return created(body)


@blueprint.get("/")
def list_users():
    query = query_args(UserQuery)
    statement = select(User.__table__)  # plain columns: no ORM objects for a page of rows
    if query.email:
        statement = statement.where(func.lower(User.email) == query.email.lower())
    return page(database_of(current_app), statement, User.id, query, UserOut)


# The hot path: one prepared statement, no ORM, no transaction around it.
GET_USER = sql(select(User.__table__).where(User.id == bindparam("id")))


@blueprint.get("/<id:user_id>")
def get_user(user_id: int):
    # Read from the primary: a client that just created the user must see it.
    user = database_of(current_app).fetch_one(GET_USER, {"id": user_id})
    if user is None:
        raise _not_found(user_id)
    return ok(UserOut, user)


@blueprint.patch("/<id:user_id>")
def update_user(user_id: int):
    changes = json_body(UserUpdate).model_dump(exclude_unset=True)
    try:
        with database_of(current_app).session() as session:
            user = session.get(User, user_id, with_for_update=True)
            if user is None:
                raise _not_found(user_id)
            for field, value in changes.items():
                setattr(user, field, value)
            session.flush()
            session.refresh(user)
            return _out(user)
    except IntegrityError as exc:
        raise _email_taken(exc) from None


@blueprint.delete("/<id:user_id>")
def delete_user(user_id: int):
    with database_of(current_app).session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise _not_found(user_id)
        session.delete(user)
    return Response(status=204)

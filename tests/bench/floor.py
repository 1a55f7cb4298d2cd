"""The floor `make bench` measures the users service against: the least Python can do per request.

A bare WSGI callable, bench-only (it is mounted into the users container for one phase and never
ships in an image). It runs in the users image under the same gunicorn settings
(chassis.gunicorn_conf with SERVICE_NAME=floor), CPU limit and nginx, and serves:
  GET /healthz  the same body as the service's, no framework;
  GET /<id>     the same row and JSON as the service's GET by id: psycopg, one connection per
                thread, a server-side prepared statement, no ORM and no pool.
Anything else is 404. The service's CPU per request divided by this one's is floor_ratio.*.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading

import psycopg

COLUMNS = ("id", "email", "name", "created_at", "updated_at")
GET_USER = f"select {', '.join(COLUMNS)} from users where id = %s"


def _conninfo() -> str:
    with open(os.environ["DATABASE_PASSWORD_FILE"]) as secret:
        password = secret.read().strip()
    hosts = os.environ.get("DATABASE_PRIMARY_HOSTS", "db-primary")
    return psycopg.conninfo.make_conninfo(host=hosts, dbname="users", user="users", password=password,
                                          target_session_attrs="read-write", connect_timeout=3)


def _json(value):
    # The same text as the service's (pydantic writes UTC as "Z").
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, dt.datetime) else value


def create_app():
    conninfo = _conninfo()
    local = threading.local()

    def connection() -> psycopg.Connection:
        conn = getattr(local, "conn", None)
        if conn is None or conn.closed:
            conn = local.conn = psycopg.connect(conninfo, autocommit=True)
        return conn

    def respond(start_response, status: str, body: bytes):
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return respond(start_response, "200 OK", b'{"status":"ok"}')
        key = path.strip("/")
        if environ["REQUEST_METHOD"] == "GET" and key.isdigit():
            cursor = connection().execute(GET_USER, (int(key),), prepare=True)
            row = cursor.fetchone()
            if row is not None:
                # Compact and UTF-8 like the service's JSON, so both send the same bytes.
                body = json.dumps({n: _json(v) for n, v in zip(COLUMNS, row)}, separators=(",", ":"),
                                  ensure_ascii=False).encode()
                return respond(start_response, "200 OK", body)
        return respond(start_response, "404 Not Found", b'{"status":404}')

    return app

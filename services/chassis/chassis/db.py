"""A primary/replica pair of engines over libpq multi-host connection strings.

Writes (and reads that must see them) use the primary's engine: libpq tries the hosts in order
and keeps the first that accepts writes (``target_session_attrs=read-write``), so after a failover
new connections find the promoted node without a restart. List and search reads (``readonly``)
prefer a standby and fall back to the primary. Engines are built lazily, in the gunicorn worker
that uses them, never in the master before it forks.
"""

from __future__ import annotations

import select
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Executable, create_engine, event, text
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session

from chassis.settings import DatabaseSettings

CONNECT_TIMEOUT_SECONDS = 3
_PSYCOPG = psycopg_dialect()


def _closed_by_the_server(dbapi_connection, _record, _proxy) -> None:
    """Checked at every pool checkout, without a round trip: an idle connection has nothing to
    read, so a readable socket means the server closed it (a restart, a failover, a terminated
    backend: PostgreSQL sends a FATAL notice, then closes). The pool then connects anew; SQLAlchemy
    retries a checkout that raises DisconnectionError. (A ping per checkout would cost a round trip
    on every request; a hung server is bounded by the connection's timeouts instead.)"""
    readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    if readable:
        raise DisconnectionError("the server closed this pooled connection")


def engine_for(settings: DatabaseSettings, hosts: tuple[str, ...], session_attrs: str, *,
               application_name: str, pool_size: int = 5) -> Engine:
    # Passed to libpq as keywords, so host names and the password need no URL escaping.
    connect_args = {
        "host": ",".join(hosts),
        "port": ",".join([str(settings.port)] * len(hosts)),
        "dbname": settings.name,
        "user": settings.user,
        "password": settings.password,
        "target_session_attrs": session_attrs,
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "application_name": application_name,
    }
    engine = create_engine(
        "postgresql+psycopg://",
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        pool_recycle=300,
    )
    event.listen(engine, "checkout", _closed_by_the_server)
    return engine


class Database:
    def __init__(self, settings: DatabaseSettings, application_name: str, pool_size: int = 5):
        self.settings, self.application_name, self.pool_size = settings, application_name, pool_size
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def _engine(self, kind: str) -> Engine:
        engine = self._engines.get(kind)
        if engine is None:
            with self._lock:
                engine = self._engines.get(kind)
                if engine is None:
                    hosts, attrs = (
                        (self.settings.primary_hosts, "read-write")
                        if kind == "write"
                        else (self.settings.replica_hosts, "prefer-standby")
                    )
                    engine = engine_for(self.settings, hosts, attrs,
                                        application_name=self.application_name, pool_size=self.pool_size)
                    self._engines[kind] = engine
        return engine

    @property
    def write(self) -> Engine:
        return self._engine("write")

    @contextmanager
    def connect(self, *, readonly: bool = False, autocommit: bool = False) -> Iterator[Connection]:
        """The one place a request takes a pooled connection: the primary's, or a standby's for
        ``readonly`` reads. ``autocommit``: each statement is its own transaction (no BEGIN and
        COMMIT round trips), for single-statement reads."""
        with self._engine("read" if readonly else "write").connect() as connection:
            if autocommit:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        with self.connect(readonly=readonly) as connection:
            # create_savepoint: on a connection already in a transaction (the tests' rolled-back
            # one), begin() becomes a savepoint; on a fresh connection it is a plain BEGIN.
            with Session(connection, expire_on_commit=False, join_transaction_mode="create_savepoint") as session, \
                    session.begin():
                yield session

    def fetch_one(self, statement: str, params: Mapping[str, Any], *, readonly: bool = False) -> dict | None:
        """One row of a constant SQL statement, or None: the hot-path read. One round trip (no
        transaction around it); psycopg prepares the statement server-side after a few runs."""
        with self.connect(readonly=readonly, autocommit=True) as connection:
            row = connection.exec_driver_sql(statement, params).mappings().first()
        return dict(row) if row is not None else None

    def ping(self, *, readonly: bool = False) -> None:
        with self.connect(readonly=readonly) as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()


def sql(statement: Executable) -> str:
    """A Core statement compiled once, at import, into psycopg's SQL text (``%(name)s``
    parameters): the hot paths run it with ``Database.fetch_one`` and skip SQLAlchemy's per-call
    compilation and cache lookups."""
    return str(statement.compile(dialect=_PSYCOPG))


def served_by(connection: Connection) -> str:
    """The host a connection reached (which node of the multi-host list answered)."""
    return connection.connection.dbapi_connection.info.host

"""A primary/replica pair of engines over libpq multi-host connection strings.

Writes (and reads that must see them) use ``write``: libpq tries the hosts in order and keeps the
first that accepts writes (``target_session_attrs=read-write``), so after a failover new
connections find the promoted node without a restart. List and search reads use ``read``, which
prefers a standby and falls back to the primary. Engines are built lazily, in the gunicorn worker
that uses them, never in the master before it forks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from chassis.settings import DatabaseSettings

CONNECT_TIMEOUT_SECONDS = 3


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
    return create_engine(
        "postgresql+psycopg://",
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        # Pre-ping costs a round trip per checkout; without it, after a failover or a node restart
        # the first request on each worker's stale pooled connections would fail (a 503).
        pool_pre_ping=True,
        pool_recycle=300,
    )


def _session_factory(bind: Engine | Connection) -> sessionmaker:
    # create_savepoint: bound to a connection already in a transaction (tests), a session's
    # begin() becomes a savepoint; bound to an engine it changes nothing.
    return sessionmaker(bind, expire_on_commit=False, join_transaction_mode="create_savepoint")


class Database:
    def __init__(self, settings: DatabaseSettings, application_name: str, pool_size: int = 5):
        self.settings, self.application_name, self.pool_size = settings, application_name, pool_size
        self._engines: dict[str, Engine] = {}
        self._sessions: dict[str, sessionmaker] = {}  # one factory per engine: cheap sessions
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
                    self._sessions[kind] = _session_factory(engine)
                    self._engines[kind] = engine
        return engine

    @property
    def write(self) -> Engine:
        return self._engine("write")

    @property
    def read(self) -> Engine:
        return self._engine("read")

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        kind = "read" if readonly else "write"
        factory = self._sessions.get("test") or self._sessions.get(kind)
        if factory is None:
            self._engine(kind)
            factory = self._sessions[kind]
        with factory() as session, session.begin():
            yield session

    def use_connection(self, connection: Connection | None) -> None:
        """For tests: run every session in savepoints of ``connection``'s outer transaction, which
        the test rolls back, so tests share one database without seeing each other's rows."""
        if connection is None:
            self._sessions.pop("test", None)
        else:
            self._sessions["test"] = _session_factory(connection)

    def ping(self) -> None:
        with self.write.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()


def served_by(session: Session) -> str:
    """The host a session's connection reached (which node of the multi-host list answered)."""
    return session.connection().connection.dbapi_connection.info.host

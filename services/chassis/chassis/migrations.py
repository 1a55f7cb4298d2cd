"""Alembic's env.py logic, shared: migrate the service's own database on the current primary.

Run by the one-shot ``<service>-migrate`` container (compose) or Job (Kubernetes) before the new
version of the service starts; never by the service itself at startup.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData

from chassis.db import engine_for
from chassis.settings import DatabaseSettings


def run(target_metadata: MetaData, service: str) -> None:
    if context.is_offline_mode():  # `alembic upgrade head --sql`: print the SQL, touch nothing
        context.configure(url="postgresql+psycopg://", target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    settings = DatabaseSettings.from_env()
    engine = engine_for(settings, settings.primary_hosts, "read-write",
                        application_name=f"{service}-migrate", pool_size=1)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()

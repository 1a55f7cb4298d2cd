"""Migrations, shared: migrate the service's own database on the current primary.

Run by the one-shot ``<service>-migrate`` container (compose) or Job (Kubernetes) before the new
version of the service starts; never by the service itself at startup. Every service uses the
chassis' alembic.ini and env.py (``alembic/``); a service keeps only its ``migrations/versions/``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import context
from alembic.config import Config
from sqlalchemy import MetaData

from chassis.db import engine_for
from chassis.settings import DatabaseSettings

ALEMBIC_INI = Path(__file__).parent / "alembic" / "alembic.ini"


def config(service_dir: Path, output_buffer=None) -> Config:
    """Alembic's configuration for the service in ``service_dir``, from any working directory
    (tests and tools; the command line reads the same file through ALEMBIC_CONFIG)."""
    cfg = Config(str(ALEMBIC_INI), output_buffer=output_buffer)
    cfg.set_main_option("version_locations", str(service_dir / "migrations" / "versions"))
    cfg.set_main_option("service", service_dir.name)
    return cfg


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

"""The users migrations on a real PostgreSQL: up, down, up again, and no drift from the models."""

import pytest

from integration_helpers import check_matches_models, check_offline_sql, check_round_trip

pytestmark = pytest.mark.integration
TABLES = {"users"}


def test_upgrade_downgrade_upgrade(run_alembic, service_database):
    check_round_trip(run_alembic, service_database, "users", TABLES)


def test_models_match_migrations(run_alembic):
    check_matches_models(run_alembic, "users")


def test_offline_sql_creates_the_tables(run_alembic):
    check_offline_sql("users", TABLES)

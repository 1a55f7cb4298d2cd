"""The checks every service gets, found by folder (a new service needs no edit here): its
migrations round-trip on a real PostgreSQL and match its models, and its API holds to its own
OpenAPI document under fuzzing (schemathesis).

Fuzzing: the document comes from the app itself (GET /openapi.json, no database needed for that).
Each operation is one test; its examples run in-process (WSGI) against the real, migrated
database, inside that test's rolled-back transaction. Bounded: FUZZ_SETTINGS examples per
operation, positive and negative. Checks: no 5xx, every status code documented, content type and
body as documented (FUZZ_CHECKS).
"""

import importlib

import pytest
import schemathesis
from hypothesis import settings

from harness import SERVICES
from integration_helpers import (FUZZ_CHECKS, FUZZ_SETTINGS, check_matches_models, check_offline_sql,
                                 check_round_trip, offline_database)

pytestmark = pytest.mark.integration


def tables_of(service: str) -> set[str]:
    return set(importlib.import_module(f"{service}.models").Base.metadata.tables)


@pytest.mark.parametrize("service", SERVICES)
def test_upgrade_downgrade_upgrade(run_alembic, service_database, service):
    check_round_trip(run_alembic, service_database, service, tables_of(service))


@pytest.mark.parametrize("service", SERVICES)
def test_models_match_migrations(run_alembic, service):
    check_matches_models(run_alembic, service)


@pytest.mark.parametrize("service", SERVICES)
def test_offline_sql_creates_the_tables(service):
    check_offline_sql(service, tables_of(service))


@pytest.fixture(autouse=True)
def _client_ready(request, client_of):
    """The fuzzed service's client (and what it needs: a users container for orders) is made
    before hypothesis starts its clock, so the first example is not charged for it."""
    service = getattr(request.node.obj, "fuzzed_service", None)
    if service:
        client_of(service)


def _fuzz(service: str):
    app = importlib.import_module(service).create_app({"LOG_LEVEL": "warning"}, database=offline_database(service))
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)

    @schema.parametrize()
    @settings(**FUZZ_SETTINGS)
    def test(case, client_of):
        case.call_and_validate(app=client_of(service).application, checks=FUZZ_CHECKS)

    test.fuzzed_service = service
    return test


for _service in SERVICES:
    globals()[f"test_{_service}_api_matches_its_openapi_document"] = _fuzz(_service)

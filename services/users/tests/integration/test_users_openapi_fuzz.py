"""Property-based fuzzing of the users API against its own OpenAPI document (schemathesis).

The document comes from the app itself (GET /openapi.json, no database needed for that). Each
operation is one test: its examples run in-process (WSGI) against the real, migrated database,
inside that test's rolled-back transaction. Bounded: FUZZ_SETTINGS examples per operation,
positive and negative. Checks: no 5xx, every status code documented, content type and body as
documented (FUZZ_CHECKS).
"""

import pytest
import schemathesis
from hypothesis import settings

from integration_helpers import FUZZ_CHECKS, FUZZ_SETTINGS, offline_database
from users import create_app

pytestmark = pytest.mark.integration

schema = schemathesis.openapi.from_wsgi("/openapi.json", create_app({"LOG_LEVEL": "warning"},
                                                                    database=offline_database("users")))


@schema.parametrize()
@settings(**FUZZ_SETTINGS)
def test_users_api_matches_its_openapi_document(case, users_client):
    case.call_and_validate(app=users_client.application, checks=FUZZ_CHECKS)

"""Property-based fuzzing of the orders API against its own OpenAPI document (schemathesis).

As for users (services/users/tests/integration/test_users_openapi_fuzz.py): one test per
operation, in-process on the real database in a rolled-back transaction; orders placed by the
fuzzer are checked against the real users container (unknown user ids are a documented 422).
"""

import pytest
import schemathesis
from hypothesis import settings

from integration_helpers import FUZZ_CHECKS, FUZZ_SETTINGS, offline_database
from orders import create_app

pytestmark = pytest.mark.integration

# Only the document is read from this app: no database, and USERS_URL is never called.
schema = schemathesis.openapi.from_wsgi("/openapi.json", create_app(
    {"USERS_URL": "http://127.0.0.1:9", "LOG_LEVEL": "warning"}, database=offline_database("orders")))


@schema.parametrize()
@settings(**FUZZ_SETTINGS)
def test_orders_api_matches_its_openapi_document(case, orders_client):
    case.call_and_validate(app=orders_client.application, checks=FUZZ_CHECKS)

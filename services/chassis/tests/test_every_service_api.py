"""What every service's API refuses before it touches a database, and the endpoints every service
has (found by folder: a new service needs no edit here). A service's own inputs are tested in its
own tests/."""

import pytest

from harness import SERVICES

pytestmark = pytest.mark.unit


def is_problem(response, status: int) -> bool:
    return response.status_code == status and response.mimetype == "application/problem+json"


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("path", ["/abc", "/-1", "/0", "/1.5", "/99999999999999999999", "/9223372036854775808"])
def test_ids_that_cannot_exist_are_404(offline_client, service, path):
    assert is_problem(offline_client(service).get(path), 404)


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "colour=red"])
def test_lists_refuse_bad_queries(offline_client, service, query):
    assert is_problem(offline_client(service).get(f"/?{query}"), 422)


@pytest.mark.parametrize("service", SERVICES)
def test_lists_refuse_repeated_parameters(offline_client, service):
    assert is_problem(offline_client(service).get("/?limit=1&limit=2"), 400)


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("body, content_type, status", [
    ("{", "application/json", 400),
    ('{"a": NaN}', "application/json", 400),
    ("{}", "text/plain", 415),
])
def test_create_refuses_what_is_not_json(offline_client, service, body, content_type, status):
    assert is_problem(offline_client(service).post("/", data=body, content_type=content_type), status)


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_document_describes_the_routes(offline_client, service):
    doc = offline_client(service).get("/openapi.json", headers={"X-Forwarded-Prefix": f"/api/{service}"}).get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["servers"] == [{"url": f"/api/{service}"}]
    assert {"/", "/{id}", "/healthz", "/readyz"} <= set(doc["paths"])
    bodies = [s for name, s in doc["components"]["schemas"].items() if name.endswith("Create")]
    assert bodies and all(schema["additionalProperties"] is False for schema in bodies)


@pytest.mark.parametrize("service", SERVICES)
def test_healthz_needs_no_database(offline_client, service):
    assert offline_client(service).get("/healthz").get_json() == {"status": "ok"}


@pytest.mark.parametrize("service", SERVICES)
def test_readyz_is_503_without_database(offline_client, service):
    assert is_problem(offline_client(service).get("/readyz"), 503)

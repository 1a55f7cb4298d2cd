"""Input the users API must refuse before it touches the database (no database here: the
engines are lazy, so any test that reached one would fail to connect)."""

import pytest

from users import create_app

pytestmark = pytest.mark.unit

ENV = {"DATABASE_PRIMARY_HOSTS": "127.0.0.1", "DATABASE_PORT": "1", "DATABASE_NAME": "users",
       "DATABASE_USER": "users", "DATABASE_PASSWORD": "k7PqX2vN9wLm4RtZ", "LOG_LEVEL": "warning"}


@pytest.fixture
def client():
    return create_app(ENV).test_client()


@pytest.mark.parametrize("body", [
    {"email": "not-an-email", "name": "A"},
    {"email": "a@example.com"},
    {"email": "a@example.com", "name": "A", "admin": True},
    {"email": 5, "name": "A"},
    {"email": "a@example.com", "name": "x" * 201},
    {"email": "a@example.com", "name": "tab\there"},
])
def test_create_rejects_bad_bodies(client, body):
    response = client.post("/", json=body)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("body", [{}, {"name": None}, {"email": None}, {"role": "x"}])
def test_patch_needs_a_real_change(client, body):
    assert client.patch("/1", json=body).status_code == 422


@pytest.mark.parametrize("path", ["/abc", "/-1", "/0", "/1.5", "/99999999999999999999", "/9223372036854775808"])
def test_ids_that_cannot_exist_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_openapi_document_describes_the_routes(client):
    doc = client.get("/openapi.json", headers={"X-Forwarded-Prefix": "/api/users"}).get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["servers"] == [{"url": "/api/users"}]
    assert set(doc["paths"]) == {"/", "/{id}", "/healthz", "/readyz"}
    create = doc["components"]["schemas"]["UserCreate"]
    assert create["additionalProperties"] is False and set(create["required"]) == {"email", "name"}


def test_healthz_needs_no_database(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_is_503_without_database(client):
    response = client.get("/readyz")
    assert response.status_code == 503 and response.mimetype == "application/problem+json"

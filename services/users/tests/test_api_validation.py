"""Input the users API must refuse before it touches the database (what every service refuses is
in services/chassis/tests/test_every_service_api.py)."""

import pytest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("body", [
    {"email": "not-an-email", "name": "A"},
    {"email": "a@example.com"},
    {"email": "a@example.com", "name": "A", "admin": True},
    {"email": 5, "name": "A"},
    {"email": "a@example.com", "name": "x" * 201},
    {"email": "a@example.com", "name": "tab\there"},
])
def test_create_rejects_bad_bodies(offline_client, body):
    response = offline_client("users").post("/", json=body)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("body", [{}, {"name": None}, {"email": None}, {"role": "x"}])
def test_patch_needs_a_real_change(offline_client, body):
    assert offline_client("users").patch("/1", json=body).status_code == 422


def test_create_requires_email_and_name(offline_client):
    doc = offline_client("users").get("/openapi.json").get_json()
    assert set(doc["components"]["schemas"]["UserCreate"]["required"]) == {"email", "name"}

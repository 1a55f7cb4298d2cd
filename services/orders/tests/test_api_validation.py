"""Input the orders API must refuse before it calls users or the database."""

import pytest

from orders import create_app

pytestmark = pytest.mark.unit

ENV = {"DATABASE_PRIMARY_HOSTS": "127.0.0.1", "DATABASE_PORT": "1", "DATABASE_NAME": "orders",
       "DATABASE_USER": "orders", "DATABASE_PASSWORD": "k7PqX2vN9wLm4RtZ", "LOG_LEVEL": "warning",
       "USERS_URL": "http://127.0.0.1:1"}
ITEM = {"sku": "SKU-1", "quantity": 1, "unit_price_cents": 100}


@pytest.fixture
def client():
    return create_app(ENV).test_client()


@pytest.mark.parametrize("body", [
    {"user_id": 1, "items": []},
    {"user_id": 1},
    {"user_id": "1", "items": [ITEM]},
    {"user_id": 0, "items": [ITEM]},
    {"user_id": 1, "items": [{**ITEM, "unit_price_cents": 1.5}]},      # money is never a float
    {"user_id": 1, "items": [{**ITEM, "quantity": -1}]},
    {"user_id": 1, "items": [{**ITEM, "sku": "bad sku"}]},
    {"user_id": 1, "items": [{**ITEM, "discount": 5}]},
    {"user_id": 1, "items": [ITEM] * 101},
    {"user_id": 2**63, "items": [ITEM]},
])
def test_create_rejects_bad_bodies(client, body):
    response = client.post("/", json=body)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"


def test_users_down_is_503_not_500(client):
    response = client.post("/", json={"user_id": 1, "items": [ITEM]})
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"


def test_bad_users_url_is_refused_at_start():
    from chassis.settings import SettingsError

    with pytest.raises(SettingsError, match="USERS_URL"):
        create_app({**ENV, "USERS_URL": "users:8000"})

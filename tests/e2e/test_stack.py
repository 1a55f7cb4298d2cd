"""The whole system through nginx, as a client sees it: one port, the documented API."""

import time

import httpx
import pytest

from harness import SERVICES

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(stack):
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        yield client


def test_nginx_answers_its_own_healthz(api):
    response = api.get("/healthz")
    assert response.status_code == 200


@pytest.mark.parametrize("service", ["users", "orders"])
def test_each_service_health_readiness_and_openapi_through_nginx(api, service):
    assert api.get(f"/api/{service}/healthz").json() == {"status": "ok"}
    assert api.get(f"/api/{service}/readyz").json() == {"status": "ready", "writes": True}
    doc = api.get(f"/api/{service}/openapi.json").json()
    assert doc["servers"] == [{"url": f"/api/{service}"}]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_starts_without_an_error_line(stack, service):
    errors = [line for line in stack.logs(service).splitlines() if '"level": "error"' in line]
    assert not errors, "\n".join(errors)


def test_create_user_then_order_then_list_it(api):
    email = f"e2e-{time.time_ns()}@example.com"
    created = api.post("/api/users", json={"email": email, "name": "E2E"})
    assert created.status_code == 201, created.text
    user = created.json()
    assert created.headers["Location"] == f"/api/users/{user['id']}"
    assert api.get(f"/api/users/{user['id']}").json()["email"] == email

    order = api.post("/api/orders", json={"user_id": user["id"], "items": [
        {"sku": "BOOK-1", "quantity": 2, "unit_price_cents": 1250},
        {"sku": "PEN-9", "quantity": 1, "unit_price_cents": 199}]})
    assert order.status_code == 201, order.text
    assert order.json()["total_cents"] == 2699 and order.json()["status"] == "placed"

    # List reads come from the replica, which may lag a little behind the primary.
    deadline = time.monotonic() + 10
    while True:
        listed = api.get("/api/orders", params={"user_id": user["id"]}).json()
        if listed["total"] == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [o["id"] for o in listed["items"]] == [order.json()["id"]]

    cancelled = api.post(f"/api/orders/{order.json()['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert api.post(f"/api/orders/{order.json()['id']}/cancel").status_code == 409


def test_duplicate_email_is_409_and_unknown_user_order_is_422(api):
    email = f"dup-{time.time_ns()}@example.com"
    assert api.post("/api/users", json={"email": email, "name": "A"}).status_code == 201
    duplicate = api.post("/api/users", json={"email": email.upper(), "name": "B"})
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"].startswith("application/problem+json")
    unknown = api.post("/api/orders", json={"user_id": 2**62, "items": [
        {"sku": "X", "quantity": 1, "unit_price_cents": 1}]})
    assert unknown.status_code == 422


def test_list_reads_are_served_by_the_replica(stack, api):
    api.get("/api/users", params={"limit": 1}, headers={"X-Request-ID": "which-node-1"})
    logs = stack.logs("users")
    line = next(line for line in logs.splitlines() if "which-node-1" in line)
    assert '"db_host": "db-replica"' in line

"""Bad input through nginx: each answered with a precise status and problem+json, never a 500,
and nothing written."""

import socket
import time
import uuid

import httpx
import pytest

pytestmark = pytest.mark.e2e
ITEM = {"sku": "SKU-1", "quantity": 1, "unit_price_cents": 100}


@pytest.fixture(scope="module")
def api(stack):
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        yield client


def problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["title"]
    assert body.get("request_id") == response.headers["x-request-id"]
    return body


def nothing_written(api: httpx.Client, email: str) -> None:
    time.sleep(0.3)  # list reads come from the replica
    assert api.get("/api/users", params={"email": email}).json()["total"] == 0


def marker() -> str:
    return f"bad-{uuid.uuid4().hex[:10]}@example.com"


@pytest.mark.parametrize(("body", "content_type", "status"), [
    ('{"email": "%s", "name": "A"', "application/json", 400),         # malformed JSON
    ('{"email": "%s", "name": "A"}', "text/plain", 415),              # wrong media type
    ('{"email": "%s", "name": 42}', "application/json", 422),         # wrong type
    ('{"email": "%s"}', "application/json", 422),                     # missing field
    ('{"email": "%s", "name": "A", "is_admin": true}', "application/json", 422),  # unknown field
    ('{"email": "%s", "name": "A\\u0000B"}', "application/json", 422),  # control character
    ('{"email": "%s", "name": NaN}', "application/json", 400),
])
def test_bad_user_bodies(api, body, content_type, status):
    email = marker()
    problem(api.post("/api/users", content=body % email, headers={"Content-Type": content_type}), status)
    nothing_written(api, email)


def test_oversized_body_is_413_from_nginx(api):
    email = marker()
    body = '{"email": "%s", "name": "%s"}' % (email, "x" * 100_000)
    problem(api.post("/api/users", content=body, headers={"Content-Type": "application/json"}), 413)
    nothing_written(api, email)


@pytest.mark.parametrize("query", ["limit=1000000", "limit=-1", "limit=0", "offset=-1", "limit=abc",
                                   "offset=99999999999999999999999", "colour=red"])
def test_bad_page_parameters(api, query):
    problem(api.get(f"/api/users?{query}"), 422 if "colour" not in query else 422)


@pytest.mark.parametrize("path", ["/api/users/abc", "/api/users/-1", "/api/users/0",
                                  "/api/users/99999999999999999999999", "/api/orders/1e3",
                                  "/api/users/1/extra", "/api/nope", "/nope"])
def test_ids_that_cannot_exist_and_unknown_routes_are_404(api, path):
    problem(api.get(path), 404)


@pytest.mark.parametrize(("method", "path"), [("PUT", "/api/users"), ("DELETE", "/api/users"),
                                              ("POST", "/api/users/1"), ("GET", "/api/orders/1/cancel")])
def test_wrong_methods_are_405(api, method, path):
    problem(api.request(method, path), 405)


def test_unicode_and_sql_injection_are_stored_verbatim(api):
    name = "Robert'); DROP TABLE users;-- 🚀 Zoë 日本"
    email = marker()
    created = api.post("/api/users", json={"email": email, "name": name})
    assert created.status_code == 201
    assert api.get(created.headers["location"]).json()["name"] == name
    assert api.get("/api/users/healthz").status_code == 200  # the table is still there


def test_duplicate_email_is_409_and_nothing_changes(api):
    email = marker()
    first = api.post("/api/users", json={"email": email, "name": "First"}).json()
    problem(api.post("/api/users", json={"email": email.upper(), "name": "Second"}), 409)
    assert api.get(f"/api/users/{first['id']}").json()["name"] == "First"


def test_order_for_unknown_user_is_422_and_nothing_written(api):
    user_id = 2**62 + int(time.time())
    problem(api.post("/api/orders", json={"user_id": user_id, "items": [ITEM]}), 422)
    time.sleep(0.3)
    assert api.get("/api/orders", params={"user_id": user_id}).json()["total"] == 0


@pytest.mark.parametrize("item", [{**ITEM, "unit_price_cents": 9.99}, {**ITEM, "quantity": 0},
                                  {**ITEM, "unit_price_cents": -1}, {**ITEM, "sku": ""}])
def test_bad_order_items(api, item):
    problem(api.post("/api/orders", json={"user_id": 1, "items": [item]}), 422)


def test_bursts_beyond_the_rate_limit_get_429(stack):
    """Last in this module: it empties this client's bucket (refilled within seconds). The burst
    is 300 connections opened first and then sent at once, so it beats the limit however busy
    the host is."""
    request = f"GET /api/users/healthz HTTP/1.1\r\nHost: 127.0.0.1:{stack.port}\r\nConnection: close\r\n\r\n"
    connections = [socket.create_connection(("127.0.0.1", stack.port), timeout=10) for _ in range(300)]
    for conn in connections:
        conn.sendall(request.encode())
    responses = []
    for conn in connections:
        with conn:
            responses.append(b"".join(iter(lambda c=conn: c.recv(65536), b"")))
    statuses = [int(r.split(b" ", 2)[1]) for r in responses]
    assert 429 in statuses and 200 in statuses, sorted(set(statuses))
    assert set(statuses) <= {200, 429}
    limited = next(r for r in responses if r.startswith(b"HTTP/1.1 429"))
    assert b"application/problem+json" in limited and b'"status":429' in limited.replace(b" ", b"")
    time.sleep(3)  # let the bucket refill for whatever runs next

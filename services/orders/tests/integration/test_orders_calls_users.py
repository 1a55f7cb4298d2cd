"""orders -> users over HTTP, with a real users container (its own image, database and network).

The test process runs on the host, so orders' UsersClient reaches the container through its mapped
port; inside compose the same client uses http://users:8000 on the app network.
"""

from __future__ import annotations

import json
import time

import pytest

import integration_helpers as it

pytestmark = pytest.mark.integration

ITEMS = [{"sku": "BOOK-1", "quantity": 1, "unit_price_cents": 100}]


def access_log(container, request_id: str) -> list[dict]:
    entries = []
    for line in it.logs(container).splitlines():
        if request_id in line and line.startswith("{"):
            entries.append(json.loads(line))
    return entries


def test_the_request_id_is_forwarded_to_users(orders_client, users_service):
    request_id = f"itest-forward-{time.time_ns()}"
    response = orders_client.post("/", json={"user_id": users_service.user_ids[2], "items": ITEMS},
                                  headers={"X-Request-ID": request_id})
    assert response.status_code == 201 and response.headers["X-Request-ID"] == request_id
    deadline = time.monotonic() + 5  # gunicorn writes the access line after the response
    while not (entries := access_log(users_service.container, request_id)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", f"/{users_service.user_ids[2]}", 200)]


def test_an_unknown_user_is_422_as_users_says_404(orders_client, users_service):
    request_id = f"itest-unknown-{time.time_ns()}"
    response = orders_client.post("/", json={"user_id": 77_777_777, "items": ITEMS},
                                  headers={"X-Request-ID": request_id})
    assert response.status_code == 422
    assert response.get_json()["detail"] == "User 77777777 does not exist."


def test_users_not_answering_in_time_is_503_after_the_timeout(orders_app_for, users_service):
    timeout = 0.5
    client = orders_app_for(users_service.url, timeout=timeout).test_client()
    users_service.container.get_wrapped_container().pause()  # port open, nobody answers
    try:
        started = time.monotonic()
        response = client.post("/", json={"user_id": users_service.user_ids[0], "items": ITEMS})
        elapsed = time.monotonic() - started
    finally:
        users_service.container.get_wrapped_container().unpause()
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    print(f"\n[itest] users paused: 503 after {elapsed:.2f}s (timeout {timeout}s)")
    assert timeout <= elapsed < timeout + 1.0


def test_users_stopped_is_503_at_once_and_nothing_is_written(start_users, orders_app_for, orders_db):
    users = start_users("users-stopped")
    url = it.url_of(users, 8000)
    client = orders_app_for(url, timeout=2).test_client()
    assert client.post("/", json={"user_id": 987_654, "items": ITEMS}).status_code == 422  # it is up
    users.get_wrapped_container().stop(timeout=5)
    started = time.monotonic()
    response = client.post("/", json={"user_id": 1, "items": ITEMS})
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.get_json()["detail"] == "The users service is unreachable; retry shortly."
    assert elapsed < 2  # refused at once, not a timeout
    assert client.get("/").get_json()["total"] == 0


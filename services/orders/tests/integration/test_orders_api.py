"""The orders API against a real PostgreSQL and a real users container.

Orders are placed for users that exist in the users container (``users_service.user_ids``); every
test runs in its own rolled-back transaction of the orders database (see services/conftest.py).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select

from orders.models import Order, OrderItem

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


def item(sku: str = "BOOK-1", quantity: int = 1, unit_price_cents: int = 100) -> dict:
    return {"sku": sku, "quantity": quantity, "unit_price_cents": unit_price_cents}


def place(client, user_id: int, *items: dict, **headers):
    return client.post("/", json={"user_id": user_id, "items": list(items) or [item()]}, headers=headers)


def placed(client, user_id: int, *items: dict) -> dict:
    response = place(client, user_id, *items)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def counts(db) -> tuple[int, int]:
    with db.session() as session:
        return (session.scalar(select(func.count()).select_from(Order)),
                session.scalar(select(func.count()).select_from(OrderItem)))


@pytest.fixture
def buyer(users_service) -> int:
    return users_service.user_ids[0]


# --- place / get -------------------------------------------------------------------------------------

def test_every_test_starts_from_empty_tables(orders_client, orders_db):
    assert counts(orders_db) == (0, 0)
    assert orders_client.get("/").get_json() == {"items": [], "total": 0, "limit": 20, "offset": 0}


def test_place_an_order_for_an_existing_user(orders_client, orders_db, buyer):
    response = place(orders_client, buyer, item("BOOK-1", 2, 1250), item("PEN-9", 1, 199))
    assert response.status_code == 201
    order = response.get_json()
    assert order["user_id"] == buyer and order["status"] == "placed" and order["cancelled_at"] is None
    assert order["total_cents"] == 2699
    assert order["items"] == [item("BOOK-1", 2, 1250), item("PEN-9", 1, 199)]
    assert response.headers["Location"] == f"/{order['id']}"
    assert orders_client.get(f"/{order['id']}").get_json() == order
    assert counts(orders_db) == (1, 2)


@pytest.mark.parametrize("items, total", [
    ([item(quantity=3, unit_price_cents=333), item(quantity=7, unit_price_cents=1429)], 11_002),
    ([item(unit_price_cents=0)], 0),  # free items are allowed
    ([item(quantity=10_000, unit_price_cents=100_000_000)], 10**12),
    ([item(sku=f"SKU-{n}", quantity=10_000, unit_price_cents=100_000_000) for n in range(100)], 10**14),
    ([item(quantity=1, unit_price_cents=1)] * 100, 100),
])
def test_money_totals_are_exact_integer_cents(orders_client, buyer, items, total):
    order = placed(orders_client, buyer, *items)
    assert order["total_cents"] == total and isinstance(order["total_cents"], int)
    assert orders_client.get(f"/{order['id']}").get_json()["total_cents"] == total


def test_items_keep_their_order(orders_client, buyer):
    skus = ["Z-LAST", "A-FIRST", "m.middle", "0_zero"]
    order = placed(orders_client, buyer, *[item(sku) for sku in skus])
    assert [i["sku"] for i in orders_client.get(f"/{order['id']}").get_json()["items"]] == skus


@pytest.mark.parametrize("path", ["/31337", "/9223372036854775807"])
def test_unknown_orders_are_404(orders_client, path):
    response = orders_client.get(path)
    assert response.status_code == 404 and response.mimetype == PROBLEM


@pytest.mark.parametrize("path", ["/0", "/-1", "/abc", "/9223372036854775808", "/1/cancel/x"])
def test_ids_that_cannot_exist_are_404_without_a_query(orders_client, path):
    assert orders_client.get(path).status_code == 404


# --- validation: refused before anything is written --------------------------------------------------

@pytest.mark.parametrize("body", [
    {"user_id": 1, "items": []},
    {"user_id": 1, "items": [item()] * 101},
    {"user_id": 1},
    {"items": [item()]},
    {"user_id": "1", "items": [item()]},
    {"user_id": True, "items": [item()]},
    {"user_id": 1.0, "items": [item()]},
    {"user_id": 0, "items": [item()]},
    {"user_id": 2**63, "items": [item()]},
    {"user_id": 1, "items": [item(quantity=0)]},
    {"user_id": 1, "items": [item(quantity=10_001)]},
    {"user_id": 1, "items": [item(quantity=1.5)]},
    {"user_id": 1, "items": [item(unit_price_cents=-1)]},
    {"user_id": 1, "items": [item(unit_price_cents=100_000_001)]},
    {"user_id": 1, "items": [item(unit_price_cents=12.5)]},
    {"user_id": 1, "items": [item(sku="")]},
    {"user_id": 1, "items": [item(sku="x" * 65)]},
    {"user_id": 1, "items": [item(sku="-leading-dash")]},
    {"user_id": 1, "items": [item(sku="BOOK'; DROP TABLE orders;--")]},
    {"user_id": 1, "items": [item(sku="ÜBER")]},
    {"user_id": 1, "items": [{**item(), "discount": 5}]},
    {"user_id": 1, "items": [item()], "status": "cancelled"},
    {"user_id": 1, "items": [item()], "total_cents": 1},
])
def test_invalid_orders_are_422_and_write_nothing(orders_client, orders_db, body):
    response = orders_client.post("/", json=body)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == PROBLEM and response.get_json()["errors"]
    assert counts(orders_db) == (0, 0)


@pytest.mark.parametrize("data, content_type, status", [
    ('{"user_id": 1, "items": [', "application/json", 400),
    ("NaN", "application/json", 400),
    ('{"user_id": 1}', "text/plain", 415),
    ("", "application/json", 400),
])
def test_malformed_bodies(orders_client, orders_db, data, content_type, status):
    response = orders_client.post("/", data=data, content_type=content_type)
    assert response.status_code == status and response.mimetype == PROBLEM
    assert counts(orders_db) == (0, 0)


def test_an_order_for_an_unknown_user_is_422_and_writes_nothing(orders_client, orders_db):
    response = place(orders_client, 987_654_321)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.get_json()["errors"] == [
        {"location": "user_id", "message": "unknown user", "type": "unknown_user"}]
    assert counts(orders_db) == (0, 0)


# --- cancel ------------------------------------------------------------------------------------------

def test_cancel_then_cancel_again_is_409(orders_client, buyer):
    order = placed(orders_client, buyer)
    first = orders_client.post(f"/{order['id']}/cancel")
    assert first.status_code == 200
    assert first.get_json()["status"] == "cancelled" and first.get_json()["cancelled_at"] is not None
    assert first.get_json()["total_cents"] == order["total_cents"]
    second = orders_client.post(f"/{order['id']}/cancel")
    assert second.status_code == 409 and second.mimetype == PROBLEM
    assert second.get_json()["detail"] == f"Order {order['id']} is already cancelled."
    assert orders_client.get(f"/{order['id']}").get_json()["cancelled_at"] == first.get_json()["cancelled_at"]


def test_cancel_of_an_unknown_order_is_404(orders_client):
    assert orders_client.post("/55555/cancel").status_code == 404


def test_cancel_needs_post(orders_client, buyer):
    order = placed(orders_client, buyer)
    response = orders_client.get(f"/{order['id']}/cancel")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]


def test_concurrent_cancels_only_one_wins(service_database, users_service):
    """Real transactions (no rollback): eight threads cancel one order at the same moment."""
    from orders import create_app

    database = service_database("orders")
    app = create_app({"USERS_URL": users_service.url, "LOG_LEVEL": "warning"}, database=database)
    order = placed(app.test_client(), users_service.user_ids[1])
    barrier, results = threading.Barrier(8), []

    def cancel():
        client = app.test_client()
        barrier.wait()
        response = client.post(f"/{order['id']}/cancel")
        results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=cancel) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(status for status, _ in results) == [200] + [409] * 7
        winner = next(body for status, body in results if status == 200)
        assert app.test_client().get(f"/{order['id']}").get_json()["cancelled_at"] == winner["cancelled_at"]
    finally:
        with database.session() as session:
            session.execute(delete(Order).where(Order.id == order["id"]))  # items go by ON DELETE CASCADE


# --- list ---------------------------------------------------------------------------------------------

def test_list_filters_by_user_and_paginates(orders_client, users_service):
    mine, theirs = users_service.user_ids[0], users_service.user_ids[1]
    my_ids = [placed(orders_client, mine)["id"] for _ in range(3)]
    placed(orders_client, theirs)
    page = orders_client.get(f"/?user_id={mine}&limit=2").get_json()
    assert [o["id"] for o in page["items"]] == my_ids[:2] and page["total"] == 3
    rest = orders_client.get(f"/?user_id={mine}&limit=2&offset=2").get_json()
    assert [o["id"] for o in rest["items"]] == my_ids[2:]
    assert orders_client.get("/").get_json()["total"] == 4


def test_list_shows_items_and_status(orders_client, buyer):
    order = placed(orders_client, buyer, item("A", 2, 5))
    orders_client.post(f"/{order['id']}/cancel")
    listed = orders_client.get("/").get_json()["items"]
    assert [(o["status"], o["items"], o["total_cents"]) for o in listed] == [("cancelled", [item("A", 2, 5)], 10)]


@pytest.mark.parametrize("offset", [1, 1_000_000])
def test_huge_offsets_give_an_empty_page(orders_client, buyer, offset):
    placed(orders_client, buyer)
    page = orders_client.get(f"/?offset={offset}").get_json()
    assert page["items"] == [] and page["total"] == 1


@pytest.mark.parametrize("query", [
    "user_id=0", "user_id=-5", "user_id=abc", "user_id=9223372036854775808", "limit=1000", "offset=-1",
    "status=placed", "user_id=1%27%20OR%201=1",
])
def test_bad_list_queries_are_422(orders_client, query):
    response = orders_client.get(f"/?{query}")
    assert response.status_code == 422 and response.mimetype == PROBLEM


def test_list_of_a_user_without_orders_is_empty(orders_client, buyer):
    placed(orders_client, buyer)
    assert orders_client.get("/?user_id=9223372036854775807").get_json()["total"] == 0

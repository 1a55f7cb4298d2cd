"""The users API against a real PostgreSQL (the project's db image, real migrations).

Each test runs in its own rolled-back transaction (see services/conftest.py), so every test starts
from empty tables; the few tests that need real concurrency commit and clean up after themselves.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select, text

from users.models import User

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


def create(client, email: str, name: str = "Someone", **headers):
    return client.post("/", json={"email": email, "name": name}, headers=headers)


def created(client, email: str, name: str = "Someone") -> dict:
    response = create(client, email, name)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def count(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(User))


# --- create / get ------------------------------------------------------------------------------

def test_every_test_starts_from_an_empty_table(users_client, users_db):
    # The isolation itself: rows of other tests (rolled back) are not visible.
    assert count(users_db) == 0
    assert users_client.get("/").get_json() == {"items": [], "total": 0, "limit": 20, "offset": 0}


def test_create_returns_the_stored_user_and_its_location(users_client, users_db):
    response = create(users_client, "ada@example.com", "Ada Lovelace")
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "email", "name", "created_at", "updated_at"}
    assert body["email"] == "ada@example.com" and body["name"] == "Ada Lovelace"
    assert response.headers["Location"] == f"/{body['id']}"
    assert users_client.get(f"/{body['id']}").get_json() == body
    with users_db.session() as session:
        row = session.get(User, body["id"])
        assert (row.email, row.name) == ("ada@example.com", "Ada Lovelace")


def test_location_carries_the_prefix_nginx_reports(users_client):
    response = create(users_client, "prefix@example.com", **{"X-Forwarded-Prefix": "/api/users"})
    assert response.headers["Location"] == f"/api/users/{response.get_json()['id']}"


def test_timestamps_are_utc_iso8601(users_client):
    body = created(users_client, "time@example.com")
    assert body["created_at"].endswith("Z") or body["created_at"].endswith("+00:00")


def test_ids_increase(users_client):
    first = created(users_client, "first@example.com")["id"]
    second = created(users_client, "second@example.com")["id"]
    assert second > first


@pytest.mark.parametrize("path", ["/999999", "/9223372036854775807"])
def test_unknown_ids_are_404_problems(users_client, path):
    response = users_client.get(path)
    assert response.status_code == 404 and response.mimetype == PROBLEM
    assert response.get_json()["detail"] == f"User {path[1:]} does not exist."


# --- duplicate email ------------------------------------------------------------------------------

@pytest.mark.parametrize("again", ["dup@example.com", "DUP@EXAMPLE.COM", "Dup@Example.Com"])
def test_duplicate_email_is_409_whatever_the_case(users_client, users_db, again):
    created(users_client, "dup@example.com")
    response = create(users_client, again, "Other")
    assert response.status_code == 409 and response.mimetype == PROBLEM
    assert response.get_json()["title"] == "Conflict"
    assert count(users_db) == 1  # nothing written by the refused request


def test_the_transaction_survives_a_conflict(users_client, users_db):
    # A unique violation aborts only the request's savepoint, not the connection's transaction.
    created(users_client, "one@example.com")
    assert create(users_client, "ONE@example.com").status_code == 409
    created(users_client, "two@example.com")
    assert count(users_db) == 2


def test_patch_to_another_users_email_is_409(users_client):
    created(users_client, "taken@example.com")
    other = created(users_client, "free@example.com")
    response = users_client.patch(f"/{other['id']}", json={"email": "TAKEN@example.com"})
    assert response.status_code == 409
    assert users_client.get(f"/{other['id']}").get_json()["email"] == "free@example.com"


def test_patch_may_change_only_the_case_of_ones_own_email(users_client):
    user = created(users_client, "case@example.com")
    response = users_client.patch(f"/{user['id']}", json={"email": "Case@Example.com"})
    assert response.status_code == 200
    assert response.get_json()["email"] == "Case@example.com"  # the domain is normalised


def test_concurrent_creates_of_one_email_admit_exactly_one(service_database):
    """Real transactions (no rollback): eight threads race to create the same email."""
    from users import create_app

    database = service_database("users")
    app = create_app({"LOG_LEVEL": "warning"}, database=database)
    barrier, statuses, ids = threading.Barrier(8), [], []

    def attempt(n: int):
        client = app.test_client()
        barrier.wait()
        response = client.post("/", json={"email": "race@example.com", "name": f"Racer {n}"})
        statuses.append(response.status_code)
        if response.status_code == 201:
            ids.append(response.get_json()["id"])

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(statuses) == [201] + [409] * 7
    finally:
        with database.session() as session:
            session.execute(delete(User).where(func.lower(User.email) == "race@example.com"))


# --- list, filter, paginate ------------------------------------------------------------------------

def test_list_is_ordered_by_id_and_paginated(users_client):
    ids = [created(users_client, f"page{n}@example.com")["id"] for n in range(5)]
    pages = [users_client.get(f"/?limit=2&offset={offset}").get_json() for offset in (0, 2, 4)]
    assert [[u["id"] for u in page["items"]] for page in pages] == [ids[0:2], ids[2:4], ids[4:]]
    assert {page["total"] for page in pages} == {5}
    assert [(page["limit"], page["offset"]) for page in pages] == [(2, 0), (2, 2), (2, 4)]


def test_default_page_size_is_20_and_maximum_100(users_client):
    for n in range(25):
        created(users_client, f"many{n}@example.com")
    assert len(users_client.get("/").get_json()["items"]) == 20
    full = users_client.get("/?limit=100").get_json()
    assert len(full["items"]) == 25 and full["total"] == 25


@pytest.mark.parametrize("offset", [5, 1_000_000])
def test_offsets_past_the_end_give_an_empty_page_with_the_total(users_client, offset):
    created(users_client, "lonely@example.com")
    page = users_client.get(f"/?offset={offset}").get_json()
    assert page["items"] == [] and page["total"] == 1 and page["offset"] == offset


@pytest.mark.parametrize("query", [
    "limit=0", "limit=101", "limit=-1", "limit=abc", "limit=1.5", "offset=-1", "offset=1000001",
    "offset=99999999999999999999999", "email=not-an-email", "sort=name", "limit=", "email=",
])
def test_bad_query_strings_are_422(users_client, query):
    response = users_client.get(f"/?{query}")
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == PROBLEM and response.get_json()["errors"]


def test_repeated_query_parameters_are_400(users_client):
    response = users_client.get("/?limit=1&limit=2")
    assert response.status_code == 400 and "limit" in response.get_json()["detail"]


def test_filter_by_email_ignores_case(users_client):
    created(users_client, "alice@example.com")
    bob = created(users_client, "bob@example.com")
    page = users_client.get("/?email=BOB@Example.COM").get_json()
    assert [u["id"] for u in page["items"]] == [bob["id"]] and page["total"] == 1


def test_filter_without_match_is_an_empty_page(users_client):
    created(users_client, "carol@example.com")
    assert users_client.get("/?email=nobody@example.com").get_json()["total"] == 0


@pytest.mark.parametrize("pattern", ["%@example.com", "_arol@example.com"])
def test_filter_is_equality_not_a_like_pattern(users_client, pattern):
    created(users_client, "carol@example.com")
    created(users_client, "karol@example.com")
    assert users_client.get("/", query_string={"email": pattern}).get_json()["total"] == 0


def test_list_reports_which_node_served_it(users_client, service_postgres):
    response = users_client.get("/")
    assert response.headers["X-DB-Host"] == service_postgres.host


# --- update / delete -----------------------------------------------------------------------------

def test_patch_changes_only_the_fields_sent(users_client):
    user = created(users_client, "grace@example.com", "Grace")
    response = users_client.patch(f"/{user['id']}", json={"name": "Grace Hopper"})
    assert response.status_code == 200
    assert response.get_json()["name"] == "Grace Hopper" and response.get_json()["email"] == "grace@example.com"
    assert users_client.get(f"/{user['id']}").get_json()["name"] == "Grace Hopper"


@pytest.mark.parametrize("body", [{}, {"name": None}, {"email": None}, {"id": 5}, {"name": ""}])
def test_patch_without_a_real_change_is_422_and_changes_nothing(users_client, body):
    user = created(users_client, "still@example.com", "Still")
    assert users_client.patch(f"/{user['id']}", json=body).status_code == 422
    assert users_client.get(f"/{user['id']}").get_json() == user


def test_patch_and_delete_of_unknown_users_are_404(users_client):
    assert users_client.patch("/424242", json={"name": "X"}).status_code == 404
    assert users_client.delete("/424242").status_code == 404


def test_delete_removes_the_user_once(users_client, users_db):
    user = created(users_client, "gone@example.com")
    response = users_client.delete(f"/{user['id']}")
    assert response.status_code == 204 and response.data == b""
    assert users_client.get(f"/{user['id']}").status_code == 404
    assert users_client.delete(f"/{user['id']}").status_code == 404
    assert count(users_db) == 0


def test_a_deleted_users_email_can_be_used_again(users_client):
    user = created(users_client, "reuse@example.com")
    users_client.delete(f"/{user['id']}")
    assert created(users_client, "REUSE@example.com")["id"] != user["id"]


# --- hostile and unusual input ------------------------------------------------------------------------

SQL_INJECTION = [
    "Robert'); DROP TABLE users;--",
    "' OR '1'='1",
    "1; SELECT pg_sleep(10)",
    "\\'; TRUNCATE users; --",
    "%_%",
    "$$ LANGUAGE sql $$",
]


@pytest.mark.parametrize("name", SQL_INJECTION)
def test_sql_injection_strings_are_stored_and_returned_verbatim(users_client, users_db, name):
    user = created(users_client, "bobby@example.com", name)
    assert user["name"] == name
    assert users_client.get(f"/{user['id']}").get_json()["name"] == name
    with users_db.session() as session:
        assert session.scalar(text("select to_regclass('users') is not null"))  # the table is still there
        assert session.scalar(select(User.name).where(User.id == user["id"])) == name


def test_sql_injection_in_the_email_filter_matches_nothing_else(users_client):
    created(users_client, "o'reilly@example.com", "Tim")
    created(users_client, "other@example.com")
    page = users_client.get("/", query_string={"email": "o'reilly@example.com"}).get_json()
    assert [u["name"] for u in page["items"]] == ["Tim"]
    assert users_client.get("/", query_string={"email": "x'or'1'='1@example.com"}).get_json()["total"] == 0


@pytest.mark.parametrize("name", [
    "Zoë Ångström", "山田太郎", "Ωμέγα", "مرحبا", "🚀 Rocket 👩‍🚀", "e\u0301 combining", "\u200bzero width",
    "x" * 200, "🙂" * 200,
])
def test_unicode_names_round_trip_exactly(users_client, name):
    user = created(users_client, "uni@example.com", name)
    assert user["name"] == name
    assert users_client.get(f"/{user['id']}").get_json()["name"] == name


def test_name_length_is_counted_in_characters(users_client):
    assert create(users_client, "long@example.com", "🙂" * 201).status_code == 422


@pytest.mark.parametrize("name", ["nul\x00byte", "bell\x07", "line\nbreak", "del\x7f", "c1\x85"])
def test_control_characters_are_422_not_a_database_error(users_client, users_db, name):
    response = create(users_client, "ctl@example.com", name)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert count(users_db) == 0


def test_internationalised_email_round_trips(users_client):
    user = created(users_client, "josé@exämple.com", "José")
    assert users_client.get(f"/{user['id']}").get_json()["email"] == user["email"]
    assert users_client.get("/", query_string={"email": user["email"].upper()}).get_json()["total"] == 1


@pytest.mark.parametrize("extra, status", [(0, 201), (1, 422)])
def test_email_length_limit_of_254_characters(users_client, extra, status):
    domain = "b" * 63 + "." + "c" * 63 + "." + "d" * (57 + extra) + ".com"
    email = "a" * 64 + "@" + domain
    response = create(users_client, email)
    assert len(email) == 254 + extra and response.status_code == status, response.get_json()


def test_health_and_readiness_with_a_real_database(users_client):
    assert users_client.get("/healthz").get_json() == {"status": "ok"}
    assert users_client.get("/readyz").get_json() == {"status": "ready", "writes": True}

"""The request plumbing every service shares, on a throwaway app with one route."""

import pytest
from flask import Flask

from chassis import problems, web
from chassis.schemas import Body, Query, Text

pytestmark = pytest.mark.unit


class Thing(Body):
    name: Text
    count: int


@pytest.fixture
def client():
    app = Flask("t")
    web.register(app)
    problems.register(app)

    @app.post("/things")
    def create():
        return web.json_body(Thing).model_dump()

    @app.get("/things")
    def search():
        return web.query_args(Query).model_dump()

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail")

    return app.test_client()


def assert_problem(response, status):
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["request_id"]
    return body


def test_valid_body(client):
    assert client.post("/things", json={"name": "x", "count": 2}).get_json() == {"name": "x", "count": 2}


def test_wrong_media_type_is_415(client):
    assert_problem(client.post("/things", data='{"name": "x", "count": 1}', content_type="text/plain"), 415)


@pytest.mark.parametrize("raw", ['{"name": "x",', "", "nan", '{"name": "x", "count": NaN}'])
def test_malformed_json_is_400(client, raw):
    assert_problem(client.post("/things", data=raw, content_type="application/json"), 400)


@pytest.mark.parametrize(("body", "location"), [
    ({"name": "x", "count": "1"}, "count"),            # strict: no string for an int
    ({"name": "x", "count": True}, "count"),           # nor a bool
    ({"name": "x", "count": 1.0}, "count"),
    ({"name": "x"}, "count"),
    ({"name": "x", "count": 1, "extra": 1}, "extra"),  # unknown fields are refused
    ({"name": "a\u0000b", "count": 1}, "name"),        # NUL would make PostgreSQL fail
    ({"name": "", "count": 1}, "name"),
    ([1, 2], "body"),
])
def test_invalid_body_is_422_naming_the_field(client, body, location):
    problem = assert_problem(client.post("/things", json=body), 422)
    assert location in [error["location"] for error in problem["errors"]]


def test_unicode_is_fine(client):
    assert client.post("/things", json={"name": "Zoë 🚀 '; DROP TABLE x;--", "count": 1}).status_code == 200


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=-1", "limit=abc", "offset=-5", "nope=1",
                                   "limit=1&limit=2", "limit=99999999999999999999"])
def test_bad_query_strings(client, query):
    assert client.get(f"/things?{query}").status_code in (400, 422)


def test_request_id_passes_through_or_is_replaced(client):
    assert client.get("/things", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    replaced = client.get("/things", headers={"X-Request-ID": "bad id; injected"}).headers["X-Request-ID"]
    assert replaced != "bad id" and len(replaced) == 32


def test_unknown_route_and_method(client):
    assert_problem(client.get("/nope"), 404)
    response = client.delete("/things")
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_unexpected_errors_are_500_problems_without_details(client):
    body = assert_problem(client.get("/boom"), 500)
    assert "secret" not in str(body)

"""How orders reacts to what the users API answers (a fake transport is fine in unit tests; the
integration suite runs a real users container)."""

import httpx
import pytest

from chassis.problems import Problem
from orders.users_client import UsersClient

pytestmark = pytest.mark.unit


def client_answering(handler) -> UsersClient:
    return UsersClient("http://users:8000", 0.5, transport=httpx.MockTransport(handler))


def test_existing_user_passes_and_request_id_is_forwarded():
    seen = {}

    def handler(request):
        seen.update(path=request.url.path, rid=request.headers["X-Request-ID"])
        return httpx.Response(200, json={"id": 7})

    client_answering(handler).require_user(7, "rid-1")
    assert seen == {"path": "/7", "rid": "rid-1"}


@pytest.mark.parametrize(("answer", "status"), [
    (lambda r: httpx.Response(404, json={}), 422),
    (lambda r: httpx.Response(500, json={}), 503),
    (lambda r: httpx.Response(503, json={}), 503),
])
def test_unknown_user_is_422_and_failures_are_503(answer, status):
    with pytest.raises(Problem) as caught:
        client_answering(answer).require_user(7, "rid")
    assert caught.value.status == status


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
def test_unreachable_users_is_503(error):
    def handler(request):
        raise error

    with pytest.raises(Problem) as caught:
        client_answering(handler).require_user(7, "rid")
    assert caught.value.status == 503

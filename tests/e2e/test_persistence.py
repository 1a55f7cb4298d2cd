"""Containers are cattle, data is not: the named volumes outlive the containers."""

import time

import httpx
import pytest

from harness import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_stack(built_images):
    stack = Stack(**built_images)
    yield stack
    stack.down(volumes=True)


def test_down_then_up_keeps_data_and_only_removing_volumes_loses_it(own_stack):
    email = f"keep-{time.time_ns()}@example.com"
    own_stack.up()
    user = httpx.post(f"{own_stack.url}/api/users", json={"email": email, "name": "Kept"}).json()

    own_stack.down(volumes=False)
    own_stack.up()
    assert httpx.get(f"{own_stack.url}/api/users/{user['id']}").json()["email"] == email
    volumes = own_stack.compose("config", "--volumes").stdout.split()
    assert sorted(volumes) == ["db-primary-data", "db-replica-data"]

    own_stack.down(volumes=True)
    own_stack.up()
    assert httpx.get(f"{own_stack.url}/api/users/{user['id']}").status_code == 404

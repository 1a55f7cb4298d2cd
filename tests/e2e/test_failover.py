"""Failover and restarts under load, on a stack of its own (these tests break things)."""

import threading
import time

import httpx
import pytest

from harness import ROOT, Stack, run

pytestmark = pytest.mark.e2e

WRITES_AGAIN_WITHIN_S = 20  # from stopping the primary to the first acknowledged write
RECOVERS_WITHIN_S = 15      # from recreating a service container to the first good answer


@pytest.fixture(scope="module")
def own_stack(built_images):
    # These tests drive steady load from one client; the rate limit is tested in test_bad_input.
    stack = Stack(**built_images, NGINX_RATE_LIMIT="10000r/s", NGINX_RATE_BURST="10000").up()
    yield stack
    stack.down(volumes=True)


class Writer(threading.Thread):
    """Creates users through nginx as fast as one client can, recording every acknowledged id."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.stop, self.acknowledged, self.failures = url, threading.Event(), {}, []
        self.successes: list[float] = []

    def run(self):
        with httpx.Client(base_url=self.url, timeout=5) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                email = f"w{n}-{time.time_ns()}@example.com"
                try:
                    response = client.post("/api/users", json={"email": email, "name": "writer"})
                except httpx.HTTPError as exc:
                    self.failures.append((time.monotonic(), type(exc).__name__))
                    continue
                if response.status_code == 201:
                    self.acknowledged[response.json()["id"]] = email
                    self.successes.append(time.monotonic())
                else:
                    self.failures.append((time.monotonic(), response.status_code))
                time.sleep(0.02)


def test_failover_keeps_every_acknowledged_write_and_writes_resume(own_stack):
    writer = Writer(own_stack.url)
    writer.start()
    time.sleep(2)
    stopped_at = time.monotonic()
    result = run("db/failover.sh", env={**own_stack.env, "COMPOSE": f"docker compose -p {own_stack.name}"},
                 check=False)
    assert result.returncode == 0, result.stderr
    deadline = stopped_at + WRITES_AGAIN_WITHIN_S + 10
    while time.monotonic() < deadline and not any(t > stopped_at + 1 for t in writer.successes):
        time.sleep(0.1)
    time.sleep(1)
    writer.stop.set()
    writer.join(10)

    resumed = min((t for t in writer.successes if t > stopped_at + 1), default=None)
    assert resumed is not None, f"no write succeeded after the failover; failures: {writer.failures[-5:]}"
    print(f"\nfailover: first write {resumed - stopped_at:.1f}s after the stop; "
          f"{len(writer.acknowledged)} acknowledged, {len(writer.failures)} refused (503) meanwhile")
    assert resumed - stopped_at < WRITES_AGAIN_WITHIN_S
    assert {f for _, f in writer.failures} <= {503, 502, 504, "ReadTimeout"}, writer.failures[:5]

    # Every acknowledged write is on the new primary (reads by id go to the primary).
    with httpx.Client(base_url=own_stack.url, timeout=5) as client:
        found = {i: client.get(f"/api/users/{i}") for i in writer.acknowledged}
    missing = {i: (r.status_code, r.json().get("email"), writer.acknowledged[i])
               for i, r in found.items() if r.status_code != 200 or r.json()["email"] != writer.acknowledged[i]}
    assert missing == {}

    # No service was restarted to get there.
    for service in ("users", "orders"):
        started = own_stack.compose("ps", "--format", "{{.Status}}", service).stdout
        assert "Restarting" not in started

    # `up` brings the fenced node back as a standby: two nodes again, one primary.
    own_stack.up()
    roles = sorted(own_stack.exec(node, "psql", "-XAtq", "-U", "postgres", "-c", "select pg_is_in_recovery()")
                   .stdout.strip() for node in ("db-primary", "db-replica"))
    assert roles == ["f", "t"]


def test_recreated_service_with_a_new_ip_is_reached_again_without_reloading_nginx(own_stack):
    def address():
        return own_stack.exec("nginx", "getent", "hosts", "users", check=False).stdout.split()[:1]

    before = address()
    nginx_started = own_stack.compose("ps", "--format", "{{.CreatedAt}}", "nginx").stdout
    # Remove users, let a placeholder take its freed address, then create users again: it must
    # get a new IP, which nginx learns by re-resolving the name (no reload, no restart).
    own_stack.compose("rm", "--stop", "--force", "users")
    placeholder = f"{own_stack.name}-placeholder"
    run("docker", "run", "--detach", "--name", placeholder, "--network", f"{own_stack.name}_app",
        "--entrypoint", "sleep", own_stack.image("users"), "300")
    try:
        own_stack.compose("up", "--detach", "--no-deps", "users")
        recreated = time.monotonic()
        with httpx.Client(base_url=own_stack.url, timeout=3) as client:
            while time.monotonic() - recreated < RECOVERS_WITHIN_S + 30:
                try:
                    if client.get("/api/users/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        took = time.monotonic() - recreated
    finally:
        run("docker", "rm", "--force", placeholder, check=False)
    after = address()
    print(f"\nrecreated users: {before} -> {after}, answering through nginx after {took:.1f}s")
    assert after != before, "the recreated container kept its address: the test proves nothing"
    assert took < RECOVERS_WITHIN_S
    assert own_stack.compose("ps", "--format", "{{.CreatedAt}}", "nginx").stdout == nginx_started


class SteadyLoad(threading.Thread):
    """Light, steady traffic through nginx: a read and a write every ~50 ms, recording failures."""

    def __init__(self, url: str, user_id: int):
        super().__init__(daemon=True)
        self.url, self.user_id, self.stop = url, user_id, threading.Event()
        self.counts = {"get": 0, "post": 0}
        self.failures: list[tuple[str, object]] = []

    def run(self):
        with httpx.Client(base_url=self.url, timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                for kind, send in (("get", lambda: client.get(f"/api/users/{self.user_id}")),
                                   ("post", lambda: client.post("/api/users", json={
                                       "email": f"roll{n}-{time.time_ns()}@example.com", "name": "r"}))):
                    try:
                        status = send().status_code
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                    self.counts[kind] += 1
                    if status not in (200, 201):
                        self.failures.append((kind, status))
                time.sleep(0.05)


def test_rolling_restart_of_a_scaled_service_loses_no_request(own_stack):
    """Two users containers, restarted one at a time under steady load. What makes it lossless:
    gunicorn stops accepting on SIGTERM and finishes in-flight requests (graceful_timeout); a
    connection refused by the stopping one has sent nothing, so nginx passes the request to the
    other (proxy_next_upstream error; even a POST, since it was never sent); nginx re-resolves the
    name, so the restarted container's address is picked up again; the next container is
    restarted only once the previous one is healthy (its readiness)."""
    own_stack.compose("up", "--detach", "--wait", "--no-recreate", "--scale", "users=2", "users")
    user = httpx.post(f"{own_stack.url}/api/users", json={"email": f"roll-{time.time_ns()}@example.com",
                                                           "name": "steady"}).json()
    containers = own_stack.compose("ps", "--quiet", "users").stdout.split()
    assert len(containers) == 2
    time.sleep(6)  # nginx's resolver (valid=5s) has seen both addresses
    load = SteadyLoad(own_stack.url, user["id"])
    load.start()
    try:
        time.sleep(2)
        for container in containers:
            run("docker", "restart", "--time", "30", container)
            deadline = time.monotonic() + 60
            while run("docker", "inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip() != "healthy":
                assert time.monotonic() < deadline, f"{container} did not become healthy again"
                time.sleep(0.5)
            time.sleep(6)  # let nginx re-resolve before the next one goes
    finally:
        load.stop.set()
        load.join(15)
    print(f"\nrolling restart: {load.counts} requests, failures: {load.failures}")
    assert load.counts["get"] > 50 and load.counts["post"] > 50
    assert load.failures == []

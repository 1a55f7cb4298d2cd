"""A generated project with a service added by `make service` runs
with `make up`, and the new service answers through nginx, database round trip included.

Isolated like tests/harness.py's stacks: its own compose project name and image prefix
(shoptest-..., so an interrupted run is swept by the next session) and a free port."""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid

import httpx
import pytest
from template_lib import ROOT, commit_all, run

from harness import PROJECT_PREFIX, free_port, require_docker

pytestmark = pytest.mark.e2e


def bases_mode() -> str:
    if os.environ.get("BASES"):
        return os.environ["BASES"]
    chosen = ROOT / ".bases.env"
    for line in chosen.read_text().splitlines() if chosen.is_file() else []:
        if line.startswith("BASES="):
            return line.split("=", 1)[1]
    return "auto"


def test_new_service_answers_through_nginx(generated, tmp_path):
    require_docker()
    project = tmp_path / "acme-store"
    shutil.copytree(generated, project, symlinks=True)
    run(sys.executable, "-m", "starter.configure", "service", "payments", cwd=project)
    commit_all(project, "make service NAME=payments")
    # The air-gapped path needs the host-side wheelhouse; reuse this repository's (git-ignored).
    for wheel in (ROOT / "services/wheelhouse").glob("*.whl"):
        shutil.copy2(wheel, project / "services/wheelhouse" / wheel.name)
    name = f"{PROJECT_PREFIX}-tpl{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = {"COMPOSE_PROJECT_NAME": name, "IMAGE_PREFIX": name, "HTTP_PORT": str(port), "BASES": bases_mode()}
    try:
        up = run("make", "up", cwd=project, env=env, check=False, timeout=1500)
        if up.returncode != 0:
            logs = run("docker", "compose", "logs", "--no-color", "--tail", "40", cwd=project, env=env, check=False)
            pytest.fail(f"make up failed:\n{up.stdout[-4000:]}\n{up.stderr[-4000:]}\n{logs.stdout[-6000:]}")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as api:
            assert api.get("/api/payments/healthz").json() == {"status": "ok"}
            assert api.get("/api/payments/readyz").json() == {"status": "ready", "writes": True}
            assert api.get("/api/payments/openapi.json").json()["servers"] == [{"url": "/api/payments"}]
            created = api.post("/api/payments", json={"name": "first payment"})
            assert created.status_code == 201, created.text
            item = created.json()
            assert created.headers["Location"] == f"/api/payments/{item['id']}"
            assert api.get(f"/api/payments/{item['id']}").json()["name"] == "first payment"
            deadline = time.monotonic() + 10  # the list is read from the replica
            while True:
                listed = api.get("/api/payments").json()
                if listed["total"] >= 1 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert [i["name"] for i in listed["items"]] == ["first payment"]
            bad = api.post("/api/payments", json={"name": ""})
            assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
            assert api.get("/api/users/readyz").json() == {"status": "ready", "writes": True}, "the example services still run"
    finally:
        run("docker", "compose", "down", "--volumes", "--remove-orphans", "--timeout", "10", cwd=project, env=env,
            check=False)
        images = run("docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter",
                     f"reference={name}/*", cwd=project, check=False).stdout.split()
        if images:
            run("docker", "image", "rm", *images, cwd=project, check=False)

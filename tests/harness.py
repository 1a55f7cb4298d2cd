"""Helpers for tests that need Docker: the project's images and whole compose stacks.

Every stack gets its own compose project name and a free host port, so tests never collide with
a stack you left running (`make up`) or with each other. Ryuk (testcontainers' reaper) cannot be
pulled here, so cleanup is explicit: finalizers tear stacks down, and a sweep at session start
removes what an interrupted earlier run left behind (by label).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# A Python service is a folder under services/ with its compose file; every one builds from
# services/Dockerfile with SERVICE=<name>.
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/compose.yaml"))
PROJECT_PREFIX = "shoptest"
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def require_docker() -> None:
    """In CI a missing Docker is a failure, never a silent skip."""
    if docker_available():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("Docker is required in CI (CI=true) but `docker info` failed")
    pytest.skip("Docker is not available")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args: str, check: bool = True, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, check=check, capture_output=True, text=True, env=env, timeout=timeout)


# A test run that was killed (not merely failed: finalizers handle that) leaves containers behind.
# Only those older than this are swept, so that two test runs at once never remove each other's.
LEFTOVER_AGE_SECONDS = 3 * 3600


def inspect(kind: str, name: str) -> dict:
    """``docker <kind> inspect NAME`` (kind: container, image, network), parsed."""
    return json.loads(run("docker", kind, "inspect", name).stdout)[0]


def _stale(container_ids: list[str]) -> list[str]:
    if not container_ids:
        return []
    created = run("docker", "inspect", "--format", "{{.Id}} {{.Created}}", *container_ids, check=False).stdout
    now = datetime.now(timezone.utc)
    stale = []
    for line in created.splitlines():
        cid, stamp = line.split(" ", 1)
        when = datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00")
        if (now - when).total_seconds() > LEFTOVER_AGE_SECONDS:
            stale.append(cid)
    return stale


def sweep_leftovers() -> None:
    """Remove what killed test runs left: compose projects named shoptest-* and testcontainers'
    containers (label org.testcontainers=true), with their networks and volumes."""
    listing = run("docker", "ps", "-a", "--filter", "label=com.docker.compose.project", "--format",
                  '{{.ID}} {{.Label "com.docker.compose.project"}}', check=False).stdout.split("\n")
    by_project: dict[str, list[str]] = {}
    for line in filter(None, listing):
        cid, project = line.split(" ", 1)
        if project.startswith(PROJECT_PREFIX + "-"):
            by_project.setdefault(project, []).append(cid)
    for project, ids in sorted(by_project.items()):
        if len(_stale(ids)) == len(ids):
            run("docker", "compose", "-p", project, "down", "--volumes", "--remove-orphans", "--timeout", "5",
                check=False)
    ids = _stale(run("docker", "ps", "-aq", "--filter", "label=org.testcontainers=true", check=False).stdout.split())
    if ids:
        run("docker", "rm", "-f", "-v", *ids, check=False)


def bases_env() -> dict[str, str]:
    """The base images chosen by build/bases.sh (official or air-gapped), as build args for compose."""
    env_file = ROOT / ".bases.env"
    if not env_file.exists():
        run("build/bases.sh", env={**os.environ, "BASES": os.environ.get("BASES", "auto")})
    values = {}
    for line in env_file.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


class Stack:
    """One compose project of this repository, with its own name and published port."""

    def __init__(self, name: str | None = None, **env: str):
        self.name = name or f"{PROJECT_PREFIX}-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.env = {**os.environ, **bases_env(), "HTTP_PORT": str(self.port), **env}
        self.url = f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        result = run("docker", "compose", "-p", self.name, *args, check=False, env=self.env, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def up(self) -> Stack:
        self.compose("up", "--detach", "--wait", "--wait-timeout", "300")
        return self

    def down(self, volumes: bool = True) -> None:
        self.compose("down", "--remove-orphans", "--timeout", "10", *(["--volumes"] if volumes else []), check=False)

    def logs(self, *services: str) -> str:
        return self.compose("logs", "--no-color", *services, check=False).stdout

    def image(self, service: str) -> str:
        return json.loads(self.compose("config", "--format", "json").stdout)["services"][service]["image"]

    def container(self, service: str) -> str:
        return self.compose("ps", "--quiet", service).stdout.strip()

    def exec(self, service: str, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.compose("exec", "-T", service, *command, check=check)



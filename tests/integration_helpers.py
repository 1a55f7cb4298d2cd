"""Helpers for the integration layer (testcontainers: one or a few containers per test module).

The project's own images are built once per test session with testcontainers' ``DockerImage``
(docker-py, i.e. Docker's legacy builder: the Dockerfiles must stay valid for it) from the
current sources, on whichever bases ``build/bases.sh`` chose (``harness.bases_env()``). They keep fixed
``itest/<name>:latest`` tags so that the next session's build is a cache hit (about 1 s instead
of a couple of minutes); an image that a rebuild replaced is removed right away. Two checkouts
tested at once set ``ITEST_IMAGE_PREFIX`` apart, so neither replaces the other's images.

Why not reuse the images ``make up`` built (``shop/<name>:dev``)? They may be older than the code
under test, and compose builds with BuildKit, so they prove nothing about the legacy builder.

Everything these helpers start carries testcontainers' ``org.testcontainers=true`` label and a
``shoptest-itest-`` name, so ``harness.sweep_leftovers()`` removes what an interrupted run left.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest
from hypothesis import HealthCheck
from testcontainers.core.container import DockerContainer
from testcontainers.core.image import DockerImage
from testcontainers.core.network import Network

import harness

ROOT = harness.ROOT
SESSION = uuid.uuid4().hex[:6]
NAME_PREFIX = f"{harness.PROJECT_PREFIX}-itest-{SESSION}"
IMAGE_PREFIX = os.environ.get("ITEST_IMAGE_PREFIX", "itest")

# name -> (build context, Dockerfile inside it, build args taken from .bases.env, fixed build
# args); services are found by folder (harness.SERVICES), so a new service's image is built and
# scanned too.
IMAGES: dict[str, tuple[str, str, tuple[str, ...], dict[str, str]]] = {
    "db": ("db", "Dockerfile", ("POSTGRES_BASE",), {}),
    "nginx": ("nginx", "Dockerfile", ("NGINX_BASE",), {}),
    **{service: ("services", "Dockerfile", ("PYTHON_BASE", "PIP_NO_INDEX"), {"SERVICE": service})
       for service in harness.SERVICES},
}

# The hardening compose applies (services/service-defaults.yaml, db/compose.yaml): the images
# are tested the way they run.
HARDENED = {"read_only": True, "cap_drop": ["ALL"], "security_opt": ["no-new-privileges:true"]}


def name(role: str) -> str:
    return f"{NAME_PREFIX}-{role}"


def strong_password() -> str:
    return secrets.token_urlsafe(24)


@functools.cache
def prepare_docker() -> None:
    """Once per process: Docker must be there (a failure in CI), earlier leftovers go, and the
    secrets exist before any image is built (so a leak into an image would be detectable)."""
    harness.require_docker()
    harness.sweep_leftovers()
    harness.run("./db/secrets.sh")


@functools.cache
def project_image(image: str) -> str:
    """Build one of the project's images from the working tree (once per session); its tag."""
    prepare_docker()
    context, dockerfile, arg_names, fixed_args = IMAGES[image]
    bases = harness.bases_env()
    tag = f"{IMAGE_PREFIX}/{image}:latest"
    client = docker.from_env()
    try:
        previous = client.images.get(tag).id
    except docker.errors.ImageNotFound:
        previous = None
    started = time.monotonic()
    try:
        built = DockerImage(path=ROOT / context, dockerfile_path=dockerfile, tag=tag, clean_up=False,
                            buildargs={**{arg: bases[arg] for arg in arg_names}, **fixed_args}, rm=True, forcerm=True).build()
    except docker.errors.BuildError as exc:
        log = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in exc.build_log)
        pytest.fail(f"building {tag} from {context}/{dockerfile} failed: {exc}\n{log[-4000:]}")
    print(f"\n[itest] image {tag} ({built.short_id}) ready in {time.monotonic() - started:.1f}s")
    if previous and previous != built.get_wrapped_image().id:
        with contextlib.suppress(docker.errors.APIError):  # still used by a container: keep it
            client.images.remove(previous)
    client.close()
    return tag


@contextlib.contextmanager
def network(purpose: str, *, internal: bool = False) -> Iterator[Network]:
    """A user-defined network (containers resolve each other by alias). ``internal``: no route
    out, like compose's ``data`` network; then even a DNS query for a stopped peer's name cannot
    leave the host."""
    net = Network(docker_network_kw={"internal": internal})
    net.name = name(purpose)
    net.create()
    try:
        yield net
    finally:
        with contextlib.suppress(docker.errors.NotFound):  # already swept (harness.sweep_leftovers)
            net.remove()


def stop(container: DockerContainer) -> None:
    """Remove a container with its anonymous volumes; fine if it is already gone (a sweep)."""
    with contextlib.suppress(docker.errors.NotFound):
        container.stop()


@contextlib.contextmanager
def started(container: DockerContainer) -> Iterator[DockerContainer]:
    """Start, yield, always remove (also when start-up itself fails)."""
    try:
        container.start()
        yield container
    finally:
        stop(container)


def run_seconds(container: DockerContainer) -> float:
    """How long an exited container ran, from Docker's own StartedAt/FinishedAt."""
    from datetime import datetime

    container.get_wrapped_container().reload()
    state = container.get_wrapped_container().attrs["State"]

    def parse(value: str) -> datetime:  # RFC 3339 with nanoseconds; Python takes microseconds
        head, _, fraction = value.rstrip("Z").partition(".")
        return datetime.fromisoformat(f"{head}.{(fraction + '000000')[:6]}+00:00")

    return (parse(state["FinishedAt"]) - parse(state["StartedAt"])).total_seconds()


def run_to_completion(container: DockerContainer, timeout: float = 60) -> tuple[int, str, float]:
    """Start a one-shot container and wait for it to exit: (exit code, logs, seconds it ran).
    Removed after."""
    with started(container):
        try:
            code = container.get_wrapped_container().wait(timeout=timeout)["StatusCode"]
        except Exception as exc:  # requests' ReadTimeout: still running
            raise AssertionError(f"{container.image} did not exit within {timeout}s:\n{logs(container)}") from exc
        return code, logs(container), run_seconds(container)


def logs(container: DockerContainer) -> str:
    out, err = container.get_logs()
    return (out + err).decode(errors="replace")


def exec_in(container: DockerContainer, *command: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a command in a running container: (exit code, stdout + stderr)."""
    result = container.get_wrapped_container().exec_run(list(command), environment=env)
    return result.exit_code, result.output.decode(errors="replace")


def url_of(container: DockerContainer, port: int) -> str:
    return f"http://{container.get_container_host_ip()}:{container.get_exposed_port(port)}"


def wait_http(url: str, timeout: float = 60, container: DockerContainer | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    detail = logs(container) if container else ""
    raise AssertionError(f"{url} not ready within {timeout}s (last: {last})\n{detail[-4000:]}")


@contextlib.contextmanager
def patched_environ(**values: str) -> Iterator[None]:
    """Set environment variables for the duration (Alembic's env.py reads os.environ)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def secret_dir(passwords: dict[str, str], mode: int = 0o755) -> Iterator[Path]:
    """A directory of password files, laid out like secrets/db/ (one file per service), readable
    by the containers' unprivileged users (they bind-mount it)."""
    with tempfile.TemporaryDirectory(prefix="itest-secrets-") as tmp:
        folder = Path(tmp) / "db"
        folder.mkdir()
        for service, password in passwords.items():
            (folder / service).write_text(password)
            (folder / service).chmod(0o644)
        folder.chmod(mode)
        yield folder


def docker_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return harness.run("docker", *args, check=False, timeout=timeout)


# --- Alembic migrations of a service (services/conftest.py provides ``run_alembic``) -------------

def _alembic_config(code: str, buffer=None):
    from chassis import migrations

    return migrations.config(ROOT / "services" / code, output_buffer=buffer)


def check_round_trip(run_alembic, service_database, code: str, tables: set[str]) -> None:
    """upgrade head -> the tables exist at head; downgrade base -> they are gone; upgrade again."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect, text

    database = f"{code}-migrations"
    head = ScriptDirectory.from_config(_alembic_config(code)).get_current_head()
    engine = service_database(database).write

    def state() -> tuple[set[str], list[str]]:
        with engine.connect() as connection:
            names = set(inspect(connection).get_table_names())
            versions = (connection.scalars(text("select version_num from alembic_version")).all()
                        if "alembic_version" in names else [])
        return names - {"alembic_version"}, versions

    for step in ("upgrade", "downgrade", "upgrade"):
        if step == "upgrade":
            run_alembic(code, database, lambda config: command.upgrade(config, "head"))
            assert state() == (tables, [head]), step
        else:
            run_alembic(code, database, lambda config: command.downgrade(config, "base"))
            assert state() == (set(), []), step
    engine.dispose()  # the next test of the round trip may drop what this engine's pool touched


def check_matches_models(run_alembic, code: str) -> None:
    """``alembic check``: autogenerate finds no difference between the models and the migrated
    database (raises AutogenerateDiffsDetected, listing them, if it does)."""
    from alembic import command

    run_alembic(code, f"{code}-migrations", lambda config: command.upgrade(config, "head"))
    run_alembic(code, f"{code}-migrations", lambda config: command.check(config))


def check_offline_sql(code: str, tables: set[str]) -> None:
    """``alembic upgrade head --sql`` (used to review a migration) renders without a database."""
    import io

    from alembic import command

    buffer = io.StringIO()
    command.upgrade(_alembic_config(code, buffer), "head", sql=True)
    sql = buffer.getvalue()
    for table in tables:
        assert f"CREATE TABLE {table} (" in sql, sql


# --- property-based fuzzing against a service's own OpenAPI document (schemathesis) -----------

def _fuzz_checks() -> list:
    import schemathesis.checks as checks

    return [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
            checks.response_schema_conformance]


FUZZ_CHECKS = _fuzz_checks()
# Per operation: 40 examples (positive and negative), each within 2 s (generous, for a busy CI
# machine); no example database, so runs do not replay each other's failures (hypothesis still
# keeps small caches in .hypothesis/, which it git-ignores itself); fixtures are per operation,
# not per example, on purpose: one rolled-back transaction for all of an operation's examples.
FUZZ_SETTINGS = {
    "max_examples": 40,
    "deadline": 2000,
    "database": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                              HealthCheck.filter_too_much],
}


def offline_database(service: str):
    """A Database that is never connected (engines are lazy): enough to build an app and read
    its OpenAPI document at collection time, before any container runs."""
    from chassis.db import Database
    from chassis.settings import DatabaseSettings

    return Database(DatabaseSettings(("127.0.0.1",), ("127.0.0.1",), 9, service, service), f"{service}-offline")


"""Fixtures for the services' integration tests (services/<name>/tests/integration/).

One PostgreSQL container per test session, from the project's db image, with one role + database
per service provisioned by the image's own ``provision`` mode, and each service's real Alembic
migrations applied. Tests do not restart anything: each runs inside an outer transaction that is
rolled back (``PinnedDatabase``: the app's sessions become savepoints of it), so they
share the database without seeing each other's rows, and hundreds of them stay cheap.

``orders`` talks to a real ``users`` container (the users image, its own database) on the same
testcontainers network; the test process reaches it through its mapped port.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config
from testcontainers.core.container import DockerContainer
from testcontainers.community.postgres import PostgresContainer

import harness
import integration_helpers as it
from chassis import migrations
from chassis.db import Database
from chassis.settings import DatabaseSettings

# Databases provisioned in the session's Postgres (file name = service name; '-' becomes '_'):
# one per service for the in-process tests, one for the users *container* (so its committed rows
# never show up in the users tests), and scratch ones for the migration round trips.
# Each service's own database, one more per service for the migration round trips, and the one
# of the users container that orders calls.
SERVICE_DATABASES = (*harness.SERVICES, *(f"{s}-migrations" for s in harness.SERVICES), "users-remote")
USERS_SECRET_PATH = "/run/secrets/users-db-password"


@dataclass
class ServicePostgres:
    container: PostgresContainer
    passwords: dict[str, str]  # service name -> password (also as files in secrets_dir)
    secrets_dir: Path

    @property
    def host(self) -> str:
        return self.container.get_container_host_ip()

    @property
    def port(self) -> int:
        return int(self.container.get_exposed_port(5432))

    def settings(self, service: str) -> DatabaseSettings:
        role = service.replace("-", "_")
        return DatabaseSettings(primary_hosts=(self.host,), replica_hosts=(self.host,), port=self.port,
                                name=role, user=role, password=self.passwords[service])

    def environ(self, service: str) -> dict[str, str]:
        """The service's DATABASE_* variables, pointing at the mapped port (for Alembic's env.py)."""
        settings = self.settings(service)
        return {"DATABASE_PRIMARY_HOSTS": self.host, "DATABASE_REPLICA_HOSTS": self.host,
                "DATABASE_PORT": str(self.port), "DATABASE_NAME": settings.name, "DATABASE_USER": settings.user,
                "DATABASE_PASSWORD": settings.password, "DATABASE_PASSWORD_FILE": ""}


def alembic(postgres: ServicePostgres, code: str, database: str, action: Callable[[Config], object]) -> None:
    """Run an Alembic command of service ``code`` (its migrations) on ``database``."""
    config = migrations.config(it.ROOT / "services" / code)
    with it.patched_environ(**postgres.environ(database)):
        action(config)


@pytest.fixture(scope="session")
def services_network():
    it.prepare_docker()
    with it.network("services") as net:
        yield net


@pytest.fixture(scope="session")
def service_postgres(services_network) -> Iterator[ServicePostgres]:
    """The project's db image as a standalone node (no PEER_HOST), provisioned and migrated."""
    container = PostgresContainer(it.project_image("db"), username="postgres", password=it.strong_password(),
                                  dbname="postgres", driver="psycopg", name=it.name("postgres"))
    container.with_network(services_network).with_network_aliases("db")
    passwords = {service: it.strong_password() for service in SERVICE_DATABASES}
    with it.secret_dir(passwords) as folder, it.started(container):
        # The image's own provisioning, as compose's db-provision runs it.
        job = (DockerContainer(it.project_image("db"), command=["provision"], name=it.name("provision"),
                               network=services_network, **it.HARDENED)
               .with_env("POSTGRES_PASSWORD", container.password)
               .with_env("DATABASE_PRIMARY_HOSTS", "db")
               .with_tmpfs_mount("/tmp")
               .with_volume_mapping(str(folder), "/run/secrets/service-db-passwords", "ro"))
        code, output, _ = it.run_to_completion(job)
        assert code == 0, f"db-provision failed:\n{output}"
        postgres = ServicePostgres(container, passwords, folder)
        for service in harness.SERVICES:
            alembic(postgres, service, service, lambda config: command.upgrade(config, "head"))
        yield postgres


@pytest.fixture(scope="session")
def run_alembic(service_postgres):
    """``run_alembic("users", "users-migrations", lambda config: command.downgrade(config, "base"))``"""
    return lambda code, database, action: alembic(service_postgres, code, database, action)


@pytest.fixture(scope="session")
def service_database(service_postgres) -> Iterator[Callable[[str], Database]]:
    """``service_database("users")``: the chassis' Database for that service's own role and
    database (one per name and session; engines disposed at the end)."""
    made: dict[str, Database] = {}

    def get(service: str) -> Database:
        if service not in made:
            made[service] = Database(service_postgres.settings(service), application_name=f"{service}-itest")
        return made[service]

    yield get
    for database in made.values():
        database.dispose()


class PinnedDatabase(Database):
    """The service's Database, except that every connection the app takes is ``connection``,
    inside the test's outer transaction: sessions become savepoints of it, and the test rolls it
    all back."""

    def __init__(self, database: Database, connection):
        super().__init__(database.settings, database.application_name, database.pool_size)
        self._pinned = connection

    @contextlib.contextmanager
    def connect(self, *, readonly: bool = False, autocommit: bool = False):
        yield self._pinned


@contextlib.contextmanager
def rolled_back(database: Database) -> Iterator[Database]:
    """Everything the app writes through the yielded Database happens in one outer transaction,
    rolled back at the end: the next test starts from the migrated, empty tables."""
    with database.write.connect() as connection:
        outer = connection.begin()
        try:
            yield PinnedDatabase(database, connection)
        finally:
            outer.rollback()


# --- the users service as a container (what orders calls) ---------------------------------------

def users_container(network, postgres: ServicePostgres, role: str) -> DockerContainer:
    """A users container from the project's image, hardened like in compose, on ``network``,
    reading its password from a file (DATABASE_PASSWORD_FILE), database ``users-remote``."""
    return (
        DockerContainer(it.project_image("users"), name=it.name(role), network=network,
                        mem_limit="512m", nano_cpus=1_000_000_000, **it.HARDENED)
        .with_tmpfs_mount("/tmp")
        .with_envs(DATABASE_PRIMARY_HOSTS="db", DATABASE_REPLICA_HOSTS="db", DATABASE_NAME="users_remote",
                   DATABASE_USER="users_remote", DATABASE_PASSWORD_FILE=USERS_SECRET_PATH, LOG_LEVEL="info")
        .with_volume_mapping(str(postgres.secrets_dir / "users-remote"), USERS_SECRET_PATH, "ro")
        .with_exposed_ports(8000)
    )


@pytest.fixture(scope="session")
def users_remote_migrated(services_network, service_postgres) -> None:
    """The users image's own one-shot migration (compose's users-migrate) on the remote database."""
    job = users_container(services_network, service_postgres, "users-migrate").with_command(
        ["alembic", "upgrade", "head"])
    code, output, _ = it.run_to_completion(job)
    assert code == 0, f"users migration in the container failed:\n{output}"


@pytest.fixture(scope="session")
def start_users(services_network, service_postgres, users_remote_migrated):
    """Factory: start a users container and wait until it is ready; removed at session end."""
    running: list[DockerContainer] = []

    def start(role: str = "users") -> DockerContainer:
        container = users_container(services_network, service_postgres, role)
        running.append(container)
        container.start()
        it.wait_http(it.url_of(container, 8000) + "/readyz", container=container)
        return container

    yield start
    for container in running:
        it.stop(container)


@dataclass
class UsersService:
    container: DockerContainer
    url: str
    user_ids: list[int]  # users that exist in it (for orders that must be accepted)


@pytest.fixture(scope="session")
def users_service(start_users) -> UsersService:
    container = start_users("users")
    url = it.url_of(container, 8000)
    ids = []
    for n in range(3):
        response = httpx.post(f"{url}/", json={"email": f"buyer{n}@example.com", "name": f"Buyer {n}"}, timeout=10)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return UsersService(container, url, ids)


# --- apps under test ---------------------------------------------------------------------------

@pytest.fixture
def offline_client():
    """Factory: a test client of ``service``'s app whose database is never reached (engines are
    lazy; any request that got that far would fail to connect): for input refused before it."""
    def make(service: str, **environ: str):
        settings = {"DATABASE_PRIMARY_HOSTS": "127.0.0.1", "DATABASE_PORT": "1", "SERVICE_NAME": service,
                    "DATABASE_PASSWORD": "k7PqX2vN9wLm4RtZ", "LOG_LEVEL": "warning", **environ}
        return importlib.import_module(service).create_app(settings).test_client()

    return make


# Each request below runs inside the test's rolled-back transaction.

@pytest.fixture
def client_of(service_database, request):
    """Factory: a test client of ``service``'s app on a rolled-back transaction of its database
    (one per test). A service that needs more (orders calls users) provides ``<service>_client``."""
    clients = {}

    def make(service: str):
        if service not in clients:
            try:
                clients[service] = request.getfixturevalue(f"{service}_client")
            except pytest.FixtureLookupError:
                database = stack.enter_context(rolled_back(service_database(service)))
                create_app = importlib.import_module(service).create_app
                clients[service] = create_app({"LOG_LEVEL": "warning"}, database=database).test_client()
        return clients[service]

    with contextlib.ExitStack() as stack:
        yield make


@pytest.fixture
def users_db(service_database) -> Iterator[Database]:
    with rolled_back(service_database("users")) as database:
        yield database


@pytest.fixture
def users_client(users_db):
    from users import create_app

    return create_app({"LOG_LEVEL": "warning"}, database=users_db).test_client()


@pytest.fixture
def orders_db(service_database) -> Iterator[Database]:
    with rolled_back(service_database("orders")) as database:
        yield database


@pytest.fixture
def orders_app_for(orders_db):
    """Factory: the orders app on the test's transaction, calling users at ``users_url``."""
    from orders import create_app

    def make(users_url: str, timeout: float = 2):
        environ = {"USERS_URL": users_url, "USERS_TIMEOUT_SECONDS": str(timeout), "LOG_LEVEL": "warning"}
        return create_app(environ, database=orders_db)

    return make


@pytest.fixture
def orders_client(orders_app_for, users_service):
    return orders_app_for(users_service.url).test_client()

"""The db image as a primary + streaming replica pair (testcontainers, not compose).

Two containers from the project's db image on one *internal* network (like compose's ``data``
network: no route out, so even a DNS lookup of a stopped peer cannot leave the host), hardened as
in db/compose.yaml, passwords from files. SQL runs inside the containers (psql over the local
socket as ``postgres``), the way an operator would.

The tests share one pair (module scope, ~10 s to start); the last one stops the primary, so it
stays last in this file.
"""

from __future__ import annotations

import re
import threading
import time

import docker
import pytest
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import ExecWaitStrategy

import integration_helpers as it

pytestmark = pytest.mark.integration

VISIBLE_WITHIN_SECONDS = 2.0  # asynchronous streaming on one host: milliseconds are typical
UNHEALTHY_WITHIN_SECONDS = 15.0  # after the primary stops, the standby's healthcheck must fail


class Pair:
    def __init__(self, primary: DockerContainer, replica: DockerContainer, network, secrets_dir, image: str):
        self.primary, self.replica, self.network, self.secrets_dir, self.image = (
            primary, replica, network, secrets_dir, image)


def node(image: str, network, secrets_dir, role: str, name: str, peer: str) -> DockerContainer:
    return (
        DockerContainer(image, name=it.name(name), network=network, network_aliases=[name],
                        mem_limit="512m", shm_size="128m", dns_opt=["timeout:1", "attempts:1"], **it.HARDENED)
        .with_tmpfs_mount("/var/run/postgresql")
        .with_tmpfs_mount("/tmp")
        .with_envs(NODE_ROLE=role, NODE_NAME=name, PEER_HOST=peer,
                   POSTGRES_PASSWORD_FILE="/run/secrets/postgres-password",
                   REPLICATION_PASSWORD_FILE="/run/secrets/replication-password")
        .with_volume_mapping(str(secrets_dir / "postgres-password"), "/run/secrets/postgres-password", "ro")
        .with_volume_mapping(str(secrets_dir / "replication-password"), "/run/secrets/replication-password", "ro")
        # Ready = the image's own healthcheck passes: primary accepts writes, standby streams.
        .waiting_for(ExecWaitStrategy(["db-healthcheck"]).with_startup_timeout(120).with_poll_interval(0.5))
    )


@pytest.fixture(scope="module")
def pair():
    it.prepare_docker()
    image = it.project_image("db")
    passwords = {"postgres-password": it.strong_password(), "replication-password": it.strong_password()}
    with it.secret_dir(passwords) as secrets_dir, it.network("replication", internal=True) as net:
        primary = node(image, net, secrets_dir, "primary", "db-primary", peer="db-replica")
        replica = node(image, net, secrets_dir, "replica", "db-replica", peer="db-primary")
        started = time.monotonic()
        with it.started(primary), it.started(replica):  # the replica clones the running primary
            print(f"\n[itest] primary + streaming replica ready in {time.monotonic() - started:.1f}s")
            yield Pair(primary, replica, net, secrets_dir, image)


def sql(container: DockerContainer, query: str, *, check: bool = True) -> str:
    code, output = it.exec_in(container, "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", query)
    if check:
        assert code == 0, f"{query!r} failed: {output}"
    return output.strip()


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.1)


def test_a_write_on_the_primary_is_visible_on_the_replica_within_the_bound(pair):
    sql(pair.primary, "create table itest_lag (id int primary key, written_at timestamptz not null"
                      " default clock_timestamp())")
    wait_until(lambda: sql(pair.replica, "select to_regclass('itest_lag') is not null") == "t", 10,
               "the table reaches the replica")
    # A poller on the replica, started before the write: it records when the row first shows up
    # (both containers share the host's clock), so docker exec overhead does not count.
    poller = """DO $$
      DECLARE seen timestamptz; deadline timestamptz := clock_timestamp() + interval '20 seconds';
      BEGIN
        LOOP
          SELECT written_at INTO seen FROM itest_lag WHERE id = 1;
          EXIT WHEN seen IS NOT NULL OR clock_timestamp() > deadline;
          PERFORM pg_sleep(0.001);
        END LOOP;
        RAISE NOTICE 'lag_ms=%', coalesce(round(extract(epoch FROM clock_timestamp() - seen) * 1000, 2)::text, 'never');
      END $$"""
    result: dict[str, str] = {}

    def poll():
        client = docker.from_env()  # its own connection: the main thread keeps using the other
        output = client.containers.get(pair.replica.get_wrapped_container().id).exec_run(
            ["psql", "-XAtq", "-d", "postgres", "-c", poller]).output
        result["output"] = output.decode()
        client.close()

    thread = threading.Thread(target=poll)
    thread.start()
    wait_until(lambda: sql(pair.replica, "select count(*) from pg_stat_activity where query like 'DO $$%itest_lag%'")
               == "1", 10, "the poller runs")
    sql(pair.primary, "insert into itest_lag (id) values (1)")
    thread.join(30)
    found = re.search(r"lag_ms=([0-9.]+)", result.get("output", ""))
    assert found, f"the row never reached the replica: {result}"
    lag = float(found.group(1)) / 1000
    print(f"\n[itest] replication lag measured: {lag * 1000:.2f} ms (bound {VISIBLE_WITHIN_SECONDS}s)")
    assert lag < VISIBLE_WITHIN_SECONDS
    assert sql(pair.replica, "select count(*) from itest_lag") == "1"


def test_the_replica_rejects_writes(pair):
    code, output = it.exec_in(pair.replica, "psql", "-XAtq", "-d", "postgres", "-c",
                              "create table itest_nope (id int)")
    assert code != 0
    assert "cannot execute CREATE TABLE in a read-only transaction" in output
    assert sql(pair.replica, "select pg_is_in_recovery()") == "t"
    assert sql(pair.primary, "select pg_is_in_recovery()") == "f"


def test_the_replication_slot_exists_on_the_primary_and_is_active(pair):
    assert sql(pair.primary, "select slot_name, slot_type, active from pg_replication_slots") == "db_replica|physical|t"
    assert sql(pair.primary, "select application_name, state, sync_state from pg_stat_replication") == (
        "db_replica|streaming|async")
    assert sql(pair.replica, "select status, slot_name, sender_host from pg_stat_wal_receiver") == (
        "streaming|db_replica|db-primary")


def test_both_nodes_report_healthy_with_their_role(pair):
    assert it.exec_in(pair.primary, "db-healthcheck")[1].startswith("healthy: primary, accepts writes")
    assert it.exec_in(pair.replica, "db-healthcheck")[1].strip() == "healthy: standby, streaming from db-primary"


def test_a_service_role_reaches_only_its_own_database(pair):
    """db-provision (the image's ``provision`` mode) creates one role + database per service file;
    pg_hba (``sameuser``) and REVOKE CONNECT keep each role out of every other database."""
    passwords = {"users": it.strong_password(), "orders": it.strong_password()}
    with it.secret_dir(passwords) as folder:
        job = (DockerContainer(pair.image, command=["provision"], name=it.name("db-provision"), network=pair.network,
                               dns_opt=["timeout:1", "attempts:1"], **it.HARDENED)
               .with_tmpfs_mount("/tmp")
               .with_env("POSTGRES_PASSWORD_FILE", "/run/secrets/postgres-password")
               .with_env("DATABASE_PRIMARY_HOSTS", "db-primary,db-replica")
               .with_volume_mapping(str(pair.secrets_dir / "postgres-password"), "/run/secrets/postgres-password",
                                    "ro")
               .with_volume_mapping(str(folder), "/run/secrets/service-db-passwords", "ro"))
        code, output, _ = it.run_to_completion(job)
    assert code == 0, output
    assert re.search(r"done on primary .*: 2 provisioned.*\(orders users\), 0 failed", output), output

    def login(role: str, database: str, host: str = "db-primary") -> tuple[int, str]:
        # Over the network, from another node, like a service container connects.
        return it.exec_in(pair.replica, "psql", f"host={host} user={role} dbname={database} connect_timeout=3",
                          "-XAtqc", "select current_user || '@' || current_database()",
                          env={"PGPASSWORD": passwords[role]})

    assert login("users", "users") == (0, "users@users\n")
    assert login("orders", "orders") == (0, "orders@orders\n")
    for role, database in [("users", "orders"), ("orders", "users"), ("users", "postgres"), ("orders", "template1")]:
        code, output = login(role, database)
        assert code != 0 and "no pg_hba.conf entry" in output, (role, database, output)
    code, output = login("users", "users", host="db-replica")  # the standby has the roles too
    assert (code, output) == (0, "users@users\n")
    wrong = it.exec_in(pair.replica, "psql", "host=db-primary user=users dbname=users connect_timeout=3", "-XAtqc",
                       "select 1", env={"PGPASSWORD": passwords["orders"]})
    assert wrong[0] != 0 and "password authentication failed" in wrong[1]


# Keep last: it stops the primary of the shared pair.
def test_the_replica_is_unhealthy_once_the_primary_is_gone(pair):
    pair.primary.get_wrapped_container().stop(timeout=30)  # SIGINT: fast shutdown
    stopped = time.monotonic()

    def unhealthy():
        code, output = it.exec_in(pair.replica, "db-healthcheck")
        return output.strip() if code != 0 else None

    message = wait_until(unhealthy, UNHEALTHY_WITHIN_SECONDS, "the replica's healthcheck fails")
    print(f"\n[itest] replica unhealthy {time.monotonic() - stopped:.1f}s after the primary stopped: {message}")
    assert message.startswith("unhealthy: standby not streaming")
    assert sql(pair.replica, "select pg_is_in_recovery()") == "t"  # still a standby: nothing promoted it

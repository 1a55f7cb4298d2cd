"""PostgreSQL connection arithmetic of an environment: the worst case the services can open
against what PgBouncer accepts and what the server allows.

Clients: each api Deployment at its HPA maximum (else its replica count) x gunicorn workers x
threads (chassis.sizing, from the container's limits, as the pod computes them) x two engines
(chassis.db: a primary and a replica engine; each thread holds at most one connection per
engine). A replica host list that falls back to the rw pooler counts against it too, since
all reads land there when no replica is ready. The worst case for one PgBouncer instance is
every client on it (the other one restarting).

Server: each Pooler's instances x (default_pool_size + reserve_pool_size) per (database, role)
pair, plus one connection per migration Job and a fixed reserve for the operator and
monitoring, against max_connections minus superuser_reserved_connections.
"""

from __future__ import annotations

import re
import sys

from k8s_lib import K8S, REPO, Env, ref

try:
    from chassis import sizing
except ImportError:  # this folder run on its own, without the repository's conftest
    sys.path.insert(0, str(REPO / "services" / "chassis"))
    from chassis import sizing

ENGINES = 2  # chassis.db.Database: primary and replica
# Connections the operator, its instance manager and the metrics exporter use.
OPERATOR_RESERVE = 10
SUPERUSER_RESERVED_DEFAULT = 3
# Bigger than any node: the pods' CPU limits, not the host, decide.
HOST_CPUS = 1024


def quantity(value) -> float:
    from k8s_policy import quantity as parse  # one parser for every quantity

    return parse(value)


def pod_connections(env: Env, deployment: dict) -> tuple[int, str]:
    """Connections one pod may open per engine, and how that was computed."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    limits = (container.get("resources") or {}).get("limits") or {}
    cpus = quantity(limits["cpu"]) if "cpu" in limits else None
    memory = int(quantity(limits["memory"])) if "memory" in limits else None
    size = sizing.server_size(cpus, memory, HOST_CPUS)
    settings = env.container_env(container)
    workers = int(settings.get("WEB_CONCURRENCY") or size.workers)
    threads = int(settings.get("GUNICORN_THREADS") or size.threads)
    return workers * threads, f"{workers} workers x {threads} threads"


def max_pods(env: Env, deployment: dict) -> int:
    name = deployment["metadata"]["name"]
    for hpa in env.of_kind("HorizontalPodAutoscaler"):
        if hpa["spec"]["scaleTargetRef"]["name"] == name:
            return hpa["spec"]["maxReplicas"]
    return deployment["spec"].get("replicas", 1)


def _int(params: dict, key: str, default: int | None = None) -> int | None:
    value = params.get(key)
    return int(value) if value is not None else default


def check_connections(env: Env) -> list[str]:
    out = []
    poolers = {p["metadata"]["name"]: p for p in env.of_kind("Pooler")}
    clusters = env.of_kind("Cluster")
    if not clusters:
        return []
    cluster = clusters[0]
    cluster_name = cluster["metadata"]["name"]
    clients = {name: 0 for name in poolers}
    direct = {"rw": 0, "ro": 0}
    breakdown = []
    pairs = set()
    for deployment in env.api_deployments():
        per_engine, how = pod_connections(env, deployment)
        pods = max_pods(env, deployment)
        settings = env.container_env(deployment["spec"]["template"]["spec"]["containers"][0])
        pairs.add((settings.get("DATABASE_NAME"), settings.get("DATABASE_USER")))
        breakdown.append(f"{ref(deployment)}: {pods} pods x {how} x {ENGINES} engines")
        for key in ("DATABASE_PRIMARY_HOSTS", "DATABASE_REPLICA_HOSTS"):
            hosts = [h for h in (settings.get(key) or "").split(",") if h]
            for host in set(hosts):
                if host in poolers:
                    clients[host] += pods * per_engine
                elif host.startswith(cluster_name + "-"):
                    direct["ro" if host.endswith(("-ro", "-r")) else "rw"] += pods * per_engine
    summary = "; ".join(breakdown)
    for name, pooler in poolers.items():
        params = pooler["spec"]["pgbouncer"].get("parameters") or {}
        limit = _int(params, "max_client_conn")
        if limit is None:
            out.append(
                f"{ref(pooler)}: spec.pgbouncer.parameters.max_client_conn: must be set (PgBouncer's default is 100)"
            )
        elif clients[name] > limit:
            out.append(
                f"{ref(pooler)}: spec.pgbouncer.parameters.max_client_conn: {limit} < {clients[name]} client "
                f"connections at the worst case ({summary})"
            )
        if _int(params, "default_pool_size") is None:
            out.append(f"{ref(pooler)}: spec.pgbouncer.parameters.default_pool_size: must be set")
    params = (cluster["spec"].get("postgresql") or {}).get("parameters") or {}
    max_connections = _int(params, "max_connections", 100)
    available = max_connections - _int(params, "superuser_reserved_connections", SUPERUSER_RESERVED_DEFAULT)
    available -= OPERATOR_RESERVE
    server = {"rw": direct["rw"] + len(env.of_kind("Job")), "ro": direct["ro"]}
    for pooler in poolers.values():
        p = pooler["spec"]["pgbouncer"].get("parameters") or {}
        pool = _int(p, "default_pool_size", 20) + _int(p, "reserve_pool_size", 0)
        server[pooler["spec"]["type"]] += pooler["spec"].get("instances", 1) * pool * len(pairs)
    for kind, used in server.items():
        if used > available:
            out.append(
                f"{ref(cluster)}: spec.postgresql.parameters.max_connections: {max_connections} leaves {available} for "
                f"clients, but the {kind} side may open {used} (poolers' pools x {len(pairs)} database/role pairs"
                f"{', direct clients' if direct[kind] else ''}, migrations; {summary})"
            )
    return out


NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "eight": 8}
WORKERS_CLAIM = re.compile(r"#.*?\b(\d+|one|two|three|four|five|six|eight) gunicorn workers?\b", re.IGNORECASE)


def check_sizing_comments(env: Env, text: str | None = None) -> list[str]:
    """A comment in the overlay that counts gunicorn workers says what chassis.sizing gives."""
    path = K8S / "overlays" / env.name / "apps" / "kustomization.yaml"
    text = path.read_text() if text is None else text
    computed = {pod_connections(env, d)[1].split()[0] for d in env.api_deployments()}
    out = []
    for match in WORKERS_CLAIM.finditer(text):
        word = match.group(1).lower()
        claimed = int(word) if word.isdigit() else NUMBER_WORDS[word]
        if {str(claimed)} != computed:
            out.append(
                f"k8s/overlays/{env.name}/apps/kustomization.yaml: comment says {match.group(1)} gunicorn "
                f"worker(s), chassis.sizing gives {sorted(computed)} for these limits"
            )
    return out

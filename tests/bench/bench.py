"""`make bench`: what the template costs, measured on the machine at hand.

Writes docs/benchmarks.json (a list of {"name", "value", "unit"}, the first entry describing the
run) and docs/benchmarks.md (rendered from the JSON by benchreport.py); raw outputs (wrk, BuildKit,
failover log, profile) go to docs/benchmarks.raw/ (git-ignored).

Phases, on a snapshot of the working tree copied to a temporary directory (the one-line code
change is made there; the work tree is never modified), in a compose project of its own
(`bench-<id>`, free port, images `bench/<service>:<id>`), torn down at the end, also on failure:
  build     cold build of all images (--no-cache), then a rebuild after a one-line change in users
  images    size of each image and what it adds over its base
  startup   `up --wait` from built images to all healthy: fresh volumes, then existing volumes
  load      wrk, each endpoint at a fixed concurrency and at max throughput, through nginx; the
            same endpoints directly at the services (inside the app network); replication lag on
            the replica while create-user runs; GET by id paced at half its max rate
  profile   py-spy on the services under load, when a GET-by-id target is missed
  floor     users' CPU per request (GET by id, /healthz) over a bare WSGI + psycopg app's, run in the
            users image under the same gunicorn, limits and nginx (tests/bench/floor.py; bench-only)
  scaling   GET by id with users limited to 1 CPU, then 2 CPUs (compose override, recreated:
            the service sizes its workers from the cgroup at start)
  failover  writes through nginx while db/failover.sh runs: time to the first write accepted again,
            and every acknowledged write checked on the new primary; then `up` rejoins the old one
The nginx rate limit is raised (NGINX_RATE_LIMIT/NGINX_RATE_BURST) so it does not cap the load.

Load placement: the bench brings its own wrk, an image built from Debian's package by
build/standin.sh (once; BENCH_WRK_IMAGE names another). wrk runs with one thread in two long-lived
containers pinned to the last CPU (--cpuset-cpus): one on the host's network (through the published
port, the client's view), one on the app network (direct calls by service name). The stack's
containers keep their compose CPU limits and float over all CPUs. Every run records who used the
CPUs (each container's cgroup, wrk's, docker-proxy, and the rest of the host = other people's
work), so contention is visible next to the figures.

Settings (environment): BENCH_DURATION (s per run, 6), BENCH_ROUND (s per interleaved round, 2),
BENCH_FIXED_CONNECTIONS (8), BENCH_MAX_CONNECTIONS (32), BENCH_PROFILE (auto|always|never: py-spy on
users (GET by id) and orders (create order) when a GET-by-id target is missed; needs root),
BENCH_SKIP_BUILD=1 with BENCH_IMAGE_TAG (reuse images bench/*:TAG to try the other phases; the build
figures are then missing and the results stay in docs/benchmarks.raw/), BENCH_KEEP=1 (leave the
stack and the copy running, to look at them; remove with `docker compose -p NAME down -v`).
"""

from __future__ import annotations

import datetime as dt
import functools
import http.client
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path

import benchlib as lib
import benchreport

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RAW = DOCS / "benchmarks.raw"
WRK_IMAGE = "airgap/wrk:4.1-trixie"  # the bench's own load generator (build/standin.sh wrk)

DURATION = int(os.environ.get("BENCH_DURATION", "6"))
ROUND = int(os.environ.get("BENCH_ROUND", "2"))
ROUNDS = 3  # interleaved direct / via-nginx rounds: the median of three resists a burst of other load
FIXED = int(os.environ.get("BENCH_FIXED_CONNECTIONS", "8"))
MAX = int(os.environ.get("BENCH_MAX_CONNECTIONS", "32"))
PROFILE = os.environ.get("BENCH_PROFILE", "auto")
RATE_LIMIT, RATE_BURST = "100000r/s", "100000"
# Copied into the snapshot: everything a build and `up` need, nothing of the developer's state.
SKIP = {".git", ".venv", ".ruff_cache", ".pytest_cache", "__pycache__", "secrets", "benchmarks.raw"}


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=timeout)


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} bench: {message}", flush=True)


class Endpoint:
    """One measured request: its path through nginx, and (host:port, path) at the service itself."""

    def __init__(self, name: str, path: str, direct: tuple[str, str] | None, script: tuple[str, ...] = (),
                 args=lambda label: ()):
        self.name, self.path, self.direct, self.script, self.args = name, path, direct, script, args


class Bench:
    def __init__(self) -> None:
        self.id = uuid.uuid4().hex[:6]
        self.name = f"bench-{self.id}"
        self.results = lib.Results()
        self.run: dict = {"name": "run", "value": None, "unit": "date", "errors": []}
        self.started = time.monotonic()
        self.workdir: Path | None = None
        self.stack = None
        self.images: list[str] = []
        self.wrk_image = os.environ.get("BENCH_WRK_IMAGE", WRK_IMAGE)
        self.wrk_containers = {"host": f"{self.name}-wrk", "app": f"{self.name}-wrk-app"}
        self.wrk_cpu = str(max(os.sched_getaffinity(0)))
        self.cpu: lib.CpuMeter | None = None
        self.runs: list[dict] = self.run.setdefault("wrk_runs", [])

    # ---- setup and teardown -------------------------------------------------------------------

    def preflight(self) -> None:
        if docker("image", "inspect", self.wrk_image).returncode and not shutil.which("mmdebstrap"):
            sys.exit(f"bench: building {self.wrk_image} needs mmdebstrap (apt-get install mmdebstrap), "
                     "or set BENCH_WRK_IMAGE to an image that has wrk")
        for tool in ("docker",):
            if not shutil.which(tool):
                sys.exit(f"bench: {tool} is missing")
        if docker("compose", "version").returncode:
            sys.exit("bench: Docker Compose v2 is required (see README, 'Requirements')")

    def snapshot(self) -> None:
        """Copy the work tree (with the wheelhouse and .bases.env, without secrets or VCS data)."""
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        shutil.copytree(ROOT, self.workdir, dirs_exist_ok=True, symlinks=True,
                        ignore=lambda _dir, names: [n for n in names if n in SKIP])
        subprocess.run(["./db/secrets.sh", "."], cwd=self.workdir, check=True, capture_output=True)
        sys.path.insert(0, str(self.workdir / "tests"))
        import harness  # the copy's: its ROOT is the snapshot, so compose runs there

        tag = os.environ.get("BENCH_IMAGE_TAG", self.id)
        self.stack = harness.Stack(name=self.name, IMAGE_PREFIX="bench", IMAGE_TAG=tag,
                                   NGINX_RATE_LIMIT=RATE_LIMIT, NGINX_RATE_BURST=RATE_BURST)
        self.tag = tag
        log(f"snapshot of the work tree in {self.workdir}; compose project {self.name}, port {self.stack.port}")

    def teardown(self) -> None:
        if os.environ.get("BENCH_KEEP") == "1":
            log(f"BENCH_KEEP=1: left running: compose project {self.name} in {self.workdir}")
            return
        log("teardown: containers, volumes, networks and images of this run")
        docker("rm", "-f", *self.wrk_containers.values())
        if self.stack is not None:
            self.stack.down(volumes=True)
        if not os.environ.get("BENCH_SKIP_BUILD"):
            ids = set(self.images) | {self.image_id(i) for i in self.image_names().values()}
            ids.discard(None)
            if ids:
                docker("image", "rm", "-f", *sorted(ids))
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def image_names(self) -> dict[str, str]:
        return {s: f"bench/{s}:{self.tag}" for s in ("users", "orders", "nginx", "db")}

    @staticmethod
    def image_id(image: str) -> str | None:
        return docker("image", "inspect", "-f", "{{.Id}}", image).stdout.strip() or None

    def raw(self, name: str, text: str) -> None:
        (RAW / name).write_text(text)

    def phase(self, title: str, fn) -> bool:
        log(f"== {title}")
        t = time.monotonic()
        try:
            fn()
            log(f"   {title}: {time.monotonic() - t:.0f} s")
            return True
        except Exception as exc:  # one broken phase must not hide the others' figures
            self.run["errors"].append(f"{title}: {exc.__class__.__name__}: {exc}"[:2000])
            traceback.print_exc()
            log(f"   {title} FAILED after {time.monotonic() - t:.0f} s (the other phases go on)")
            return False

    # ---- build, images, startup ---------------------------------------------------------------

    def build(self) -> None:
        t = time.monotonic()
        cold = self.stack.compose("--progress", "plain", "build", "--no-cache", timeout=1800)
        cold_s = time.monotonic() - t
        self.raw("build-cold.log", cold.stderr + cold.stdout)
        self.images = [self.image_id(i) for i in self.image_names().values()]
        steps = lib.parse_buildkit(cold.stderr + cold.stdout)
        self.results.add("build_s.cold", cold_s, "s", f"all 4 images, --no-cache, {len(steps)} steps")

        changed = self.workdir / "services/users/users/__init__.py"
        # Unique per run: BuildKit would find a change it has seen before (an earlier run) in its cache.
        changed.write_text(changed.read_text() + f"# bench {self.id}: a one-line code change\n")
        t = time.monotonic()
        warm = self.stack.compose("--progress", "plain", "build", timeout=1800)
        warm_s = time.monotonic() - t
        self.raw("build-code-change.log", warm.stderr + warm.stdout)
        steps = lib.parse_buildkit(warm.stderr + warm.stdout)
        rebuilt = [s for s in steps if not s.cached]
        listed = "; ".join(f"{s.service} {s.stage}: {s.instruction}" for s in rebuilt) or "none"
        self.results.add("rebuild_s.code_change", warm_s, "s",
                         f"`compose build` of all images after appending a comment to users/__init__.py; "
                         f"rebuilt {len(rebuilt)} of {len(steps)} steps: {listed}")
        self.results.add("rebuild.layers_rebuilt", len(rebuilt), "layers")
        reused = not any(lib.dependency_step(s) for s in rebuilt)
        self.results.add("rebuild.dependency_layers_reused", int(reused), "yes=1")
        self.run["build"] = {"rebuilt": [s.__dict__ for s in rebuilt], "steps": len(steps)}
        self.images += [self.image_id(self.image_names()["users"])]

    def image_sizes(self) -> None:
        bases = {"users": "PYTHON_BASE", "orders": "PYTHON_BASE", "nginx": "NGINX_BASE", "db": "POSTGRES_BASE"}
        for service, image in self.image_names().items():
            base = self.stack.env[bases[service]]
            size, base_size = (int(docker("image", "inspect", "-f", "{{.Size}}", i).stdout) for i in (image, base))
            self.results.add(f"image_mb.{service}", size / 1e6, "MB")
            self.results.add(f"image_added_mb.{service}", (size - base_size) / 1e6, "MB", f"over {base}")
        # Where a service image's added size goes: the venv's largest packages.
        code = ("import pathlib,sys;"
                "d=next(pathlib.Path('/opt/venv/lib').glob('python3*/site-packages'));"
                "s=sorted(((sum(f.stat().st_size for f in p.rglob('*') if f.is_file()) if p.is_dir() "
                "else p.stat().st_size),p.name) for p in d.iterdir());"
                "print('; '.join(f'{n} {b/1e6:.1f} MB' for b,n in reversed(s[-6:])))")
        out = docker("run", "--rm", "--network", "none", "--entrypoint", "python3", self.image_names()["users"],
                     "-c", code)
        self.run["users_venv_largest"] = out.stdout.strip() or out.stderr.strip()[-300:]
        log(f"   users venv, largest packages: {self.run['users_venv_largest']}")

    def startup(self) -> None:
        t, wall = time.monotonic(), time.time()
        self.stack.up()
        self.results.add("up_to_healthy_s", time.monotonic() - t, "s",
                         "`compose up --wait` from built images, fresh volumes (initdb + replica clone included)")
        self.run.setdefault("startup", {})["fresh volumes"] = self.timeline(wall)
        self.stack.down(volumes=False)
        t, wall = time.monotonic(), time.time()
        self.stack.up()
        self.results.add("up_to_healthy_s.existing_volumes", time.monotonic() - t, "s",
                         "after `down` (volumes kept): the everyday `make up`")
        self.run["startup"]["existing volumes"] = self.timeline(wall)
        self.refresh_meter()
        self.users_sizing = self.sizing()

    def timeline(self, since: float) -> list[list]:
        """When each container started and became healthy (first passing probe) or exited, in seconds
        after `up` began: where the time to healthy goes."""
        ids = self.stack.compose("ps", "--all", "--quiet").stdout.split()
        info = json.loads(docker("inspect", *ids).stdout or "[]")

        def at(stamp: str | None) -> float | None:
            if not stamp or stamp.startswith("0001"):
                return None
            stamp = re.sub(r"(\.\d{6})\d*", r"\1", stamp.replace("Z", "+00:00"))
            return round(dt.datetime.fromisoformat(stamp).timestamp() - since, 1)

        rows = []
        for c in info:
            state = c["State"]
            passed = [p for p in (state.get("Health") or {}).get("Log") or [] if p.get("ExitCode") == 0]
            ready = at(passed[0]["End"]) if passed else None
            event = "healthy" if ready is not None else ("exited" if state["Status"] == "exited" else state["Status"])
            rows.append([c["Config"]["Labels"].get("com.docker.compose.service", c["Name"]), at(state["StartedAt"]),
                         event, ready if ready is not None else at(state.get("FinishedAt"))])
        rows.sort(key=lambda r: (r[1] is None, r[1]))
        log("   " + "; ".join(f"{s} started +{a}s, {e} +{b}s" for s, a, e, b in rows))
        return rows

    def refresh_meter(self) -> None:
        pids = {}
        for service in ("nginx", "users", "orders", "db-primary", "db-replica"):
            cid = self.stack.container(service)
            if cid:
                pid = docker("inspect", "-f", "{{.State.Pid}}", cid).stdout.strip()
                if pid.isdigit() and pid != "0":
                    pids[service] = int(pid)
        load = [int(pid) for pid in (docker("inspect", "-f", "{{.State.Pid}}", c).stdout.strip()
                                     for c in self.wrk_containers.values()) if pid.isdigit() and pid != "0"]
        self.cpu = lib.CpuMeter(pids, lib.docker_proxy_pids(self.stack.port), load)

    # ---- HTTP ---------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 5) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.stack.port, timeout=timeout)
        try:
            payload = json.dumps(body) if body is not None else None
            conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            return response.status, (json.loads(data) if data else {})
        finally:
            conn.close()

    def seed(self) -> None:
        ids = []
        for i in range(30):
            status, user = self.request("POST", "/api/users", {"email": f"seed-{self.id}-{i}@example.com",
                                                               "name": f"Seed {i}"})
            if status != 201:
                raise RuntimeError(f"seeding users: {status} {user}")
            ids.append(user["id"])
        self.user_id = ids[0]

    # ---- wrk ----------------------------------------------------------------------------------

    def build_wrk_image(self) -> None:
        """wrk from Debian's package (build/standin.sh, once: later runs reuse the image), started
        as two idle, pinned containers that each run executes in: their cgroups measure wrk's CPU."""
        if docker("image", "inspect", self.wrk_image).returncode:
            subprocess.run([str(ROOT / "build/standin.sh"), "wrk", self.wrk_image], check=True,
                           capture_output=True, timeout=600)
        self.lua = Path(tempfile.mkdtemp(prefix="lua-", dir=self.workdir))
        self.lua.chmod(0o755)
        self.scripts = {snippets: lib.lua_script(self.lua, *snippets)
                        for snippets in ((), ("post_user",), ("post_order",), ("paced",))}
        for where, network in (("host", "host"), ("app", f"{self.name}_app")):
            name = self.wrk_containers[where]
            started = docker("run", "--detach", "--name", name, "--network", network, "--cpuset-cpus", self.wrk_cpu,
                             "--user", "65534:65534", "--read-only", "--cap-drop", "ALL", "--security-opt",
                             "no-new-privileges", "-v", f"{self.lua}:/lua:ro", "--entrypoint", "sleep",
                             self.wrk_image, "infinity")
            if started.returncode:
                raise RuntimeError(f"wrk container {name}: {started.stderr.strip()}")
        self.refresh_meter()

    def wrk(self, label: str, target: str, conns: int, script: tuple[str, ...] = (), args: tuple = (),
            duration: int = DURATION, inside: bool = False) -> lib.WrkResult:
        """One wrk run. inside=False: on the host, pinned, through the published port (client's view);
        inside=True: a wrk container on the app network (URLs by service name)."""
        path = self.scripts[script]
        opts = ["-t1", f"-c{conns}", f"-d{duration}s", "--timeout", "5s"]
        url = f"http://{target}" if inside else f"http://127.0.0.1:{self.stack.port}{target}"
        argv = ["docker", "exec", self.wrk_containers["app" if inside else "host"], "wrk", *opts,
                "-s", f"/lua/{path.name}", url]
        if args:
            argv += ["--", *map(str, args)]
        before = self.cpu.snapshot()
        status, output, _ = lib.run_with_cpu(argv, timeout=duration + 60)
        after = self.cpu.snapshot()
        self.raw(f"wrk-{label}.txt", " ".join(argv) + "\n\n" + output)
        if status != 0:
            raise RuntimeError(f"wrk {label} exited {status}: {output[-1500:]}")
        result = lib.parse_wrk(label, output)
        result.cpu = lib.CpuMeter.cores(before, after, None)
        self.runs.append({"label": label, "inside": inside, "rps": round(result.rps, 1), "p50_ms": result.p50_ms,
                          "p99_ms": result.p99_ms, "errors": result.errors, "cpu_cores": result.cpu})
        print(f"    {label:<40} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:8.2f} ms"
              f"  errors {result.error_total}  other-load {result.cpu.get('other', 0):.2f} cores", flush=True)
        return result

    def wrk_endpoint(self, ep: Endpoint, label: str, target: str, conns: int, inside: bool = False,
                     duration: int = DURATION) -> lib.WrkResult:
        return self.wrk(label, target, conns, ep.script, ep.args(label), duration, inside)

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("nginx_healthz", "/healthz", None),
            Endpoint("service_healthz", "/api/users/healthz", ("users:8000", "/healthz")),
            Endpoint("get_user", f"/api/users/{self.user_id}", ("users:8000", f"/{self.user_id}")),
            Endpoint("list_users", "/api/users", ("users:8000", "/")),
            Endpoint("create_user", "/api/users", ("users:8000", "/"), ("post_user",),
                     lambda label: (f"{self.id}-{label}",)),
            Endpoint("create_order", "/api/orders", ("orders:8000", "/"), ("post_order",),
                     lambda label: (self.user_id,)),
        ]

    def load(self) -> None:
        ceilings: dict[str, float] = {}
        for ep in self.endpoints():
            run = functools.partial(self.wrk_endpoint, ep)
            run(f"{ep.name}.warmup", ep.path, MAX, duration=1)
            if ep.name == "create_user":  # the replica's lag under this write load
                top = self.lag_during(functools.partial(run, f"{ep.name}.max", ep.path, MAX))
            else:
                top = run(f"{ep.name}.max", ep.path, MAX)
            fixed = run(f"{ep.name}.c{FIXED}", ep.path, FIXED)
            for suffix, r in (("", top), (f".c{FIXED}", fixed)):
                ceiling = ceilings.setdefault(suffix, r.rps)
                self.results.add(f"rps.{ep.name}{suffix}", r.rps, "req/s")
                self.results.add(f"p50_ms.{ep.name}{suffix}", r.p50_ms, "ms")
                self.results.add(f"p99_ms.{ep.name}{suffix}", r.p99_ms, "ms")
                self.results.add(f"errors.{ep.name}{suffix}", r.error_total, "count",
                                 None if not r.error_total else json.dumps(r.errors))
                self.results.add(f"ratio_to_ceiling.{ep.name}{suffix}", r.rps / ceiling, "ratio",
                                 "requests/s over nginx's own /healthz at the same concurrency, same run")
            self.cpu_per_request(ep.name, top)
            if ep.direct:
                self.direct(ep, run)

    def cpu_per_request(self, name: str, r: lib.WrkResult) -> None:
        """CPU time the stack's containers spent per request (from their cgroups): unlike req/s, it
        barely moves when other work shares the machine, so it is the figure to compare runs by."""
        per = {k: 1000 * v / r.rps for k, v in r.cpu.items() if k in self.cpu.container_pids and r.rps}
        total = sum(per.values())
        if not total:
            return
        self.results.add(f"cpu_ms_per_request.{name}", total, "ms", "stack containers at max throughput: " +
                         ", ".join(f"{k} {v:.2f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v >= 0.01))
        self.results.add(f"rps_per_core.{name}", 1000 / total, "req/s per core", "1000 / cpu_ms_per_request")
        if name == "get_user" and per.get("users"):
            self.results.add("cpu_ms_per_request.get_user.users", per["users"], "ms", "users container only")
            self.results.add("rps_bound_by_users_cpu.get_user", 1000 / per["users"], "req/s",
                             "the most users can serve within its 1-CPU limit at this CPU cost per request")

    def direct(self, ep: Endpoint, run) -> None:
        """The service without nginx (wrk inside the app network), then nginx from the same place,
        interleaved in short rounds so that both see the same contention: the proxy's own cost."""
        host, path = ep.direct
        top = run(f"{ep.name}.direct.max", host + path, MAX, inside=True)
        self.results.add(f"rps.direct.{ep.name}", top.rps, "req/s")
        self.results.add(f"p50_ms.direct.{ep.name}", top.p50_ms, "ms")
        self.results.add(f"p99_ms.direct.{ep.name}", top.p99_ms, "ms")
        self.results.add(f"errors.direct.{ep.name}", top.error_total, "count")
        levels = [FIXED] + ([1] if ep.name == "get_user" else [])
        for conns in levels:
            direct, proxied = [], []
            for i in range(ROUNDS):
                direct.append(run(f"{ep.name}.direct.c{conns}.{i}", host + path, conns, inside=True, duration=ROUND))
                proxied.append(run(f"{ep.name}.nginx_inside.c{conns}.{i}", "nginx:8080" + ep.path, conns,
                                   inside=True, duration=ROUND))
            d50 = lib.median([r.p50_ms for r in direct])
            n50 = lib.median([r.p50_ms for r in proxied])
            self.results.add(f"p50_ms.direct.{ep.name}.c{conns}", d50, "ms")
            self.results.add(f"rps.direct.{ep.name}.c{conns}", lib.median([r.rps for r in direct]), "req/s")
            self.results.add(f"p50_ms.nginx_inside.{ep.name}.c{conns}", n50, "ms",
                             "through nginx, wrk in the same place as for the direct calls")
            overhead = 100 * (n50 - d50) / d50
            name = f"proxy_overhead_p50_pct.{ep.name}.c{conns}"
            self.results.add(name, overhead, "%", f"p50 {n50:.2f} ms through nginx vs {d50:.2f} ms direct, "
                             f"median of {ROUNDS} interleaved rounds")
            if ep.name == "get_user" and conns == FIXED:
                self.results.add("proxy_overhead_p50_pct", overhead, "%",
                                 f"GET by id at {conns} connections: {n50:.2f} ms through nginx vs {d50:.2f} ms direct")

    def lag_during(self, load) -> lib.WrkResult:
        """pg_stat_replication.replay_lag on the primary every 50 ms while `load` runs."""
        count = DURATION * 20
        query = ("select coalesce(round(extract(epoch from replay_lag) * 1000, 3)::text, 'null') "
                 f"from pg_stat_replication \\watch i=0.05 c={count}\n")
        sampler = subprocess.Popen(
            ["docker", "compose", "-p", self.name, "exec", "-T", "db-primary", "psql", "-XAtq", "-U", "postgres"],
            cwd=self.workdir, env=self.stack.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        out = {}

        def read():
            out["stdout"], out["stderr"] = sampler.communicate(query, timeout=DURATION + 60)

        reader = threading.Thread(target=read)
        reader.start()
        result = load()
        reader.join(DURATION + 60)
        samples = [float(v) for v in out.get("stdout", "").split() if re.fullmatch(r"[0-9.]+", v)]
        self.raw("replication-lag.txt", out.get("stdout", "") + out.get("stderr", ""))
        if not samples:
            raise RuntimeError(f"no replay_lag samples: {out.get('stderr', '')[-500:]}")
        self.results.add("replication_lag_ms.p50", lib.percentile(samples, 50), "ms")
        self.results.add("replication_lag_ms.p99", lib.percentile(samples, 99), "ms",
                         f"pg_stat_replication.replay_lag every 50 ms during create-user at max throughput, "
                         f"{len(samples)} samples")
        self.results.add("replication_lag_ms.max", max(samples), "ms")
        return result

    def half_load(self) -> None:
        """GET by id at half its max rate: wrk's delay() paces each connection; a short run first
        measures the loop's own time so the delay can be set for the target rate."""
        top = self.results.get("rps.get_user")
        rate = top / 2
        conns = FIXED
        path = f"/api/users/{self.user_id}"
        pause = 1000 * conns / rate
        probe = self.wrk("get_user.half_load.calibrate", path, conns, ("paced",), (round(pause),), duration=2)
        loop_ms = 1000 * conns / probe.rps - round(pause) if probe.rps else 0
        pause = max(0, round(1000 * conns / rate - loop_ms))
        r = self.wrk("get_user.half_load", path, conns, ("paced",), (pause,))
        self.results.add("rps.get_user_half_load", r.rps, "req/s", f"target {rate:.0f} req/s ({conns} connections, "
                         f"{pause} ms pause after each response)")
        self.results.add("p50_ms.get_user_half_load", r.p50_ms, "ms")
        self.results.add("p99_ms.get_user_half_load", r.p99_ms, "ms", f"at {r.rps:.0f} req/s")
        self.results.add("errors.get_user_half_load", r.error_total, "count")
        total = sum(int(self.results.get(n) or 0) for n in
                    ("errors.get_user", f"errors.get_user.c{FIXED}", "errors.get_user_half_load"))
        self.results.add("errors.get_user_total", total, "count", "GET by id through nginx: max, fixed, half load")

    def profile(self) -> None:
        """py-spy on the services while they serve GET by id (users) and create order (orders, the
        costliest request): which code the CPU runs. Only when a GET-by-id target is missed (auto)."""
        missed = [n for n in ("rps.get_user", "p99_ms.get_user_half_load")
                  if any(i["name"] == n and i.get("met") is False for i in self.results.items)]
        if PROFILE == "never" or (PROFILE == "auto" and not missed):
            return
        spy = Path(sys.executable).parent / "py-spy"
        if not spy.exists() or os.geteuid() != 0:
            self.run["profile"] = {"skipped": "py-spy needs root here and tests/bench/requirements.txt installed"}
            return
        self.run["profile"] = {
            "why": f"targets missed: {', '.join(missed) or 'none (BENCH_PROFILE=always)'}",
            "how": "py-spy record --gil (only the thread holding the GIL is sampled: where the CPU goes), "
                   "100 Hz, non-blocking, on every gunicorn worker, during the endpoint at max throughput "
                   "through nginx",
            "profiles": [self.profile_one(spy, "users", Endpoint("get_user", f"/api/users/{self.user_id}", None)),
                         self.profile_one(spy, "orders", self.endpoints()[-1])],
        }

    def profile_one(self, spy: Path, service: str, ep: Endpoint) -> dict:
        out = RAW / f"profile-{service}-{ep.name}.txt"
        argv = [str(spy), "record", "--pid", str(self.cpu.container_pids[service]), "--subprocesses", "--gil",
                "--rate", "100", "--duration", str(DURATION - 1), "--format", "raw", "--nonblocking",
                "--output", str(out)]
        spy_proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(0.5)
        r = self.wrk_endpoint(ep, f"{ep.name}.profiled", ep.path, MAX)
        spy_log = spy_proc.communicate(timeout=60)[0].strip()
        summary = lib.summarize_profile(out.read_text() if out.exists() else "")
        summary.update(service=service, endpoint=ep.name, rps=round(r.rps, 1),
                       py_spy=spy_log.splitlines()[-2] if spy_log.count("\n") else spy_log)
        return summary

    # ---- the floor ----------------------------------------------------------------------------

    def floor(self) -> None:
        """The service against the least Python can do (tests/bench/floor.py, mounted into the users
        container for this phase only): same image, gunicorn settings, CPU limit and nginx. Each
        endpoint runs on the floor, then on the service right after, so both see the same machine."""
        endpoints = {ep.name: ep for ep in self.endpoints()}
        measured = {"get_user": endpoints["get_user"], "healthz": endpoints["service_healthz"]}
        override = self.workdir / "bench-users-floor.yaml"
        override.write_text("services:\n  users:\n    environment: {SERVICE_NAME: floor}\n"
                            f"    volumes: [\"{self.workdir / 'tests/bench/floor.py'}:/app/floor.py:ro\"]\n")
        per_request: dict[str, dict[str, float]] = {"floor": {}, "service": {}}
        for app, files in (("floor", ("-f", "compose.yaml", "-f", override.name)), ("service", ())):
            self.stack.compose(*files, "up", "--detach", "--wait", "--wait-timeout", "120", "--no-deps", "users")
            self.refresh_meter()
            for name, ep in measured.items():
                self.wrk_endpoint(ep, f"floor.{app}.{name}.warmup", ep.path, MAX, duration=1)
                r = self.wrk_endpoint(ep, f"floor.{app}.{name}", ep.path, MAX)
                if r.error_total:
                    raise RuntimeError(f"{app} {name}: {r.error_total} errors ({r.errors})")
                per_request[app][name] = 1000 * r.cpu.get("users", 0) / r.rps
                self.results.add(f"cpu_ms_per_request.{name}.{app}_users", per_request[app][name], "ms",
                                 f"users container, {r.rps:.0f} req/s through nginx")
        for name in measured:
            floor_ms, ours = per_request["floor"][name], per_request["service"][name]
            self.results.add(f"floor_ratio.{name}", ours / floor_ms, "ratio",
                             f"users CPU per request {ours:.3f} ms over the floor's {floor_ms:.3f} ms "
                             "(bare WSGI + psycopg prepared statement), adjacent runs")

    # ---- CPU scaling --------------------------------------------------------------------------

    def sizing(self) -> str:
        """gunicorn's "sizing: N workers x T threads (why)" line, logged at start. Read it soon after
        a start: the json-file log rotates (10 MB x 3) under load and the first lines go."""
        lines = [ln for ln in self.stack.logs("users").splitlines() if "sizing:" in ln]
        if not lines:
            raise RuntimeError("users logged no 'sizing:' line")
        return re.search(r"sizing: ([^\"]*)", lines[-1]).group(1)

    def scaling(self) -> None:
        path = f"/api/users/{self.user_id}"
        workers = {}
        for cpus in (1, 2):
            if cpus == 2:
                override = self.workdir / "bench-users-2cpu.yaml"
                override.write_text('services:\n  users:\n    deploy:\n      resources:\n'
                                    '        limits: {cpus: "2"}\n')
                t = time.monotonic()
                self.stack.compose("-f", "compose.yaml", "-f", override.name, "up", "--detach", "--wait",
                                   "--wait-timeout", "120", "--no-deps", "users")
                self.results.add("recreate_s.users", time.monotonic() - t, "s",
                                 "users recreated with 2 CPUs, to healthy")
                self.refresh_meter()
            size = self.sizing() if cpus == 2 else self.users_sizing
            workers[cpus] = int(size.split()[0])
            self.run.setdefault("workers", {})[f"users_{cpus}cpu"] = size
            log(f"   users limited to {cpus} CPU(s): {size}")
            self.wrk(f"get_user.{cpus}cpu.warmup", path, MAX, duration=1)
            r = self.wrk(f"get_user.{cpus}cpu", path, MAX)
            used = r.cpu.get
            self.results.add(f"rps.get_user_{cpus}cpu", r.rps, "req/s",
                             f"through nginx; users: {size}; users used {used('users', 0):.2f} cores, the host "
                             f"{used('host_busy', 0):.2f} of {os.cpu_count()} (other work: {used('other', 0):.2f})")
            self.results.add(f"workers.users_{cpus}cpu", workers[cpus], "workers", size)
            d = self.wrk(f"get_user.{cpus}cpu.direct", f"users:8000/{self.user_id}", MAX, inside=True)
            self.results.add(f"rps.direct.get_user_{cpus}cpu", d.rps, "req/s", "wrk inside the app network")
        self.results.add("cpu_scaling.get_user_2cpu_over_1cpu",
                         self.results.get("rps.get_user_2cpu") / self.results.get("rps.get_user_1cpu"), "ratio",
                         "through nginx; on 2 cores shared with nginx, Postgres and wrk, 2.0 is out of reach")
        self.results.add("workers.follow_cgroup", int(workers[2] > workers[1]), "yes=1",
                         f"{workers[1]} workers at 1 CPU, {workers[2]} at 2 CPUs")

    # ---- failover -----------------------------------------------------------------------------

    def failover(self) -> None:
        attempts: list[dict] = []
        stop = threading.Event()

        def writer():
            n = 0
            while not stop.is_set():
                n += 1
                entry = {"t0": time.monotonic(), "email": f"failover-{self.id}-{n}@example.com"}
                try:
                    status, body = self.request("POST", "/api/users", {"email": entry["email"], "name": "Failover"})
                    entry.update(status=status, id=body.get("id") if status == 201 else None)
                except Exception as exc:  # refused, reset, timeout: not acknowledged
                    entry.update(status=None, error=exc.__class__.__name__)
                entry["t1"] = time.monotonic()
                attempts.append(entry)
                time.sleep(0.02)

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        time.sleep(2)
        env = {**self.stack.env, "COMPOSE": f"docker compose -p {self.name}"}
        proc = subprocess.Popen(["./db/failover.sh"], cwd=self.workdir, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        t_script = time.monotonic()
        lines, t_stop, promoted = [], None, None
        for line in proc.stdout:
            now = time.monotonic()
            lines.append(f"+{now - t_script:6.3f}s {line.rstrip()}")
            match = re.search(r"promoting (\S+), fencing (\S+)", line)
            if match:
                t_stop, promoted = now, match.group(1)  # the stop of the primary starts right after this line
        status = proc.wait(timeout=180)
        t_done = time.monotonic()
        while time.monotonic() - t_done < 3:  # writes keep going a little after the script returns
            time.sleep(0.1)
        stop.set()
        thread.join(10)
        self.raw("failover.log", "\n".join(lines) + "\n\n" + "\n".join(json.dumps(a) for a in attempts))
        if status != 0 or t_stop is None:
            raise RuntimeError(f"db/failover.sh exited {status}:\n" + "\n".join(lines[-15:]))

        ok = [a for a in attempts if a["status"] == 201]
        after = [a for a in attempts if a["t1"] > t_stop]
        failed = [a for a in after if a["status"] != 201]
        if failed:
            last_failure = max(a["t1"] for a in failed)
            first_ok = next((a for a in after if a["status"] == 201 and a["t0"] >= last_failure), None)
        else:  # no write failed: the longest wait for an acknowledgement after the stop began
            first_ok = max(after, key=lambda a: a["t1"] - a["t0"], default=None)
        if first_ok is None:
            raise RuntimeError("no write succeeded after the failover")
        failover_s = first_ok["t1"] - t_stop
        acked = [a["id"] for a in ok]
        present = self.present_ids(promoted, acked + [None])
        lost = [i for i in acked if i not in present]
        unacked_present = self.present_emails(promoted, [a["email"] for a in attempts if a["status"] != 201])
        self.results.add("failover_s", failover_s, "s",
                         f"from the stop of the primary (failover.sh: 'promoting') to the first write accepted "
                         f"through nginx after the outage; {len(failed)} writes refused meanwhile")
        self.results.add("failover_lost_writes", len(lost), "count",
                         f"{len(acked)} writes acknowledged (201), all looked up on the new primary {promoted}"
                         + (f"; lost ids: {lost[:20]}" if lost else ""))
        self.results.add("failover.writes_acknowledged", len(acked), "count")
        self.results.add("failover.unacknowledged_but_stored", unacked_present, "count",
                         "failed from the client's view, yet committed (ambiguous outcome: allowed)")
        self.run["failover"] = {"script": [ln.split(" ", 1)[1] for ln in lines], "promoted": promoted}

        t = time.monotonic()  # back to two nodes: `up` restarts the old primary, which rewinds to a standby
        self.stack.compose("up", "--detach", "--wait", "--wait-timeout", "300", "--no-recreate")
        self.results.add("failover_rejoin_s", time.monotonic() - t, "s",
                         "`up` after the failover: the fenced old primary rejoins as a standby (pg_rewind)")
        old = "db-primary" if promoted == "db-replica" else "db-replica"
        role = self.stack.exec(old, "psql", "-XAtq", "-U", "postgres", "-c", "select pg_is_in_recovery()",
                               check=False).stdout.strip()
        self.results.add("failover.old_primary_is_standby", int(role == "t"), "yes=1")

    def present_ids(self, node: str, ids: list) -> set[int]:
        wanted = [i for i in ids if i is not None]
        if not wanted:
            return set()
        sql = f"select id from users where id in ({','.join(map(str, wanted))})"
        out = self.stack.exec(node, "psql", "-XAtq", "-U", "postgres", "-d", "users", "-c", sql).stdout
        return {int(v) for v in out.split()}

    def present_emails(self, node: str, emails: list[str]) -> int:
        if not emails:
            return 0
        quoted = ",".join("'" + e.replace("'", "''") + "'" for e in emails)
        out = self.stack.exec(node, "psql", "-XAtq", "-U", "postgres", "-d", "users", "-c",
                              f"select count(*) from users where email in ({quoted})").stdout
        return int(out.strip() or 0)

    # ---- the run ------------------------------------------------------------------------------

    def describe(self) -> None:
        def cmd(*argv):
            r = subprocess.run(argv, capture_output=True, text=True, check=False)
            return (r.stdout.strip() or r.stderr.strip()).splitlines()[0] if (r.stdout or r.stderr) else ""

        meminfo = Path("/proc/meminfo").read_text()
        model = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        bases = self.stack.env
        commit = cmd("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
        dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"],
                                    capture_output=True, text=True, check=False).stdout.strip())
        self.run.update({
            "value": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cpus": os.cpu_count(),
            "cpu_model": model.group(1) if model else platform.processor(),
            "memory_gib": round(int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) / 2**20, 1),
            "kernel": platform.release(),
            "docker": cmd("docker", "version", "--format", "{{.Server.Version}}"),
            "compose": cmd("docker", "compose", "version", "--short"),
            "wrk": f"{self.wrk_image} (Debian's wrk package)",
            "bases": bases.get("BASES", "?"),
            "base_images": {k: bases.get(k) for k in ("PYTHON_BASE", "POSTGRES_BASE", "NGINX_BASE")},
            "commit": commit + (" + uncommitted changes" if dirty else ""),
            "loadavg_start": os.getloadavg(),
            "settings": {"duration_s": DURATION, "round_s": ROUND, "fixed_connections": FIXED,
                         "max_connections": MAX, "wrk_threads": 1,
                         "nginx_rate_limit": f"NGINX_RATE_LIMIT={RATE_LIMIT} NGINX_RATE_BURST={RATE_BURST} "
                                             "(raised so that the limit does not cap the load)"},
            "placement": (f"wrk: 1 thread in containers pinned to CPU {self.wrk_cpu} (--cpuset-cpus): one on "
                          "the host's network, through the published port and docker-proxy; one on the app "
                          "network for direct calls. Stack containers keep their compose "
                          "CPU limits (nginx 1, users 1, orders 1, each db node 1) and float over all CPUs."),
        })

    def finish(self) -> int:
        runs = self.run.get("wrk_runs", [])
        others = [r["cpu_cores"].get("other", 0) + r["cpu_cores"].get("steal", 0)
                  for r in runs if r["cpu_cores"] and not r["inside"]]
        self.run["contention"] = {
            "loadavg_end": os.getloadavg(),
            "other_cores_avg_during_load": round(sum(others) / len(others), 2) if others else None,
            "note": "CPU used by processes outside this stack and wrk (plus hypervisor steal) during the wrk "
                    "runs: the machine was shared when this is well above 0",
        }
        self.run["bench_s"] = round(time.monotonic() - self.started)
        missing = self.results.missing()
        if missing:
            self.run["errors"].append(f"missing figures: {', '.join(missing)}")
        document = [self.run] + self.results.items
        (RAW / "benchmarks.json").write_text(json.dumps(document, indent=1) + "\n")
        # Every wrk run with its CPU shares stays in the raw copy; the committed file keeps the figures.
        document = [{k: v for k, v in self.run.items() if k != "wrk_runs"}] + self.results.items
        if self.run["errors"]:
            log(f"phases failed, docs/benchmarks.* left unchanged; this run: {RAW / 'benchmarks.json'}")
            for error in self.run["errors"]:
                log(f"  {error.splitlines()[0]}")
            return 1
        (DOCS / "benchmarks.json").write_text(json.dumps(document, indent=1) + "\n")
        (DOCS / "benchmarks.md").write_text(benchreport.render(document))
        missed = [i for i in self.results.items if i.get("met") is False]
        log(f"wrote docs/benchmarks.json and docs/benchmarks.md in {self.run['bench_s']} s; "
            f"targets missed: {', '.join(i['name'] for i in missed) or 'none'}")
        return 1 if self.results.get("failover_lost_writes") else 0


def main() -> int:
    bench = Bench()
    bench.preflight()
    shutil.rmtree(RAW, ignore_errors=True)
    RAW.mkdir(parents=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # teardown runs on `kill` too
    try:
        bench.snapshot()
        bench.describe()
        log(f"placement: {bench.run['placement']}")
        log(f"nginx rate limit raised for this stack: {bench.run['settings']['nginx_rate_limit']}")
        if os.environ.get("BENCH_SKIP_BUILD"):
            log(f"BENCH_SKIP_BUILD: using images bench/*:{bench.tag}")
        elif not bench.phase("build", bench.build):
            return bench.finish()
        bench.phase("images", bench.image_sizes)
        if not bench.phase("startup", bench.startup):
            return bench.finish()
        bench.phase("wrk image", bench.build_wrk_image)
        bench.phase("seed", bench.seed)
        bench.phase("load", bench.load)
        bench.phase("half load", bench.half_load)
        bench.phase("profile", bench.profile)
        bench.phase("floor", bench.floor)
        bench.phase("cpu scaling", bench.scaling)
        bench.phase("failover", bench.failover)
        return bench.finish()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        bench.teardown()


if __name__ == "__main__":
    sys.exit(main())

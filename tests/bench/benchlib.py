"""Helpers of the benchmark (tests/bench/bench.py): wrk runs, CPU accounting, BuildKit logs, results.

Pure functions (parsing, percentiles, targets) are unit-tested in test_benchlib.py; the rest talks
to Docker and to processes on this host only (loopback and the project's own containers).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
LUA = HERE / "lua"

# ---------------------------------------------------------------------------------------------
# Results and targets


# The project's targets (2 cores, everything on one machine). name -> (operator, threshold).
TARGETS: dict[str, tuple[str, float]] = {
    "rps.get_user": (">=", 1000),
    "cpu_ms_per_request.get_user": ("<=", 1.6),
    "cpu_ms_per_request.get_user.users": ("<=", 1.0),
    "cpu_ms_per_request.healthz.service_users": ("<=", 0.4),
    "floor_ratio.get_user": ("<=", 1.5),
    "cpu_ms_per_request.create_order": ("<=", 5),
    "rps.create_order": (">=", 300),
    "cpu_ms_per_request.list_users": ("<=", 2.5),
    "p99_ms.get_user_half_load": ("<=", 25),
    "errors.get_user_total": ("==", 0),
    "proxy_overhead_p50_pct": ("<=", 15),
    "rebuild_s.code_change": ("<=", 15),
    "rebuild.dependency_layers_reused": ("==", 1),
    "image_added_mb.users": ("<=", 60),
    "image_added_mb.orders": ("<=", 60),
    "image_added_mb.nginx": ("<=", 1),
    "up_to_healthy_s": ("<=", 30),
    "failover_s": ("<=", 15),
    "failover_lost_writes": ("==", 0),
    "cpu_scaling.get_user_2cpu_over_1cpu": (">", 1.0),
    "workers.follow_cgroup": ("==", 1),
}

# The names every run reports, so that runs can be compared.
REQUIRED = (
    "rps.nginx_healthz", "rps.service_healthz", "rps.get_user", "rps.list_users", "rps.create_user",
    "rps.create_order", "p99_ms.get_user_half_load", "proxy_overhead_p50_pct", "rebuild_s.code_change",
    "image_added_mb.users", "image_added_mb.orders", "image_added_mb.nginx", "up_to_healthy_s",
    "failover_s", "failover_lost_writes", "replication_lag_ms.p99", "rps.get_user_1cpu",
    "rps.get_user_2cpu", "floor_ratio.get_user", "floor_ratio.healthz",
)


def meets(value: float, op: str, threshold: float) -> bool:
    return {
        ">=": value >= threshold, "<=": value <= threshold, ">": value > threshold,
        "<": value < threshold, "==": value == threshold,
    }[op]


class Results:
    """The list written to docs/benchmarks.json: {"name", "value", "unit"} (+ target, met, detail)."""

    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, name: str, value: float | None, unit: str, detail: str | None = None) -> None:
        if isinstance(value, float):
            value = round(value, 3 if abs(value) < 100 else 1)
        entry: dict = {"name": name, "value": value, "unit": unit}
        if name in TARGETS:
            op, threshold = TARGETS[name]
            entry["target"] = f"{op} {threshold:g}"
            entry["met"] = value is not None and meets(value, op, threshold)
        if detail:
            entry["detail"] = detail
        self.items = [i for i in self.items if i["name"] != name] + [entry]
        mark = "" if "met" not in entry else ("  [target met]" if entry["met"] else "  [TARGET MISSED]")
        print(f"  {name} = {value} {unit}{mark}" + (f"  ({detail})" if detail else ""), flush=True)

    def get(self, name: str):
        return next((i["value"] for i in self.items if i["name"] == name), None)

    def missing(self) -> list[str]:
        have = {i["name"] for i in self.items}
        return [n for n in REQUIRED if n not in have]


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (no interpolation): the value below which p % of samples fall."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


# ---------------------------------------------------------------------------------------------
# wrk


@dataclass
class WrkResult:
    label: str
    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    errors: dict[str, int]
    cpu: dict[str, float] = field(default_factory=dict)  # cores used during the run, by consumer

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def error_total(self) -> int:
        return sum(self.errors.values())


def parse_wrk(label: str, output: str) -> WrkResult:
    """The BENCH_JSON line printed by lua/report.lua's done()."""
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON "):])
            break
    else:
        raise RuntimeError(f"wrk run {label}: no summary line in its output:\n{output[-2000:]}")
    return WrkResult(
        label=label, requests=data["requests"], duration_s=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000, p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000, mean_ms=data["mean_us"] / 1000,
        errors={k: data[k] for k in ("connect", "read", "write", "status", "timeout")},
    )


def lua_script(dest: Path, *snippets: str) -> Path:
    """report.lua plus the named snippets, as one file (wrk takes a single -s script)."""
    parts = [(LUA / "report.lua").read_text()] + [(LUA / f"{s}.lua").read_text() for s in snippets]
    path = dest / ("+".join(snippets or ("get",)) + ".lua")
    path.write_text("\n".join(parts))
    path.chmod(0o644)
    return path


# ---------------------------------------------------------------------------------------------
# CPU accounting: who used the two cores during a run


CLK_TCK = os.sysconf("SC_CLK_TCK")


def host_cpu_seconds() -> tuple[float, float]:
    """(busy, steal) CPU seconds of all cores since boot (/proc/stat). Steal is time the hypervisor
    gave to other machines: not ours, but it slows us down like any contention."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    values += [0] * (8 - len(values))
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


def cgroup_cpu_seconds(pid: int) -> float | None:
    """CPU seconds used by the container (cgroup) of a process: v1 cpuacct.usage or v2 cpu.stat."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "cpuacct" in controllers.split(","):
            for mount in ("cpuacct", "cpu,cpuacct", "cpuacct,cpu"):
                usage = Path(f"/sys/fs/cgroup/{mount}{path}/cpuacct.usage")
                if usage.exists():
                    return int(usage.read_text()) / 1e9
        if controllers == "":
            stat = Path(f"/sys/fs/cgroup{path}/cpu.stat")
            if stat.exists():
                for row in stat.read_text().splitlines():
                    if row.startswith("usage_usec "):
                        return int(row.split()[1]) / 1e6
    return None


def process_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def docker_proxy_pids(port: int) -> list[int]:
    """docker-proxy processes forwarding the published port (userland proxy), if any."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"docker-proxy") and str(port).encode() in argv:
            pids.append(int(proc.name))
    return pids


class CpuMeter:
    """Snapshots of the stack's containers, the load generator and the whole host."""

    def __init__(self, container_pids: dict[str, int], proxy_pids: list[int], load_pids: list[int] = ()):
        self.container_pids = container_pids  # the stack's: what cpu_ms_per_request adds up
        self.proxy_pids = proxy_pids
        self.load_pids = list(load_pids)  # wrk's containers: reported as "wrk", never as the stack

    def snapshot(self) -> dict[str, float]:
        busy, steal = host_cpu_seconds()
        snap = {"_t": time.monotonic(), "_host": busy, "_steal": steal}
        for name, pid in self.container_pids.items():
            value = cgroup_cpu_seconds(pid)
            if value is not None:
                snap[name] = value
        load = [cgroup_cpu_seconds(p) for p in self.load_pids]
        if load and None not in load:
            snap["wrk"] = sum(load)
        proxy = [process_cpu_seconds(p) for p in self.proxy_pids]
        if proxy and None not in proxy:
            snap["docker-proxy"] = sum(proxy)
        return snap

    @staticmethod
    def cores(before: dict[str, float], after: dict[str, float], wrk_seconds: float | None) -> dict[str, float]:
        """Average cores used between two snapshots, per consumer; 'other' is everything else on
        the host (other people's work: the contention behind the figures)."""
        wall = after["_t"] - before["_t"]
        if wall <= 0:
            return {}
        used = {k: (after[k] - before[k]) / wall for k in after if not k.startswith("_") and k in before}
        if wrk_seconds is not None:
            used["wrk"] = wrk_seconds / wall
        host = (after["_host"] - before["_host"]) / wall
        used["other"] = max(0.0, host - sum(used.values()))
        used["host_busy"] = host
        used["steal"] = (after["_steal"] - before["_steal"]) / wall
        return {k: round(v, 3) for k, v in used.items()}


# ---------------------------------------------------------------------------------------------
# BuildKit progress (docker compose --progress plain build)


@dataclass
class BuildStep:
    service: str
    stage: str
    instruction: str
    cached: bool


STEP = re.compile(r"^#(\d+) \[(\S+)(?: ([^\]]*))?\] (.+)$")


def parse_buildkit(log: str) -> list[BuildStep]:
    """Every Dockerfile step of a plain-progress log, and whether BuildKit took it from its cache.

    A step is "#N [service stage i/n] INSTRUCTION", later "#N CACHED" or "#N DONE 1.2s". BuildKit
    runs identical steps of two services once (one #N, listed under the first service): those
    count once. Internal steps (load build definition, context, metadata) are left out."""
    names: dict[str, tuple[str, str, str]] = {}
    cached: set[str] = set()
    for line in log.splitlines():
        match = STEP.match(line)
        if match:
            number, service, stage, instruction = match.groups()
            if stage and stage != "internal" and not instruction.startswith("exporting"):
                names.setdefault(number, (service, stage, instruction))
            continue
        parts = line.split(" ", 2)
        if len(parts) >= 2 and parts[0].startswith("#") and parts[1] == "CACHED":
            cached.add(parts[0][1:])
    steps = []
    for number, (service, stage, instruction) in names.items():
        if instruction.startswith("FROM "):
            continue  # the base image: never built here
        steps.append(BuildStep(service, stage, " ".join(instruction.split())[:120], number in cached))
    return steps


def dependency_step(step: BuildStep) -> bool:
    """A step that installs dependencies (what a code-only change must not redo)."""
    return bool(re.search(r"pip install|requirements|python3 -m venv|apt-get|COPY --from=build", step.instruction))


# ---------------------------------------------------------------------------------------------
# py-spy profile summary


# Frames every sample of a gunicorn thread has: left out of the inclusive ranking.
PLUMBING = {"threading", "concurrent", "gunicorn", "selectors", "contextlib", "<module>", "?"}


def summarize_profile(raw: str, top: int = 12) -> dict:
    """py-spy's raw (collapsed) output -> share of samples by leaf package and by function.

    "Self" = the frame on top of the stack (where the CPU was); "inclusive" = anywhere in it."""
    total = 0
    by_package: dict[str, int] = {}
    incl_package: dict[str, int] = {}
    self_fn: dict[str, int] = {}
    incl_fn: dict[str, int] = {}
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue
        total += n
        leaf = frames[-1]
        self_fn[leaf] = self_fn.get(leaf, 0) + n
        by_package[_package(leaf)] = by_package.get(_package(leaf), 0) + n
        for package in {_package(f) for f in frames}:
            incl_package[package] = incl_package.get(package, 0) + n
        for frame in set(frames):
            if _package(frame) not in PLUMBING:
                incl_fn[frame] = incl_fn.get(frame, 0) + n

    def share(table: dict[str, int]) -> list[list]:
        ranked = sorted(table.items(), key=lambda kv: -kv[1])[:top]
        return [[name, round(100 * n / total, 1)] for name, n in ranked]

    return {"samples": total, "self_by_package_pct": share(by_package),
            "inclusive_by_package_pct": share({k: v for k, v in incl_package.items() if k not in PLUMBING}),
            "self_by_function_pct": share(self_fn), "inclusive_by_function_pct": share(incl_fn)}


def _package(frame: str) -> str:
    """'Connection.execute (sqlalchemy/engine/base.py:1419)' -> 'sqlalchemy'; stdlib -> its module."""
    match = re.search(r"\(([^():]+)(?::\d+)?\)$", frame)
    if not match:
        return "?"
    path = match.group(1)
    if path.startswith("<"):  # code generated at run time, e.g. "<sqlalchemy generated __init__ ...>"
        return "sqlalchemy" if "sqlalchemy" in path else "<generated>"
    if "/" not in path and not path.endswith(".py"):
        return "?"
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    head = path.split("/", 1)[0]
    return head.removesuffix(".py") or "?"


def run_with_cpu(argv: list[str], timeout: float, **kwargs) -> tuple[int, str, float]:
    """Run a command; return (exit status, stdout+stderr, CPU seconds it used: user + system).

    os.wait4 gives the rusage of exactly this child (wrk), not of every child of the bench."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, **kwargs)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
        out.seek(0)
        return proc.returncode, out.read().decode(errors="replace"), usage.ru_utime + usage.ru_stime

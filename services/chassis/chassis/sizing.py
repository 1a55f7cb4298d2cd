"""Size the server from the container's cgroup limits, not from the host.

``os.cpu_count()`` in a container reports the host's CPUs: on a 64-core node a 1-CPU container
would start 129 workers and be killed for memory. The quota and memory limit are what the
container really has (cgroup v2: cpu.max, memory.max; v1: cpu.cfs_quota_us, memory.limit_in_bytes).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
UNLIMITED_MEMORY = 1 << 60  # v1 reports "no limit" as a huge page-aligned number
WORKER_MEMORY_BYTES = 80 << 20  # measured RSS of one worker with its threads and pools, rounded up
MEMORY_SHARE_FOR_WORKERS = 0.7  # the rest: master process, page cache, bursts


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_limit(root: Path = CGROUP) -> float | None:
    """CPUs granted by the CPU quota, or None when there is no quota."""
    v2 = _read(root / "cpu.max")
    if v2:
        quota, _, period = v2.partition(" ")
        return None if quota == "max" else int(quota) / int(period or 100000)
    quota, period = _read(root / "cpu" / "cpu.cfs_quota_us"), _read(root / "cpu" / "cpu.cfs_period_us")
    if quota and period and int(quota) > 0:
        return int(quota) / int(period)
    return None


def memory_limit(root: Path = CGROUP) -> int | None:
    """Bytes of memory the container may use, or None when unlimited."""
    value = _read(root / "memory.max") or _read(root / "memory" / "memory.limit_in_bytes")
    if not value or value == "max" or int(value) >= UNLIMITED_MEMORY:
        return None
    return int(value)


def available_cpus() -> int:
    """CPUs this process may run on (cpuset/affinity), the ceiling for any quota."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ServerSize:
    workers: int
    threads: int
    cpus: float
    memory_bytes: int | None
    reason: str


def server_size(cpus: float | None, memory_bytes: int | None, host_cpus: int, threads: int = 4) -> ServerSize:
    """Two worker processes per granted CPU (one runs Python while the other waits on I/O), each
    with a few threads for database and network waits, capped so that workers fit in memory."""
    effective = min(cpus, host_cpus) if cpus else host_cpus
    workers = max(1, math.ceil(effective) * 2)
    reason = f"{effective:g} CPU(s) from {'cgroup quota' if cpus else 'affinity (no quota)'}"
    if memory_bytes:
        fit = max(1, int(memory_bytes * MEMORY_SHARE_FOR_WORKERS // WORKER_MEMORY_BYTES))
        if fit < workers:
            workers, reason = fit, reason + f", capped to {fit} by {memory_bytes >> 20} MiB memory limit"
    return ServerSize(workers, threads, effective, memory_bytes, reason)


def from_environment(environ=os.environ, root: Path = CGROUP) -> ServerSize:
    size = server_size(cpu_limit(root), memory_limit(root), available_cpus())
    workers, threads = environ.get("WEB_CONCURRENCY"), environ.get("GUNICORN_THREADS")
    if workers or threads:
        size = ServerSize(int(workers or size.workers), int(threads or size.threads), size.cpus,
                          size.memory_bytes, "WEB_CONCURRENCY/GUNICORN_THREADS set explicitly")
    return size

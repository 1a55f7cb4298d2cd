import pytest

from chassis import sizing

pytestmark = pytest.mark.unit


def write(root, files):
    for name, value in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value)
    return root


def test_cgroup_v2_quota_and_memory(tmp_path):
    root = write(tmp_path, {"cpu.max": "150000 100000\n", "memory.max": str(512 << 20)})
    assert sizing.cpu_limit(root) == 1.5
    assert sizing.memory_limit(root) == 512 << 20


def test_cgroup_v2_unlimited(tmp_path):
    root = write(tmp_path, {"cpu.max": "max 100000", "memory.max": "max"})
    assert sizing.cpu_limit(root) is None and sizing.memory_limit(root) is None


def test_cgroup_v1_quota_and_unlimited_memory(tmp_path):
    root = write(tmp_path, {"cpu/cpu.cfs_quota_us": "200000", "cpu/cpu.cfs_period_us": "100000",
                            "memory/memory.limit_in_bytes": "9223372036854771712"})
    assert sizing.cpu_limit(root) == 2
    assert sizing.memory_limit(root) is None


def test_cgroup_v1_no_quota(tmp_path):
    root = write(tmp_path, {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"})
    assert sizing.cpu_limit(root) is None


@pytest.mark.parametrize(("cpus", "memory_mib", "host", "workers"), [
    (1, None, 64, 2),        # the quota, not the 64 host CPUs, decides
    (2, None, 64, 4),
    (0.5, None, 64, 2),      # a fraction still needs one running and one waiting worker
    (None, None, 2, 4),      # no quota: the CPUs we may run on
    (4, 256, 64, 2),         # memory caps the count: 256 MiB * 0.7 / 80 MiB = 2
    (4, 64, 64, 1),          # never below one
    (8, None, 2, 4),         # a quota above the CPUs we have is capped by them
])
def test_workers_follow_the_container_limits(cpus, memory_mib, host, workers):
    size = sizing.server_size(cpus, memory_mib and memory_mib << 20, host)
    assert size.workers == workers
    assert size.threads == 4


def test_explicit_environment_overrides(tmp_path):
    size = sizing.from_environment({"WEB_CONCURRENCY": "3", "GUNICORN_THREADS": "8"}, root=tmp_path)
    assert (size.workers, size.threads) == (3, 8)

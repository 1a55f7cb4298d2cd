"""The benchmark's parsing and reporting (tests/bench): no Docker, no wrk needed."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import benchlib
import benchreport

pytestmark = pytest.mark.unit

WRK_OUTPUT = """Running 6s test @ http://127.0.0.1:1234/api/users/1
  1 threads and 32 connections
Requests/sec:   1200.00
BENCH_JSON {"requests":7200,"duration_us":6000000,"bytes":1,"connect":0,"read":1,"write":0,"status":2,"timeout":0,\
"p50_us":2500,"p90_us":4000,"p99_us":12000,"max_us":30000,"mean_us":2800.5}
"""

BUILD_LOG = """#6 [nginx 1/7] FROM docker.io/airgap/nginx:1.30-forky
#6 DONE 0.0s
#9 [nginx internal] load build context
#9 DONE 0.0s
#10 [nginx 2/7] RUN groupadd --system edge
#10 CACHED
#28 [users build 5/5] RUN /opt/venv/bin/pip install -r /tmp/requirements.txt
#28 CACHED
#36 [users stage-1 2/8] RUN useradd app
#36 CACHED
#38 [users stage-1 8/8] COPY users/users/ users/
#38 DONE 0.1s
#19 [users] exporting to image
#19 DONE 3.8s
#36 [orders stage-1 2/8] RUN useradd app
#36 CACHED
"""


def test_wrk_summary_line_is_parsed():
    r = benchlib.parse_wrk("x", WRK_OUTPUT)
    assert r.rps == 1200 and r.p50_ms == 2.5 and r.p99_ms == 12
    assert r.error_total == 3 and r.errors["status"] == 2


def test_wrk_output_without_summary_is_an_error():
    with pytest.raises(RuntimeError, match="no summary line"):
        benchlib.parse_wrk("x", "unable to connect")


def test_buildkit_log_tells_rebuilt_from_cached_steps():
    steps = benchlib.parse_buildkit(BUILD_LOG)
    # FROM, internal and export steps are not Dockerfile work; a step shared by two services counts once
    assert len(steps) == 4
    rebuilt = [s for s in steps if not s.cached]
    assert [(s.service, s.instruction) for s in rebuilt] == [("users", "COPY users/users/ users/")]
    assert not any(benchlib.dependency_step(s) for s in rebuilt)
    assert benchlib.dependency_step(next(s for s in steps if "pip install" in s.instruction))


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert benchlib.percentile(values, 50) == 50 and benchlib.percentile(values, 99) == 99
    assert benchlib.percentile([], 50) is None and benchlib.median([3, 1, 2, 10]) == 2.5


def test_results_carry_targets():
    results = benchlib.Results()
    results.add("rps.get_user", 900.0, "req/s")
    results.add("failover_lost_writes", 0, "count")
    results.add("rps.get_user", 1100.0, "req/s")  # a second value replaces the first
    by_name = {i["name"]: i for i in results.items}
    assert by_name["rps.get_user"] == {"name": "rps.get_user", "value": 1100.0, "unit": "req/s",
                                       "target": ">= 1000", "met": True}
    assert by_name["failover_lost_writes"]["met"] is True
    assert "rps.list_users" in results.missing() and "rps.get_user" not in results.missing()


def test_profile_summary_ranks_packages_and_functions():
    raw = ("process 1:\"gunicorn\";Thread.run (threading.py:994);get_user (users/api.py:83);"
           "Session.get (sqlalchemy/orm/session.py:3934) 3\n"
           "process 1:\"gunicorn\";Thread.run (threading.py:994);emit (logging/__init__.py:1154) 1\n")
    summary = benchlib.summarize_profile(raw)
    assert summary["samples"] == 4
    assert summary["self_by_package_pct"][0] == ["sqlalchemy", 75.0]
    assert ["users", 75.0] in summary["inclusive_by_package_pct"]
    assert all(not name.startswith("Thread.run") for name, _ in summary["inclusive_by_function_pct"])
    assert benchlib._package("__init__ (<sqlalchemy generated __init__ for class Order>:4)") == "sqlalchemy"
    assert benchlib._package("__init__ (__init__)") == "?"
    assert benchlib._package("emit (logging/__init__.py:1154)") == "logging"


def test_cpu_shares_leave_the_rest_to_other_work():
    before = {"_t": 0.0, "_host": 10.0, "_steal": 0.0, "users": 1.0}
    after = {"_t": 2.0, "_host": 13.0, "_steal": 0.2, "users": 2.0}
    cores = benchlib.CpuMeter.cores(before, after, wrk_seconds=0.4)
    assert cores == {"users": 0.5, "wrk": 0.2, "other": 0.8, "host_busy": 1.5, "steal": 0.1}


def test_lua_scripts_define_the_hooks_wrk_calls(tmp_path):
    script = benchlib.lua_script(tmp_path, "post_user").read_text()
    assert "done = function(summary, latency, requests)" in script and "request = function()" in script


def test_report_renders_every_figure_and_the_targets():
    document = [
        {"name": "run", "value": "2026-01-01T00:00:00Z", "unit": "date", "date": "2026-01-01T00:00:00Z",
         "settings": {"fixed_connections": 8, "max_connections": 32}, "errors": []},
        {"name": "rps.get_user", "value": 1234.5, "unit": "req/s", "target": ">= 1000", "met": True},
        {"name": "p50_ms.get_user.c8", "value": 3.2, "unit": "ms"},
        {"name": "failover_s", "value": 20.0, "unit": "s", "target": "<= 15", "met": False},
    ]
    markdown = benchreport.render(document)
    assert "| `rps.get_user` | 1,234 req/s | >= 1000 | yes |" in markdown
    assert "| `failover_s` | 20.0 s | <= 15 | **no** |" in markdown
    assert "`GET /api/users/{id}` (primary) | 1,234 |" in markdown

"""The health checks the sync waves rely on report what the object's status says."""

import pytest
from k8s_health import health, health_script

pytestmark = pytest.mark.unit

ROLE = "postgresql.cnpg.io_DatabaseRole"
META = {"name": "users", "generation": 2}


@pytest.mark.parametrize(
    "status,expected",
    [
        (None, "Progressing"),
        ({"applied": True, "observedGeneration": 2}, "Healthy"),
        ({"applied": True, "observedGeneration": 1}, "Progressing"),
        ({"applied": False, "observedGeneration": 2, "message": "role users: permission denied"}, "Degraded"),
    ],
    ids=["new", "applied", "stale", "failed"],
)
def test_database_role_health(status, expected):
    obj = {"metadata": META} | ({"status": status} if status else {})
    assert health(health_script(ROLE), obj)[0] == expected


def test_degraded_names_the_reason():
    obj = {"metadata": META, "status": {"applied": False, "observedGeneration": 2, "message": "permission denied"}}
    assert health(health_script(ROLE), obj) == ("Degraded", "permission denied")


def test_a_check_that_never_degrades_is_caught():
    """The previous check (no Degraded branch) fails the 'failed' case above."""
    script = health_script(ROLE).replace('hs.status = "Degraded"', 'hs.status = "Progressing"')
    obj = {"metadata": META, "status": {"applied": False, "observedGeneration": 2, "message": "denied"}}
    assert health(script, obj)[0] != "Degraded"


@pytest.mark.parametrize(
    "child,expected",
    [
        (None, "Progressing"),
        ({"health": {"status": "Healthy"}}, "Healthy"),
        ({"health": {"status": "Degraded"}}, "Degraded"),
    ],
)
def test_application_health(child, expected):
    obj = {"metadata": {"name": "cnpg-operator"}} | ({"status": child} if child else {})
    assert health(health_script("argoproj.io_Application"), obj)[0] == expected

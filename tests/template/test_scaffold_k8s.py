"""The Copier scaffold of a new service (starter/scaffold/service/k8s/) has the shape of users: the
same short files, so `make service` adds a folder that the component completes."""

import pytest
from template_lib import ROOT as REPO

K8S = REPO / "k8s"

pytestmark = pytest.mark.unit

SCAFFOLD = REPO / "starter/scaffold/service/k8s/base/apps/{{ service_name }}"


def rendered_as(name: str) -> dict[str, str]:
    """The scaffold's files with service_name set (the only variable they use)."""
    return {
        p.name.removesuffix(".jinja"): p.read_text().replace("{{ service_name }}", name)
        for p in SCAFFOLD.glob("*.jinja")
    }


def test_scaffold_renders_users_as_users():
    scaffold = rendered_as("users")
    users = {p.name: p.read_text() for p in (K8S / "base/apps/users").iterdir()}
    assert scaffold == users, (
        f"starter/scaffold/service/k8s/base/apps drifted from k8s/base/apps/users: {sorted(set(scaffold) ^ set(users)) or [n for n in users if scaffold.get(n) != users[n]]}"
    )


def test_scaffold_uses_no_other_variable():
    for name, text in rendered_as("users").items():
        assert "{{" not in text and "{%" not in text, f"scaffold {name}: a template variable other than service_name"

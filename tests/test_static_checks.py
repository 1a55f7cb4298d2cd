"""Checks that need no running container: Dockerfiles lint clean, compose files are valid, and
every service folder is wired into the lists that cannot be globbed."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harness import ROOT, SERVICES

pytestmark = pytest.mark.unit
DOCKERFILES = sorted(ROOT.glob("*/Dockerfile"))  # db, nginx, services (one for every Python service)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint(dockerfile):
    hadolint = shutil.which("hadolint") or str(Path(__import__("sys").executable).parent / "hadolint")
    result = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_config_is_valid():
    result = subprocess.run(["docker", "compose", "config", "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_service_is_included_in_compose():
    included = yaml.safe_load((ROOT / "compose.yaml").read_text())["include"]
    assert sorted(f"services/{s}/compose.yaml" for s in SERVICES) == sorted(
        i for i in included if i.startswith("services/"))


def test_every_service_is_listed_in_kustomize():
    """kustomize `resources:` takes no glob either: each service folder must be listed, and each
    manifest file an overlay folder holds (make service adds k8s/overlays/prod/apps/<name>.yaml)."""
    apps = ROOT / "k8s/base/apps"
    listed = yaml.safe_load((apps / "kustomization.yaml").read_text())["resources"]
    assert sorted(s for s in SERVICES if s in listed) == SERVICES, f"k8s/base/apps/kustomization.yaml: {listed}"
    assert sorted(p.name for p in apps.iterdir() if p.is_dir()) == sorted(listed)
    for overlay in sorted(ROOT.glob("k8s/overlays/*/apps")):
        resources = yaml.safe_load((overlay / "kustomization.yaml").read_text()).get("resources", [])
        files = sorted(p.name for p in overlay.glob("*.yaml") if p.name != "kustomization.yaml")
        assert sorted(r for r in resources if not r.startswith("../")) == files, f"{overlay.relative_to(ROOT)}"


def test_only_nginx_publishes_ports():
    result = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    import json

    services = json.loads(result.stdout)["services"]
    assert [name for name, spec in services.items() if spec.get("ports")] == ["nginx"]
    for name, spec in services.items():
        nets = set(spec.get("networks", {}))
        if name == "nginx":
            assert "data" not in nets
        else:
            assert "edge" not in nets, f"{name} must not be on the published network"

"""Every Python service has one shape, kept once (see service_shape.py): a service folder holds
only its own files, its compose entries set only its own keys, and no two services share a block
of six lines that differ only by the service's name."""

from __future__ import annotations

import shutil

import pytest
import yaml

from harness import ROOT, SERVICES
from service_shape import OWN_COMPOSE_KEYS, shared_blocks, stray_files

pytestmark = pytest.mark.unit
FOLDERS = [ROOT / "services" / name for name in SERVICES]


def test_there_are_services():
    assert len(SERVICES) >= 2, SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_folder_holds_only_its_own_files(service):
    stray = stray_files(ROOT / "services" / service)
    assert not stray, (f"services/{service}/ holds {stray}: the shape every service shares lives once "
                       "(services/Dockerfile, the chassis, services/service-defaults.yaml)")


@pytest.mark.parametrize("service", SERVICES)
def test_compose_entries_set_only_their_own_keys(service):
    doc = yaml.safe_load((ROOT / "services" / service / "compose.yaml").read_text())
    assert set(doc["services"]) == {service, f"{service}-migrate"}
    for name, entry in doc["services"].items():
        shape = "migration" if name.endswith("-migrate") else "python-service"
        assert entry["extends"] == {"file": "../service-defaults.yaml", "service": shape}, name
        assert set(entry) <= OWN_COMPOSE_KEYS, f"{name}: {sorted(set(entry) - OWN_COMPOSE_KEYS)} belong in the defaults"
    assert doc["services"][service]["build"] == {"args": {"SERVICE": service}}


def test_no_two_services_share_a_block():
    shared = shared_blocks(FOLDERS)
    assert not shared, "the same lines, but for the service's name (move them to the shared shape):\n" + "\n".join(shared)


def test_the_guards_can_fail(tmp_path):
    """A copied block and a stray per-service Dockerfile are caught."""
    copies = []
    for folder in FOLDERS[:2]:
        copy = tmp_path / folder.name
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("__pycache__"))
        copies.append(copy)
    for copy in copies:
        (copy / "Dockerfile").write_text("".join(f"RUN echo {copy.name} step {n}\n" for n in range(6)))
    assert stray_files(copies[0]) == ["Dockerfile"]
    assert any("Dockerfile:1-6" in block for block in shared_blocks(copies))

"""Repository-wide pytest setup: put every service folder on sys.path (found by folder, so a new
service needs no edit here) and make sure each test declares its layer."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "tests"))  # shared test helpers (tests/harness.py)
for folder in sorted((ROOT / "services").iterdir()):
    if (folder / folder.name).is_dir() or folder.name == "chassis":
        sys.path.insert(0, str(folder))

LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config, items):
    for item in items:
        layers = [m.name for m in item.iter_markers() if m.name in LAYERS]
        if len(layers) != 1:
            raise pytest.UsageError(f"{item.nodeid}: mark it with exactly one of {LAYERS} (has {layers})")
        # Under `pytest -n 2 --dist loadgroup` (make test) the tests that need Docker run one after
        # the other in one worker, sharing its images and stacks, while the pure-Python layer runs
        # beside them in the other.
        if layers[0] != "unit":
            item.add_marker(pytest.mark.xdist_group("docker"))

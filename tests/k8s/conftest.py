"""Offline validation of k8s/ and .github/workflows/: no Docker, no cluster, no network.

The helpers (k8s_*.py) sit beside the tests; the repository runs pytest with
--import-mode=importlib, which does not put test folders on sys.path, so this does.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def pytest_configure(config):
    # Registered here too so this folder also runs on its own, outside the repository config.
    config.addinivalue_line("markers", "unit: fast test that needs no Docker")

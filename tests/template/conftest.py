"""Tests of the repository as a Copier template: generate, update, add a service.

Copier renders from git, so each session builds a throwaway template repository from this work
tree (tracked and untracked, not ignored, files) and tags it v0.1.0 there; no tag is ever
created in the real repository. Projects are generated into tmp dirs with non-default answers.
The helpers are in template_lib.py (importlib mode: this folder is put on sys.path here).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from template_lib import ROOT, build_template_repo, generate  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _template_preconditions():
    name = re.search(r"(?m)^name:\s*(\S+)", (ROOT / "compose.yaml").read_text())
    if not (ROOT / "copier.yml").is_file() or not name or name.group(1) != "shop":
        pytest.skip("not the template (no copier.yml, or configured with other names): nothing to test here")
    if shutil.which("git") is None:
        pytest.skip("git is needed to render a Copier template")
    try:
        import copier  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("copier is missing: pip install -r requirements-dev.txt")
        pytest.skip("copier is not installed (requirements-dev.txt)")


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory) -> Path:
    return build_template_repo(tmp_path_factory.mktemp("template") / "repo")


@pytest.fixture(scope="session")
def generated(template_repo, tmp_path_factory) -> Path:
    """One project with non-default answers, committed; tests that change it work on a copy."""
    return generate(template_repo, tmp_path_factory.mktemp("generated") / "acme-store")


@pytest.fixture
def project(generated, tmp_path) -> Path:
    copy = tmp_path / "acme-store"
    shutil.copytree(generated, copy, symlinks=True)
    return copy

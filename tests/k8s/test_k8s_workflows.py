"""GitHub Actions: schema-valid, pinned by SHA, least privilege, bounded, and a release path
that needs no edit when a service is added."""

import subprocess

import pytest
from k8s_gitops import check_release_workflow, check_workflow, workflow_files
from k8s_lib import REPO, tool

pytestmark = pytest.mark.unit

FILES = workflow_files()


def test_workflows_exist():
    assert {p.name for p in FILES} >= {"ci.yaml", "release.yaml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_schema(path):
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"{path.name}:\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_hardening(path):
    problems = check_workflow(path)
    assert not problems, "\n".join(problems)


def test_release_flow():
    problems = check_release_workflow(REPO / ".github/workflows/release.yaml")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "topic,words",
    [("branch protection", ["Branch protection", "bypass"]), ("pull secrets", ["imagePullSecrets", "docker-registry"])],
)
def test_release_prerequisites_are_documented(topic, words):
    readme = (REPO / "k8s/README.md").read_text()
    missing = [w for w in words if w not in readme]
    assert not missing, f"k8s/README.md: {topic} is not documented (missing {missing})"

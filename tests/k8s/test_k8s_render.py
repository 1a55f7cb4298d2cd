"""Every kustomization renders with the pinned kubectl's kustomize, without warnings."""

import re

import pytest
from k8s_lib import ENVIRONMENTS, K8S, NOT_RENDERED_OFFLINE, is_component, kustomization_dirs, render

pytestmark = pytest.mark.unit

RENDERED = [d for d in kustomization_dirs() if not is_component(d) and d not in NOT_RENDERED_OFFLINE]


@pytest.mark.parametrize("path", RENDERED)
def test_renders_without_warnings(path):
    result = render(path)
    assert result.returncode == 0, f"k8s/{path}: kubectl kustomize failed:\n{result.stderr}"
    assert result.stderr == "", f"k8s/{path}: kustomize warned:\n{result.stderr}"
    assert result.objects, f"k8s/{path}: rendered nothing"


@pytest.mark.parametrize("path", [d for d in kustomization_dirs() if is_component(d)])
def test_component_is_used(path):
    users = [
        d for d in RENDERED if f"components/{path.split('/', 1)[1]}" in (K8S / d / "kustomization.yaml").read_text()
    ]
    assert users, f"k8s/{path}: no overlay uses this component, so nothing renders or tests it"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_output_is_apply_ready(env):
    """What `kubectl kustomize k8s/overlays/<env>` prints is applied as-is: no placeholders
    left behind, no local-config objects, every namespaced object placed."""
    text = "\n".join(str(o) for o in render(f"overlays/{env}").objects)
    leftovers = sorted(set(re.findall(r"\b(NAMESPACE|REPOSITORY|REVISION|ENVIRONMENT|SERVICE_NAME|TODO|CHANGEME)\b", text)))
    assert not leftovers, f"overlays/{env}: placeholders left in the output: {leftovers}"
    assert "config.kubernetes.io/local-config" not in text


def test_excluded_folders_exist():
    for path, why in NOT_RENDERED_OFFLINE.items():
        assert (K8S / path / "kustomization.yaml").is_file(), f"k8s/{path} is excluded ({why}) but does not exist"

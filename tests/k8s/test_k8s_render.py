"""Every kustomization renders with the pinned kubectl's kustomize, without warnings."""

import re

import pytest
from k8s_lib import (
    ENVIRONMENTS,
    K8S,
    NOT_RENDERED_OFFLINE,
    OPTIONAL_COMPONENTS,
    Env,
    is_component,
    kustomization_dirs,
    ref,
    render,
    render_with_component,
)
from k8s_policy import all_violations

pytestmark = pytest.mark.unit

RENDERED = [d for d in kustomization_dirs() if not is_component(d) and d not in NOT_RENDERED_OFFLINE]


@pytest.mark.parametrize("path", RENDERED)
def test_renders_without_warnings(path):
    result = render(path)
    assert result.returncode == 0, f"k8s/{path}: kubectl kustomize failed:\n{result.stderr}"
    assert result.stderr == "", f"k8s/{path}: kustomize warned:\n{result.stderr}"
    assert result.objects, f"k8s/{path}: rendered nothing"


@pytest.mark.parametrize("path", [d for d in kustomization_dirs() if is_component(d) and d not in OPTIONAL_COMPONENTS])
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
    leftovers = sorted(
        set(re.findall(r"\b(NAMESPACE|REPOSITORY|REVISION|ENVIRONMENT|SERVICE_NAME|TODO|CHANGEME)\b", text))
    )
    assert not leftovers, f"overlays/{env}: placeholders left in the output: {leftovers}"
    assert "config.kubernetes.io/local-config" not in text


def test_excluded_folders_exist():
    for path, why in NOT_RENDERED_OFFLINE.items():
        assert (K8S / path / "kustomization.yaml").is_file(), f"k8s/{path} is excluded ({why}) but does not exist"


@pytest.mark.parametrize("component", sorted(OPTIONAL_COMPONENTS))
def test_optional_component(component, tmp_path):
    """An optional component renders on top of its overlay and breaks no rule there."""
    overlay = OPTIONAL_COMPONENTS[component]
    result = render_with_component(overlay, component, tmp_path)
    assert result.returncode == 0 and not result.stderr, f"k8s/{component}: {result.stderr}"
    env = Env(overlay.split("/")[1], [dict(o) for o in result.objects])
    assert any(ref(o) not in {ref(x) for x in render(overlay).objects} for o in env.objects), "it added nothing"
    problems = all_violations(env)
    assert not problems, "\n".join(problems)
